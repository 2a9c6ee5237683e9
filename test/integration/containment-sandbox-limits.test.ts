/**
 * One subagent's resource use never denies service to another: each child has its own
 * RLIMIT_NOFILE, so a child that opens files (or sockets) in a loop stops at EMFILE in its own
 * process, far below the parent's limit. Regression guard for the fd-exhaustion finding (the
 * child used to share the orchestrator's limit). And each child runs below the orchestrator's CPU
 * priority, so a burst of starting or spinning children cannot starve the parent's event loop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createOrchestrator } from '../../src/spawner/index.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import { SANDBOX_NICE } from '../../src/sandbox/command.js';
import type { IsolationLevel } from '../../src/sandbox/index.js';
import { makeConfig } from '../helpers/spawner-config.js';

const LEVELS: IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];
/** The documented default RLIMIT_NOFILE of a child. */
const DEFAULT_MAX_OPEN_FILES = 256;
/** Far above the per-child limit and far below this machine's: the loop ends one way or the other. */
const ATTEMPTS = 5000;

const OPENER = `import { openSync } from 'node:fs';
export default async (task) => {
  const fds = [];
  let code = null;
  for (let i = 0; i < task.attempts; i++) {
    try { fds.push(openSync(new URL(import.meta.url), 'r')); }
    catch (e) { code = e.code ?? String(e); break; }
  }
  return { opened: fds.length, code };
};
`;

const report = await detectIsolation();

for (const level of LEVELS) {
  void test(`${level}: a child opening files in a loop hits EMFILE at its own limit (${DEFAULT_MAX_OPEN_FILES})`, async (t) => {
    if (!report.available.includes(level)) {
      t.skip(`${level} is not available here`);
      return;
    }
    if (report.details.rlimit?.startsWith('prlimit not installed') === true) {
      t.skip('prlimit (util-linux) is not installed: children share the parent limit');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'sgtest-nofile-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'opener.mjs'), OPENER, { mode: 0o644 });
    const orchestrator = await createOrchestrator({
      config: makeConfig(
        {
          main: { role: 'parent', subagents: { allowAgents: ['opener'], maxConcurrent: 1, maxChildren: 1 } },
          opener: { entry: join(dir, 'opener.mjs'), constraints: { timeoutSeconds: 20 } },
        },
        { baseDir: dir },
      ),
      logger: pino({ level: 'silent' }),
      isolation: level,
    });
    try {
      const outcome = await orchestrator.run({
        parent: 'main',
        agent: 'opener',
        task: { attempts: ATTEMPTS },
      });
      assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
      const out = (outcome as { output?: { opened: number; code: string | null } }).output;
      assert.ok(out !== undefined);
      assert.equal(out.code, 'EMFILE', `no EMFILE after ${out.opened} files`);
      assert.ok(out.opened < DEFAULT_MAX_OPEN_FILES, `opened ${out.opened} files`);
      // Node itself holds a few dozen descriptors; the rest of the budget was the child's.
      assert.ok(out.opened > DEFAULT_MAX_OPEN_FILES / 2, `only ${out.opened} files before EMFILE`);
    } finally {
      await orchestrator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

const NICE_PROBE = `import { getPriority } from 'node:os';
export default async () => ({ nice: getPriority() });
`;

for (const level of LEVELS) {
  void test(`${level}: a child runs ${SANDBOX_NICE} nice levels below the orchestrator`, async (t) => {
    if (!report.available.includes(level)) {
      t.skip(`${level} is not available here`);
      return;
    }
    if (report.details.priority?.startsWith('nice not installed') === true) {
      t.skip('nice (coreutils) is not installed: children run at the orchestrator priority');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'sgtest-nice-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'probe.mjs'), NICE_PROBE, { mode: 0o644 });
    const orchestrator = await createOrchestrator({
      config: makeConfig(
        {
          main: { role: 'parent', subagents: { allowAgents: ['probe'], maxConcurrent: 1, maxChildren: 1 } },
          probe: { entry: join(dir, 'probe.mjs'), constraints: { timeoutSeconds: 20 } },
        },
        { baseDir: dir },
      ),
      logger: pino({ level: 'silent' }),
      isolation: level,
    });
    try {
      const own = getPriority();
      const outcome = await orchestrator.run({ parent: 'main', agent: 'probe', task: {} });
      assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
      const out = (outcome as { output?: { nice: number } }).output;
      assert.equal(out?.nice, Math.min(19, own + SANDBOX_NICE));
      assert.equal(getPriority(), own, "the orchestrator's own priority is untouched");
    } finally {
      await orchestrator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

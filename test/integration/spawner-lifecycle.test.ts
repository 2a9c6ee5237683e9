/**
 * A subagent's end, at every available isolation level: the wall-clock timeout is announced
 * through `ctx.signal` before the SIGKILL (a subagent that returns in time completes), the
 * agent's `subagent-guard/runtime` is the same module instance the bootstrap uses, and the exit
 * record reports how long the kill (reaped + sockets cut) and the whole teardown took.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import type { Orchestrator, ToolDefinition } from '../../src/spawner/types.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import { eventually, liveChildren, removeDir, tempEntries, writeAgents } from '../helpers/spawner-harness.js';
import { levelSkip } from '../helpers/levels.js';
import { repoRoot } from '../helpers/paths.js';

/** The compiled public runtime module next to the compiled spawner under test. */
const RUNTIME_URL = pathToFileURL(join(repoRoot, 'build', 'src', 'runtime', 'index.js')).href;

const AGENTS: Record<string, string> = {
  // Waits for ctx.signal (or 20 s) and reports when and why it fired.
  'notice.mjs': `export default (task, ctx) => new Promise((resolve) => {
  const t0 = Date.now();
  const t = setTimeout(() => resolve({ aborted: false }), 20000);
  ctx.signal.addEventListener('abort', () => {
    clearTimeout(t);
    resolve({ aborted: true, afterMs: Date.now() - t0, reason: String(ctx.signal.reason?.message ?? ctx.signal.reason) });
  });
});`,
  // Ignores the notice.
  'stubborn.mjs': `export default async () => { await new Promise((r) => setTimeout(r, 20000)); return 'late'; };`,
  // A tool error must be an instance of the class the public runtime module exports.
  'identity.mjs': `import { SubagentCallError, defineSubagent } from ${JSON.stringify(RUNTIME_URL)};
export default defineSubagent(async (task, ctx) => {
  try { await ctx.tools.call('failing', {}); return { threw: false }; }
  catch (e) { return { threw: true, same: e instanceof SubagentCallError, code: e.code }; }
});`,
  'denied.mjs': `export default async (task, ctx) => { await ctx.tools.call('forbidden', {}); return 'unreachable'; };`,
};

const failing: ToolDefinition = {
  description: 'always fails',
  inputSchema: { type: 'object' },
  handler: () => Promise.reject(new Error('deliberate tool failure')),
};
const forbidden: ToolDefinition = {
  description: 'not in any allowlist',
  inputSchema: { type: 'object' },
  handler: () => Promise.resolve(true),
};

let agentsDir = '';

before(() => {
  agentsDir = writeAgents();
  for (const [name, src] of Object.entries(AGENTS)) writeFileSync(join(agentsDir, name), src);
});

after(() => {
  removeDir(agentsDir);
});

function config() {
  const worker = (entry: string, timeoutSeconds = 15): AgentSpec => ({
    entry: join(agentsDir, entry),
    tools: { allowed: ['failing'] },
    constraints: { maxMemoryMb: 160, maxApiCalls: 10, timeoutSeconds },
  });
  return makeConfig(
    {
      main: {
        role: 'parent',
        subagents: { allowAgents: '*', maxConcurrent: 4, maxChildren: 8, maxSpawnsPerMinute: 1000 },
      },
      notice: worker('notice.mjs', 2),
      stubborn: worker('stubborn.mjs', 1),
      identity: worker('identity.mjs'),
      denied: worker('denied.mjs'),
    },
    { baseDir: agentsDir },
  );
}

for (const level of ['process', 'unshare', 'bubblewrap'] as const) {
  void describe(`subagent lifecycle at isolation level '${level}'`, { skip: levelSkip(level) }, () => {
    let orchestrator: Orchestrator | undefined;
    let audit: CollectedAudit;

    before(async () => {
      audit = collectAudit();
      orchestrator = await createOrchestrator({
        config: config(),
        logger: audit.logger,
        tools: { failing, forbidden },
        isolation: level,
      });
    });

    after(async () => {
      await orchestrator?.close();
      if (orchestrator === undefined) return;
      assert.ok(
        await eventually(() => liveChildren().length === 0),
        'no sandbox process may outlive its subagent',
      );
      // Only this file's sandboxes: other suites may share the temp dir.
      const ids = audit.events('subagent.spawn').map((r) => String(r['subagentId']).slice(0, 24));
      assert.ok(ids.length > 0);
      assert.deepEqual(
        tempEntries().filter((n) => ids.some((id) => n.startsWith(`sg-${id}-`))),
        [],
        'no sandbox directory may be left',
      );
    });

    void test(
      'ctx.signal fires before the wall-clock timeout; returning then completes',
      { timeout: 20_000 },
      async () => {
        assert.ok(orchestrator !== undefined, 'before() created the orchestrator');
        const o = await orchestrator.run({ parent: 'main', agent: 'notice', task: {} });
        assert.equal(o.status, 'completed', JSON.stringify(o));
        const out = (o as { output: { aborted: boolean; afterMs: number; reason: string } }).output;
        assert.equal(out.aborted, true);
        assert.match(out.reason, /timeout_seconds 2/);
        // Announced 10 % (0.2 s) before the 2 s timeout: well after the start, before the kill.
        assert.ok(out.afterMs > 500 && out.afterMs < 2000, `fired after ${out.afterMs} ms`);
      },
    );

    void test(
      'a subagent that ignores the notice is still killed at the timeout',
      { timeout: 20_000 },
      async () => {
        assert.ok(orchestrator !== undefined, 'before() created the orchestrator');
        const o = await orchestrator.run({ parent: 'main', agent: 'stubborn', task: {} });
        assert.equal(o.status === 'terminated' && o.reason, 'timeout', JSON.stringify(o));
      },
    );

    void test(
      'a tool error is the SubagentCallError class of subagent-guard/runtime (one runtime instance)',
      { timeout: 20_000 },
      async () => {
        assert.ok(orchestrator !== undefined, 'before() created the orchestrator');
        const o = await orchestrator.run({ parent: 'main', agent: 'identity', task: {} });
        assert.equal(o.status, 'completed', JSON.stringify(o));
        assert.deepEqual((o as { output: unknown }).output, {
          threw: true,
          same: true,
          code: 'SG_TOOL_FAILED',
        });
      },
    );

    void test(
      'the exit record of a violation reports the kill and the whole teardown',
      { timeout: 20_000 },
      async () => {
        assert.ok(orchestrator !== undefined, 'before() created the orchestrator');
        const h = orchestrator.spawn({ parent: 'main', agent: 'denied', task: {} });
        const o = await h.result;
        assert.equal(o.status === 'terminated' && o.reason, 'tool_denied', JSON.stringify(o));
        const exit = audit.events('subagent.exit').find((r) => r['subagentId'] === h.id);
        assert.ok(exit !== undefined, 'one exit record');
        const killMs = exit['killMs'];
        const teardownMs = exit['teardownMs'];
        assert.ok(typeof killMs === 'number' && killMs >= 0, `killMs ${String(killMs)}`);
        assert.ok(typeof teardownMs === 'number' && teardownMs >= killMs, `teardownMs ${String(teardownMs)}`);
        // The credential was revoked (sockets cut) before the outcome resolved.
        const revoke = audit.events('gateway.revoke').filter((r) => r['subagentId'] === h.id);
        assert.equal(revoke.length, 1);
      },
    );
  });
}

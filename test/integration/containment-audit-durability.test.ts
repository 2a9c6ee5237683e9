/**
 * Regression (issue 10, item 8): audit records written through the batching file writer were lost
 * when the orchestrator died: one refused request, 15 s of quiet, `kill -9`, and the file had 0
 * lines. A record must reach the kernel within AUDIT_FLUSH_INTERVAL_MS of the event, so a
 * SIGKILL ~300 ms later finds it on file. The audit writer is the same at every isolation level
 * (it runs in the orchestrator, never in a sandbox), so the orchestrator variant runs at 'process'.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { detectIsolation } from '../../src/sandbox/index.js';
import { sweepStaleCgroups } from '../../src/sandbox/park.js';
import { eventually, processesMatching } from '../helpers/spawner-harness.js';

const CHILD = join(import.meta.dirname, '..', 'helpers', 'audit-crash-child.js');
const detected = await detectIsolation();
const cgBase = /^v[12] at (.+)$/.exec(detected.details['cgroup'] ?? '')?.[1];

function records(file: string): { event?: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { event?: string });
}

async function killedAfterLogging(mode: 'logger' | 'orchestrator', file: string): Promise<number> {
  const child = spawn(process.execPath, [CHILD, mode, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = child.pid ?? 0;
  try {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    assert.ok(await eventually(() => out.includes('logged\n'), 20_000), 'the child logged its records');
    // Well above the 50 ms flush interval, far below any "quiet" period a crash could follow.
    await sleep(300);
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.equal(child.signalCode, 'SIGKILL', 'the child died by SIGKILL (no exit hook ran)');
    return pid;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

void describe('audit records survive a SIGKILLed orchestrator', () => {
  void test(
    'a single record of a bare audit logger is on file 300 ms after it was logged',
    { timeout: 30_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sgtest-audit-'));
      try {
        const file = join(dir, 'audit.log');
        await killedAfterLogging('logger', file);
        const got = records(file);
        assert.equal(got.length, 1, 'the one record reached the file');
        assert.equal(got[0]?.event, 'tool.decision');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  void test(
    "an orchestrator's start and refused-spawn records are on file after kill -9",
    { timeout: 30_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sgtest-audit-'));
      let pid = 0;
      try {
        const file = join(dir, 'audit.log');
        pid = await killedAfterLogging('orchestrator', file);
        const events = records(file).map((r) => r.event);
        assert.ok(
          events.includes('orchestrator.start'),
          `orchestrator.start on file (got ${events.join(', ')})`,
        );
        assert.ok(events.includes('subagent.spawn_denied'), `the refusal on file (got ${events.join(', ')})`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
        // The dead orchestrator's parked launcher exits on EOF; its empty cgroup is swept here.
        const parkMarker = `/sg-park-${pid}-`;
        await eventually(() => processesMatching(parkMarker).length === 0, 10_000);
        if (pid !== 0 && cgBase !== undefined && detected.cgroup !== null && existsSync(cgBase)) {
          const version = detected.cgroup;
          await eventually(() => {
            sweepStaleCgroups({ version, dir: cgBase });
            return readdirSync(cgBase).every((n) => !n.startsWith(parkMarker.slice(1)));
          }, 10_000);
        }
      }
    },
  );
});

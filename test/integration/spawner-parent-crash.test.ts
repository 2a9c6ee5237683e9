/**
 * Teardown when the orchestrator itself dies: a SIGKILLed parent runs none of its clean-up code,
 * so only the sandbox's own parent-death wiring (bubblewrap --die-with-parent, setpriv
 * --pdeathsig, the IPC channel closing) stands between its children and an orphaned process
 * that spins forever. Every isolation level available here is checked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { detectIsolation, sweepStaleSandboxDirs } from '../../src/sandbox/index.js';
import { sweepStaleCgroups } from '../../src/sandbox/park.js';
import { eventually, processesMatching, sandboxProcessesOf } from '../helpers/spawner-harness.js';
import { fixturesDir } from '../helpers/paths.js';

const CHILD = join(import.meta.dirname, '..', 'helpers', 'orchestrator-crash-child.js');
// The endless entry, copied to a directory of this run: its path (in the subagent's command line)
// names this run's subagents only, never those of another test run on the same host.
const RUN_DIR = mkdtempSync(join(tmpdir(), 'sgtest-crash-'));
chmodSync(RUN_DIR, 0o755);
const ENTRY = join(RUN_DIR, 'infinite-loop.mjs');
copyFileSync(join(fixturesDir, 'agents', 'infinite-loop.mjs'), ENTRY);
chmodSync(ENTRY, 0o644);
const MARKER = ENTRY;
after(() => {
  rmSync(RUN_DIR, { recursive: true, force: true });
});
/** The orchestrators this file started (and SIGKILLed): nothing of theirs may run afterwards. */
const owners: number[] = [];
/** Every live process of their sandboxes: by cgroup (named with the owner's pid) and by entry. */
const leftovers = (): number[] => [
  ...new Set([
    ...processesMatching(MARKER),
    ...owners.flatMap((pid) => sandboxProcessesOf(pid, { parked: true }).map((p) => p.pid)),
  ]),
];

const detected = await detectIsolation({ gvisor: process.env.SG_TEST_GVISOR !== '0' });
const cgBase = /^v[12] at (.+)$/.exec(detected.details['cgroup'] ?? '')?.[1];

void describe('a SIGKILLed orchestrator leaves no subagent process behind', () => {
  for (const level of ['gvisor', 'bubblewrap', 'unshare', 'process'] as const) {
    void test(`at isolation level '${level}'`, { timeout: 30_000 }, async (t) => {
      if (!detected.available.includes(level)) {
        t.skip(`isolation level '${level}' is not available on this machine`);
        return;
      }
      assert.deepEqual(leftovers(), [], 'nothing of an earlier row runs before this one');
      const child = spawn(process.execPath, [CHILD, level, ENTRY], { stdio: ['ignore', 'pipe', 'inherit'] });
      if (child.pid !== undefined) owners.push(child.pid);
      try {
        let out = '';
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (d: string) => (out += d));
        assert.ok(
          await eventually(() => out.includes('\n'), 20_000),
          'the orchestrator reported its subagents',
        );
        const { ids } = JSON.parse(out) as { ids: string[] };
        assert.equal(ids.length, 2);
        // Under gVisor the subagent's Node runs inside the Sentry, not as a host process: what the
        // host sees is runsc (run, sandbox, gofer), each naming the sandbox's directory or id.
        const spinning = (): number[] =>
          level === 'gvisor'
            ? ids.flatMap((id) => processesMatching(`sg-${id.slice(0, 24)}`))
            : processesMatching(MARKER);
        // "Running" is the spawner's state: the sandbox itself starts a moment later (launches are
        // spread over loop turns). Each sandbox has several host processes, so where cgroups say
        // which sandbox a process is in, wait for both sandboxes, not for two processes.
        const sandboxesUp = (): number =>
          new Set(
            sandboxProcessesOf(child.pid ?? -1)
              .map((p) => p.cgroup.split('.')[0] ?? '')
              .filter((id) => ids.includes(id)),
          ).size;
        assert.ok(
          await eventually(
            () => spinning().length >= 2 && (detected.cgroup === null || sandboxesUp() === 2),
            10_000,
          ),
          'both subagents are running their endless loop',
        );
        const parkMarker = `/sg-park-${child.pid}-`;
        if (detected.cgroup !== null) {
          assert.ok(
            await eventually(() => processesMatching(parkMarker).length === 1, 10_000),
            'the orchestrator keeps one parked launcher',
          );
        }
        child.kill('SIGKILL');
        await once(child, 'exit');
        assert.ok(
          await eventually(() => spinning().length === 0, 10_000),
          `every subagent process died with the orchestrator (left: ${spinning().join(', ')})`,
        );
        assert.ok(
          await eventually(() => leftovers().length === 0, 10_000),
          `no process is left in its sandboxes' cgroups (left: ${leftovers().join(', ')})`,
        );
        // Its parked launcher reads EOF on stdin and exits; the next orchestrator's sweep removes
        // the empty cgroup it leaves.
        assert.ok(
          await eventually(() => processesMatching(parkMarker).length === 0, 10_000),
          `the parked launcher died with the orchestrator (left: ${processesMatching(parkMarker).join(', ')})`,
        );
        if (cgBase !== undefined && detected.cgroup !== null && existsSync(cgBase)) {
          // Its two sandboxes' cgroups (by id) and its parked one: all empty now, all its own.
          const left = (): string[] =>
            readdirSync(cgBase).filter(
              (n) => n.startsWith(parkMarker.slice(1)) || ids.includes(n.split('.')[0] ?? ''),
            );
          const version = detected.cgroup;
          const sandboxes = (): string[] => left().filter((n) => !n.startsWith(parkMarker.slice(1)));
          assert.equal(sandboxes().length, 2, `the killed orchestrator left its sandboxes' cgroups`);
          // A SIGKILLed process leaves its cgroup asynchronously (and a non-empty cgroup is never
          // removed), so the sweep may need a few tries, as a later orchestrator's would.
          assert.ok(
            await eventually(() => {
              sweepStaleCgroups({ version, dir: cgBase });
              return left().length === 0;
            }, 10_000),
            `the sweep removed the dead orchestrator's cgroups (left: ${left().join(', ')})`,
          );
        }
        // The dead orchestrator could not delete its sandboxes' directories; the next one does.
        const dirsOf = (): string[] =>
          readdirSync(tmpdir()).filter((n) => ids.some((id) => n.startsWith(`sg-${id.slice(0, 24)}-`)));
        assert.equal(dirsOf().length, 2, 'the killed orchestrator left its two sandbox directories');
        const removed = sweepStaleSandboxDirs();
        assert.equal(removed.filter((p) => ids.some((id) => p.includes(`sg-${id.slice(0, 24)}-`))).length, 2);
        assert.deepEqual(dirsOf(), [], 'the sweep removed them');
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        for (const pid of leftovers()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    });
  }
});

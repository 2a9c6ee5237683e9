/**
 * Warm pools (`pool: { warm: N }`): sandboxes started before any spawn, each claimed by exactly one
 * subagent and discarded with it, refilled in the background, counted against the spawn quotas
 * only once claimed, torn down by close() and swept after a crashed orchestrator; a broken pool
 * leaves spawns on the cold path with an audited error. The lifecycle rows run at every isolation
 * level available here (gVisor's skip with the probe's reason); the failure rows at the strongest
 * default level. Sandbox processes are counted by their memory cgroup, which carries the owning
 * orchestrator's pid: another test run on the same host never counts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { validateAuditRecord } from '../../src/audit/record-schema.js';
import { SpawnDeniedError, SpawnerError } from '../../src/errors.js';
import { detectIsolation, sweepStaleSandboxDirs } from '../../src/sandbox/index.js';
import type { Launcher } from '../../src/sandbox/launcher.js';
import { createLocalLauncher } from '../../src/sandbox/local-launcher.js';
import { sweepStaleCgroups } from '../../src/sandbox/park.js';
import { createOrchestrator, type Orchestrator } from '../../src/spawner/index.js';
import { openOrchestrator } from '../../src/spawner/orchestrator.js';
import type { IsolationLevel } from '../../src/spawner/types.js';
import { levelSkip, probeGvisorLevel } from '../helpers/levels.js';
import { collectAudit } from '../helpers/spawner-audit.js';
import { makeConfig } from '../helpers/spawner-config.js';
import {
  eventually,
  liveChildren,
  processesMatching,
  removeDir,
  sandboxProcessesOf,
  writeAgents,
} from '../helpers/spawner-harness.js';

const detected = await detectIsolation();
await probeGvisorLevel();
const cgBase = /^v[12] at (.+)$/.exec(detected.details['cgroup'] ?? '')?.[1];
const CRASH_CHILD = join(import.meta.dirname, '..', 'helpers', 'pool-crash-child.js');

/** Reports what tells one process from another, and whether this module already ran in it. */
const PROBE = `export default async (task, ctx) => {
  if (task?.ms) await new Promise((r) => setTimeout(r, task.ms));
  const seen = globalThis.__sgSeen ?? 0;
  globalThis.__sgSeen = seen + 1;
  return { id: ctx.id, seen, origin: performance.timeOrigin, uptimeMs: process.uptime() * 1000 };
};`;

let dir = '';
let entry = '';
before(() => {
  dir = writeAgents();
  entry = join(dir, 'pool-probe.mjs');
  writeFileSync(entry, PROBE);
});
after(() => {
  removeDir(dir);
});

function config(
  warm: number,
  quotas: { maxConcurrent: number; maxChildren: number } = { maxConcurrent: 4, maxChildren: 8 },
): ReturnType<typeof makeConfig> {
  return makeConfig({
    main: { role: 'parent', subagents: { allowAgents: ['probe'], ...quotas } },
    probe: { entry, pool: { warm } },
  });
}

interface ProbeOutput {
  id: string;
  seen: number;
  origin: number;
  uptimeMs: number;
}

async function runProbe(o: Orchestrator, task: unknown = null): Promise<ProbeOutput> {
  const outcome = await o.run({ parent: 'main', agent: 'probe', task });
  assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
  return (outcome as { output: ProbeOutput }).output;
}

/** Records of the pool's events that do not match the published audit schema. */
function invalidRecords(records: readonly Record<string, unknown>[]): string[] {
  return records
    .filter((r) => r['event'] === 'pool.error' || r['event'] === 'subagent.exit')
    .flatMap((r) => {
      // The test logger is a bare pino; the orchestrator's own adds `service` and an ISO time.
      const v = validateAuditRecord({
        ...r,
        service: 'subagent-guard',
        time: new Date(Number(r['time'])).toISOString(),
      });
      return v.ok ? [] : [`${String(r['event'])}: ${v.issues.join('; ')}`];
    });
}

const full = (o: Orchestrator, n: number) => (): boolean => o.poolStats()[0]?.idle === n;

/** Cgroups of this process whose name starts with `warm-` (idle pooled sandboxes). */
function warmCgroups(): string[] {
  if (cgBase === undefined || !existsSync(cgBase)) return [];
  return readdirSync(cgBase).filter((n) => n.startsWith('warm-') && n.includes(`.${process.pid}-`));
}

/** Pooled sandboxes' directories whose owner marker names `ownerPid` (not another run's). */
function warmDirsOf(ownerPid: number): string[] {
  return readdirSync(tmpdir()).filter((n) => {
    if (!n.startsWith('sg-warm-')) return false;
    try {
      return readFileSync(join(tmpdir(), n, 'owner'), 'utf8').startsWith(`${ownerPid}:`);
    } catch {
      return false;
    }
  });
}

/**
 * The sandboxes of this process's orchestrators that have a live process, by cgroup (at gVisor the
 * entry runs inside the Sentry, not as a host process); without cgroups, processes running `entry`.
 */
function liveSandboxes(ownerPid = process.pid): string[] {
  if (detected.cgroup === null) return processesMatching(entry).map(String);
  return [...new Set(sandboxProcessesOf(ownerPid).map((p) => p.cgroup))];
}

/** Isolation request of a row: the level itself. */
function open(level: IsolationLevel, cfg: ReturnType<typeof makeConfig>, logger = collectAudit().logger) {
  return createOrchestrator({ config: cfg, logger, isolation: level });
}

const LEVELS: readonly IsolationLevel[] = ['gvisor', 'bubblewrap', 'unshare', 'process'];

/** Why a row cannot run at `level` here, or false. */
function rowSkip(level: IsolationLevel): string | false {
  const why = levelSkip(level);
  if (why !== false) return why;
  // Under gVisor the entry runs inside the Sentry: its sandboxes are counted by cgroup only.
  if (level === 'gvisor' && detected.cgroup === null)
    return 'no memory cgroup here to count gVisor sandboxes by';
  return false;
}

for (const level of LEVELS) {
  void describe(`warm pool at isolation level '${level}'`, { skip: rowSkip(level) }, () => {
    void test(
      'a spawn claims a pre-started sandbox, and the pool refills behind it',
      { timeout: 60_000 },
      async () => {
        const audit = collectAudit();
        const o = await open(level, config(2), audit.logger);
        try {
          assert.ok(await eventually(full(o, 2), 20_000), `pool filled: ${JSON.stringify(o.poolStats())}`);
          if (detected.cgroup !== null)
            assert.equal(warmCgroups().length, 2, 'each idle sandbox is in its own cgroup');
          // A pooled sandbox is idle once its runtime is up (under gVisor too, where runsc starts
          // well before Node inside does): its Node started before the spawn was asked for.
          await new Promise((r) => setTimeout(r, 50));
          const asked = performance.timeOrigin + performance.now();
          const out = await runProbe(o);
          assert.equal(out.seen, 0);
          assert.ok(out.origin < asked, `the child was started before the spawn (${asked - out.origin} ms)`);
          const exit = audit.events('subagent.exit').find((r) => r['subagentId'] === out.id);
          assert.equal(exit?.['warm'], true, 'subagent.exit says warm: true');
          assert.ok(await eventually(full(o, 2), 20_000), 'the pool refilled');
          const stats = o.poolStats()[0];
          assert.equal(stats?.claimed, 1);
          assert.equal(stats.misses, 0);
          assert.equal(stats.errors, 0);
          assert.deepEqual(audit.events('pool.error'), []);
          assert.deepEqual(invalidRecords(audit.records()), []);
        } finally {
          await o.close();
        }
      },
    );

    void test(
      'each pooled sandbox serves one subagent only and is discarded with it',
      { timeout: 90_000 },
      async () => {
        const audit = collectAudit();
        const o = await open(level, config(1), audit.logger);
        try {
          const outs: ProbeOutput[] = [];
          for (let i = 0; i < 3; i++) {
            assert.ok(await eventually(full(o, 1), 20_000), 'pool ready');
            outs.push(await runProbe(o));
          }
          assert.deepEqual(
            outs.map((x) => x.seen),
            [0, 0, 0],
            'the entry never ran before in the process it got',
          );
          assert.equal(new Set(outs.map((x) => x.origin)).size, 3, 'three different processes');
          const exits = audit.events('subagent.exit');
          assert.deepEqual(
            exits.map((r) => r['warm']),
            [true, true, true],
          );
          // Only the refilled one is alive: the three that served are gone.
          assert.ok(await eventually(full(o, 1), 20_000));
          assert.ok(
            await eventually(() => liveSandboxes().length === 1, 10_000),
            `one sandbox left: ${liveSandboxes().join(', ')}`,
          );
          assert.equal(o.poolStats()[0]?.claimed, 3);
        } finally {
          await o.close();
        }
      },
    );

    void test(
      'an idle pooled sandbox counts against no quota; a claimed one counts like a cold one',
      { timeout: 60_000 },
      async () => {
        const audit = collectAudit();
        // Two idle sandboxes, but room for one child only.
        const o = await open(level, config(2, { maxConcurrent: 1, maxChildren: 1 }), audit.logger);
        try {
          assert.ok(await eventually(full(o, 2), 20_000), 'the pool fills past maxChildren');
          const first = o.spawn({ parent: 'main', agent: 'probe', task: { ms: 1500 } });
          assert.throws(
            () => o.spawn({ parent: 'main', agent: 'probe', task: null }),
            (err: unknown) => err instanceof SpawnDeniedError && err.reason === 'children_exceeded',
            'the claimed sandbox holds the only child slot',
          );
          const done = await first.result;
          assert.equal(done.status, 'completed', JSON.stringify(done));
          const exit = audit.events('subagent.exit').find((r) => r['subagentId'] === done.id);
          assert.equal(exit?.['warm'], true);
          // The slot is free again once the claimed one ended.
          assert.ok(await eventually(full(o, 2), 20_000));
          assert.equal((await runProbe(o)).seen, 0);
          assert.equal(audit.events('subagent.spawn_denied').length, 1);
        } finally {
          await o.close();
        }
      },
    );

    void test(
      'close() discards the idle sandboxes: no process, directory or cgroup left',
      { timeout: 60_000 },
      async () => {
        const o = await open(level, config(3));
        assert.ok(await eventually(full(o, 3), 30_000), 'pool filled');
        assert.ok(
          await eventually(() => liveSandboxes().length >= 3, 10_000),
          `three idle sandboxes run: ${liveSandboxes().join(', ')}`,
        );
        await o.close();
        assert.deepEqual(liveSandboxes(), [], 'no pooled process survives close()');
        assert.deepEqual(
          sandboxProcessesOf(process.pid, { parked: true }),
          [],
          'nothing in any cgroup of ours',
        );
        assert.deepEqual(liveChildren(), [], 'no child of this process is left');
        assert.deepEqual(warmDirsOf(process.pid), [], 'their directories are removed');
        assert.deepEqual(warmCgroups(), [], 'their cgroups are removed');
      },
    );

    void test(
      'after a SIGKILLed orchestrator, its pooled sandboxes die and the start-up sweep removes the rest',
      { timeout: 150_000 },
      async () => {
        const child = spawn(process.execPath, [CRASH_CHILD, entry, level], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        // Its sandboxes, by cgroup (carrying its pid) or, without cgroups, by entry.
        const theirs = (): string[] => liveSandboxes(child.pid ?? -1);
        try {
          let out = '';
          child.stdout.setEncoding('utf8');
          child.stdout.on('data', (d: string) => (out += d));
          // Under a loaded CI host a gVisor sandbox can take several seconds to report ready.
          assert.ok(await eventually(() => out.includes('\n'), 75_000), 'the orchestrator filled its pool');
          assert.ok(
            await eventually(() => theirs().length >= 2, 10_000),
            `two idle pooled sandboxes run: ${theirs().join(', ')}`,
          );
          const owner = child.pid ?? -1;
          child.kill('SIGKILL');
          await once(child, 'exit');
          assert.ok(
            await eventually(() => theirs().length === 0, 10_000),
            `every pooled process died with the orchestrator (left: ${theirs().join(', ')})`,
          );
          assert.ok(
            warmDirsOf(owner).length >= 2,
            'the killed orchestrator left its pooled sandboxes’ directories',
          );
          sweepStaleSandboxDirs();
          assert.deepEqual(warmDirsOf(owner), [], 'the sweep removed them');
          if (cgBase !== undefined && detected.cgroup !== null && existsSync(cgBase)) {
            const version = detected.cgroup;
            const stale = (): string[] =>
              readdirSync(cgBase).filter((n) => n.startsWith('warm-') && n.includes(`.${owner}-`));
            assert.ok(
              await eventually(() => {
                sweepStaleCgroups({ version, dir: cgBase });
                return stale().length === 0;
              }, 10_000),
              `the sweep removed their cgroups (left: ${stale().join(', ')})`,
            );
          }
        } finally {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          for (const p of sandboxProcessesOf(child.pid ?? -1, { parked: true })) {
            try {
              process.kill(p.pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
        }
      },
    );
  });
}

void describe(`warm pool failures at isolation level '${detected.best}'`, () => {
  void test(
    'a spawn with another entry, or with the pool empty, starts cold',
    { timeout: 30_000 },
    async () => {
      const audit = collectAudit();
      const o = await createOrchestrator({ config: config(1), logger: audit.logger });
      try {
        assert.ok(await eventually(full(o, 1), 15_000));
        const other = await o.run({
          parent: 'main',
          agent: 'probe',
          task: null,
          entry: join(dir, 'echo.mjs'),
        });
        assert.equal(other.status, 'completed');
        const exit = audit.events('subagent.exit').find((r) => r['subagentId'] === other.id);
        assert.equal(
          exit?.['warm'],
          undefined,
          'another entry never gets a sandbox started for the agent’s own',
        );
        assert.equal(o.poolStats()[0]?.misses, 1);
        assert.equal(o.poolStats()[0]?.idle, 1, 'the pooled sandbox stays for a spawn it fits');
      } finally {
        await o.close();
      }
    },
  );

  void test(
    'a sandbox that died idle is audited and the spawn starts cold',
    { timeout: 30_000 },
    async () => {
      const audit = collectAudit();
      const o = await createOrchestrator({ config: config(1), logger: audit.logger });
      try {
        assert.ok(await eventually(full(o, 1), 15_000));
        for (const pid of processesMatching(entry)) process.kill(pid, 'SIGKILL');
        assert.ok(await eventually(() => processesMatching(entry).length === 0, 5000));
        await new Promise((r) => setTimeout(r, 200)); // the exit reaches the parent
        const out = await runProbe(o);
        const exit = audit.events('subagent.exit').find((r) => r['subagentId'] === out.id);
        assert.equal(exit?.['warm'], undefined, 'it ran cold');
        const errors = audit.events('pool.error');
        assert.equal(errors.length, 1);
        assert.equal(errors[0]?.['phase'], 'idle');
        assert.equal(errors[0]['agent'], 'probe');
        assert.ok(await eventually(full(o, 1), 15_000), 'the pool refilled');
        assert.deepEqual(invalidRecords(audit.records()), []);
      } finally {
        await o.close();
      }
      assert.deepEqual(liveChildren(), []);
    },
  );

  void test(
    'a pool whose starts fail is disabled with an audited error; spawns start cold',
    { timeout: 30_000 },
    async () => {
      const audit = collectAudit();
      const cfg = config(2);
      let attempts = 0;
      const o = await openOrchestrator({ config: cfg, logger: audit.logger }, async () => {
        const inner = await createLocalLauncher({ config: cfg });
        const broken: Launcher = {
          isolation: inner.isolation,
          report: inner.report,
          start: () => inner.start(),
          prepare: (req) => inner.prepare(req),
          prestart: () => {
            attempts += 1;
            return Promise.reject(new SpawnerError('SG_SANDBOX_LAUNCH', 'the sandbox could not be started'));
          },
          killAll: () => {
            inner.killAll();
          },
          close: () => inner.close(),
        };
        return broken;
      });
      try {
        assert.ok(await eventually(() => o.poolStats()[0]?.disabled === true, 10_000), 'the pool gave up');
        const errors = audit.events('pool.error');
        assert.equal(errors.length, 3, 'one record per failed start');
        assert.equal(attempts, 3);
        assert.ok(errors.every((r) => r['phase'] === 'prestart' && r['code'] === 'SG_SANDBOX_LAUNCH'));
        assert.equal(errors[2]?.['disabled'], true);
        const out = await runProbe(o);
        assert.equal(out.seen, 0);
        const exit = audit.events('subagent.exit').find((r) => r['subagentId'] === out.id);
        assert.equal(exit?.['warm'], undefined, 'it ran cold');
        assert.equal(o.poolStats()[0]?.misses, 1);
        assert.deepEqual(invalidRecords(audit.records()), []);
      } finally {
        await o.close();
      }
    },
  );
});

/**
 * The soak: many spawns of a mix of benign and hostile programs (test/fixtures/escape) at a fixed
 * concurrency through one orchestrator, then a census of everything that could leak — processes,
 * file descriptors, temp dirs, credentials, cgroups, gateway connections — and the parent's RSS
 * growth. Used by `scripts/soak.mjs` (the full run) and by `soak-ci.test.ts` (a short one in CI).
 */
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { IsolationLevel, Outcome } from '../../src/spawner/types.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import { repoRoot } from '../helpers/paths.js';
import {
  establishedOnPort,
  eventually,
  liveChildren,
  sandboxOwnerOf,
  sandboxProcessesOf,
  startLoopbackServer,
  tempEntries,
  testResolver,
} from '../helpers/spawner-harness.js';

const ESCAPE_DIR = join(repoRoot, 'test', 'fixtures', 'escape');
const ALLOWED = 'api.allowed.test';
const ALLOWED_IP = '127.0.0.2';
const TRAP_IP = '127.0.0.9';

/** Options of a soak run. */
export interface SoakOptions {
  /** Number of spawns. @default 1000 */
  readonly spawns?: number;
  /** Spawns in flight at once. @default 16 */
  readonly concurrency?: number;
  /** @default the strongest available level */
  readonly isolation?: IsolationLevel;
  /** Progress lines (e.g. console.error). */
  readonly progress?: (line: string) => void;
}

/** What a soak found. `ok` is false on any leak or unexpected outcome. */
export interface SoakSummary {
  readonly ok: boolean;
  readonly isolation: IsolationLevel;
  readonly node: string;
  readonly spawns: number;
  readonly concurrency: number;
  readonly wallSeconds: number;
  readonly spawnsPerSecond: number;
  readonly outcomes: Record<string, number>;
  readonly unexpected: { program: string; got: string; want: string }[];
  readonly leaks: {
    readonly processes: number[];
    readonly fds: { before: number; after: number };
    readonly tempDirs: string[];
    readonly credentials: number;
    readonly cgroups: string[];
    readonly gatewayConnections: number;
    readonly trapHits: number;
  };
  readonly parentRssMb: { before: number; after: number; growth: number; limit: number };
}

/** One program of the mix: weight, how to run it, what outcome is right. */
interface Mix {
  readonly program: string;
  readonly agent: string;
  readonly weight: number;
  readonly task: (ports: { trap: number; api: number }) => unknown;
  /** `completed`, `failed` or the termination reason. */
  readonly want: string;
}

const MIX: readonly Mix[] = [
  { program: 'benign.mjs', agent: 'hostile', weight: 40, task: () => ({ n: 1 }), want: 'completed' },
  { program: 'env-canary.mjs', agent: 'hostile', weight: 4, task: () => null, want: 'completed' },
  {
    program: 'fs-write-tmp.mjs',
    agent: 'hostile',
    weight: 6,
    task: () => ({ path: '/tmp/sg-soak-never-written' }),
    want: 'sandbox_violation',
  },
  {
    program: 'cp-spawn.mjs',
    agent: 'hostile',
    weight: 6,
    task: () => ({ marker: '/tmp/sg-soak-never-written' }),
    want: 'sandbox_violation',
  },
  { program: 'worker.mjs', agent: 'hostile', weight: 3, task: () => null, want: 'sandbox_violation' },
  { program: 'buffer-bomb.mjs', agent: 'bomber', weight: 5, task: () => null, want: 'memory_exceeded' },
  { program: 'heap-bomb.mjs', agent: 'bomber', weight: 2, task: () => null, want: 'memory_exceeded' },
  { program: 'cpu-loop.mjs', agent: 'spinner', weight: 2, task: () => null, want: 'timeout' },
  { program: 'ipc-garbage.mjs', agent: 'hostile', weight: 5, task: () => null, want: 'protocol_violation' },
  { program: 'kill-group.mjs', agent: 'hostile', weight: 4, task: () => null, want: 'failed' },
  {
    program: 'tool-flood.mjs',
    agent: 'hostile',
    weight: 4,
    task: () => ({ count: 2000 }),
    want: 'api_calls_exceeded',
  },
  { program: 'log-flood.mjs', agent: 'hostile', weight: 3, task: () => ({ count: 2000 }), want: 'completed' },
  {
    program: 'spawn-loop.mjs',
    agent: 'looper',
    weight: 4,
    task: () => ({ fanout: 5 }),
    want: 'spawn_denied',
  },
  { program: 'stdout-flood.mjs', agent: 'hostile', weight: 3, task: () => ({ mb: 4 }), want: 'completed' },
  {
    program: 'dispatcher-override.mjs',
    agent: 'hostile',
    weight: 4,
    task: (p) => ({ undici: UNDICI_PATH, origin: `http://${TRAP_IP}:${p.trap}/` }),
    want: 'egress_denied',
  },
  {
    program: 'fetch-through-gateway.mjs',
    agent: 'hostile',
    weight: 5,
    task: (p) => ({ url: `http://${ALLOWED}:${p.api}/small` }),
    want: 'completed',
  },
];

let UNDICI_PATH = '';

function kind(o: Outcome): string {
  return o.status === 'terminated' ? o.reason : o.status;
}

/** Deterministic weighted choice (a soak must be repeatable). */
function pick(i: number): Mix {
  const total = MIX.reduce((s, m) => s + m.weight, 0);
  let x = (i * 7919) % total;
  for (const m of MIX) {
    if (x < m.weight) return m;
    x -= m.weight;
  }
  return MIX[0] as Mix;
}

function agents(apiPort: number): Record<string, AgentSpec> {
  const network: AgentSpec['network'] = {
    allowedDomains: [ALLOWED],
    allowedPorts: [apiPort],
    allowedCidrs: [`${ALLOWED_IP}/32`],
  };
  const base = (over: AgentSpec = {}): AgentSpec => ({
    entry: join(ESCAPE_DIR, 'benign.mjs'),
    tools: { allowed: ['sanitized_parse'] },
    network,
    constraints: { maxMemoryMb: 192, maxApiCalls: 50, timeoutSeconds: 30 },
    ...over,
  });
  return {
    main: {
      role: 'parent',
      subagents: {
        allowAgents: '*',
        maxConcurrent: 64,
        maxChildren: 128,
        maxSpawnDepth: 2,
        maxSpawnsPerMinute: 1_000_000,
      },
    },
    hostile: base(),
    bomber: base({ constraints: { maxMemoryMb: 128, maxApiCalls: 50, timeoutSeconds: 30 } }),
    spinner: base({ constraints: { maxMemoryMb: 192, maxApiCalls: 50, timeoutSeconds: 1.5 } }),
    looper: base({
      subagents: {
        allowAgents: ['looper'],
        maxConcurrent: 2,
        maxChildren: 2,
        maxSpawnDepth: 2,
        maxSpawnsPerMinute: 1_000_000,
      },
    }),
  };
}

/** A pino sink that keeps only what the census needs (keeping every line would grow the RSS we measure). */
function countingLogger(): {
  logger: pino.Logger;
  registered: Set<string>;
  revoked: Set<string>;
  spawned: Set<string>;
} {
  const registered = new Set<string>();
  const revoked = new Set<string>();
  const spawned = new Set<string>();
  let partial = '';
  const sink = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      const lines = (partial + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'))).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('"gateway.re') && !line.includes('"subagent.spawn"')) continue;
        const rec = JSON.parse(line) as { event?: string; subagentId?: string };
        const id = String(rec.subagentId);
        if (rec.event === 'gateway.register') registered.add(id);
        else if (rec.event === 'gateway.revoke') revoked.add(id);
        else if (rec.event === 'subagent.spawn') spawned.add(id);
      }
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), registered, revoked, spawned };
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

function rssMb(): number {
  return Math.round((process.memoryUsage().rss / (1024 * 1024)) * 10) / 10;
}

/**
 * Live processes that belong to one of `ids` (argv or cwd mention it), that are in a sandbox
 * cgroup of this orchestrator (named with this process's pid), or that run our runtime on the
 * corpus — unless their cgroup names another orchestrator as owner: another test run on this
 * host (say, the same checkout on another Node) is not this soak's leak. A process of ours is in
 * our cgroup or in none, so nothing of this run is let off.
 */
function strayProcesses(ids: ReadonlySet<string>, bootstrap: string): number[] {
  const out: number[] = sandboxProcessesOf(process.pid, { parked: true }).map((p) => p.pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let text = '';
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      text = readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      text += '\0' + readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      // Gone, or not ours to inspect.
    }
    const idMatch = [...text.matchAll(/sg-([A-Za-z0-9_-]{21})-/g)].some((m) => ids.has(m[1] ?? ''));
    const runtime = text.includes(bootstrap) && text.includes(ESCAPE_DIR);
    if (idMatch || (runtime && (sandboxOwnerOf(Number(entry)) ?? process.pid) === process.pid)) {
      out.push(Number(entry));
    }
  }
  return [...new Set(out)];
}

/** Runs the soak and returns its census; never throws for a leak (that is what `ok` is for). */
export async function runSoak(opts: SoakOptions = {}): Promise<SoakSummary> {
  const spawns = opts.spawns ?? 1000;
  const concurrency = opts.concurrency ?? 16;
  const detected = await detectIsolation();
  const isolation = opts.isolation ?? detected.best;
  const { createRequire } = await import('node:module');
  UNDICI_PATH = createRequire(import.meta.url).resolve('undici');
  const { runtimeBootstrapPath } = await import('../../src/sandbox/paths.js');

  const api = await startLoopbackServer(ALLOWED_IP);
  const trap = await startLoopbackServer(TRAP_IP);
  const census = countingLogger();
  const orchestrator = await createOrchestrator({
    config: makeConfig(agents(api.port), { baseDir: ESCAPE_DIR }),
    logger: census.logger,
    resolver: testResolver({ [ALLOWED]: ALLOWED_IP }).resolver,
    tools: {},
    isolation,
  });
  const run = async (i: number): Promise<{ mix: Mix; o: Outcome }> => {
    const mix = pick(i);
    const o = await orchestrator.run({
      parent: 'main',
      agent: mix.agent,
      task: mix.task({ trap: trap.port, api: api.port }),
      entry: join(ESCAPE_DIR, mix.program),
    });
    return { mix, o };
  };

  const outcomes: Record<string, number> = {};
  const unexpected: SoakSummary['unexpected'] = [];
  const record = ({ mix, o }: { mix: Mix; o: Outcome }): void => {
    const k = `${mix.program} → ${kind(o)}`;
    outcomes[k] = (outcomes[k] ?? 0) + 1;
    if (kind(o) !== mix.want && unexpected.length < 50) {
      unexpected.push({
        program: mix.program,
        got:
          o.status === 'terminated'
            ? `${o.reason}: ${o.detail}`
            : o.status === 'failed'
              ? o.error.message
              : 'completed',
        want: mix.want,
      });
    }
  };

  // Warm-up: lazily opened descriptors and caches (DNS, the thread pool, the probe) settle first.
  const warm = Math.min(concurrency, spawns);
  (await Promise.all(Array.from({ length: warm }, (_, i) => run(i)))).forEach(record);
  await eventually(() => liveChildren({ exceptParked: true }).length === 0, 5000);
  const fdsBefore = fdCount();
  const rssBefore = rssMb();

  const started = performance.now();
  let next = warm;
  let done = warm;
  const worker = async (): Promise<void> => {
    while (next < spawns) {
      const i = next++;
      record(await run(i));
      done += 1;
      if (done % 100 === 0) opts.progress?.(`${done}/${spawns} spawns, parent RSS ${rssMb()} MiB`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const wallSeconds = (performance.now() - started) / 1000;

  await eventually(() => liveChildren({ exceptParked: true }).length === 0, 5000);
  const gatewayPort = orchestrator.gateway.address.port;
  await eventually(() => establishedOnPort(gatewayPort) === 0, 5000);
  const gatewayConnections = establishedOnPort(gatewayPort);
  await eventually(() => fdCount() <= fdsBefore, 5000);
  const fdsAfter = fdCount();
  const rssAfter = rssMb();
  const unrevoked = [...census.registered].filter((id) => !census.revoked.has(id)).length;
  await orchestrator.close();
  await api.close();
  await trap.close();

  const ids = census.spawned;
  const processes = [...new Set([...liveChildren(), ...strayProcesses(ids, runtimeBootstrapPath)])];
  const prefixes = [...ids].map((id) => `sg-${id.slice(0, 24)}-`);
  const tempDirs = tempEntries().filter((e) => prefixes.some((p) => e.startsWith(p)));
  const cgBase = /^v[12] at (.+)$/.exec(detected.details['cgroup'] ?? '')?.[1];
  const cgroups =
    cgBase !== undefined && existsSync(cgBase)
      ? readdirSync(cgBase).filter(
          (n) => ids.has(n.split('.')[0] ?? '') || n.startsWith(`sg-park-${process.pid}-`),
        )
      : [];
  const trapHits = isolation === 'process' ? 0 : trap.connections();
  const rssLimit = 200;
  const leaks = {
    processes,
    fds: { before: fdsBefore, after: fdsAfter },
    tempDirs,
    credentials: unrevoked,
    cgroups,
    gatewayConnections,
    trapHits,
  };
  const ok =
    processes.length === 0 &&
    fdsAfter <= fdsBefore &&
    tempDirs.length === 0 &&
    unrevoked === 0 &&
    cgroups.length === 0 &&
    gatewayConnections === 0 &&
    trapHits === 0 &&
    unexpected.length === 0 &&
    rssAfter - rssBefore <= rssLimit;
  return {
    ok,
    isolation,
    node: process.version,
    spawns,
    concurrency,
    wallSeconds: Math.round(wallSeconds * 10) / 10,
    spawnsPerSecond: Math.round(((spawns - warm) / wallSeconds) * 10) / 10,
    outcomes,
    unexpected,
    leaks,
    parentRssMb: {
      before: rssBefore,
      after: rssAfter,
      growth: Math.round((rssAfter - rssBefore) * 10) / 10,
      limit: rssLimit,
    },
  };
}

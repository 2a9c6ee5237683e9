/**
 * Shared setup of the escape corpus: one orchestrator per isolation level over the hostile programs
 * in test/fixtures/escape, loopback traps that count every connection or datagram that reaches
 * them, and the leftover checks (processes, temp dirs, credentials, cgroups) run after each level.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type {
  IsolationLevel,
  Orchestrator,
  Outcome,
  ToolDefinition,
  TerminationReason,
} from '../../src/spawner/types.js';
import { repoRoot } from '../helpers/paths.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import {
  establishedOnPort,
  eventually,
  liveChildren,
  sandboxProcessesOf,
  startLoopbackServer,
  tempEntries,
  testResolver,
  type LoopbackServer,
} from '../helpers/spawner-harness.js';

/** The hostile programs. */
export const ESCAPE_DIR = join(repoRoot, 'test', 'fixtures', 'escape');
/** The allowed API name and the loopback address it resolves to (reachable through a CIDR exception). */
export const ALLOWED = 'api.allowed.test';
export const ALLOWED_IP = '127.0.0.2';
/** A prohibited loopback address where traps listen: nothing may ever reach it in namespaced modes. */
export const TRAP_IP = '127.0.0.9';
/** Entry file of the undici package (hostile programs import it by path to build direct clients). */
export const UNDICI_ENTRY: string = createRequire(import.meta.url).resolve('undici');

/** Every level the corpus runs at, strongest first (gVisor's suites skip where runsc cannot run). */
export const LEVELS: readonly IsolationLevel[] = ['gvisor', 'bubblewrap', 'unshare', 'process'];

/** What a case expects. */
export type Expect =
  | { status: 'completed' }
  | { status: 'failed'; code?: string }
  | { status: 'terminated'; reason: TerminationReason };

/** Asserts status (and reason or code) with a message that shows what actually happened. */
export function assertOutcome(o: Outcome, expect: Expect): void {
  const got =
    o.status === 'terminated'
      ? `${o.reason}: ${o.detail}`
      : o.status === 'failed'
        ? `${o.error.code}: ${o.error.message}`
        : `completed: ${JSON.stringify(o.output).slice(0, 300)}`;
  assert.equal(o.status, expect.status, `got ${o.status} (${got})`);
  if (expect.status === 'terminated' && o.status === 'terminated') assert.equal(o.reason, expect.reason, got);
  if (expect.status === 'failed' && o.status === 'failed' && expect.code !== undefined) {
    assert.equal(o.error.code, expect.code, got);
  }
}

/** The output of a completed outcome (fails the test otherwise), typed as the caller expects to find it. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it asserts on
export function outputOf<T>(o: Outcome): T {
  assert.equal(o.status, 'completed', `expected completed, got ${JSON.stringify(o).slice(0, 400)}`);
  return (o as { output: T }).output;
}

/** Counts what reaches a loopback listener. */
export interface Trap {
  readonly port: number;
  hits(): number;
  close(): Promise<void>;
}

/** A TCP trap on {@link TRAP_IP} (an HTTP server: answers, so a client that got through says so). */
export async function tcpTrap(): Promise<Trap> {
  const s: LoopbackServer = await startLoopbackServer(TRAP_IP);
  return { port: s.port, hits: () => s.connections(), close: () => s.close() };
}

/** A UDP trap on {@link TRAP_IP}. */
export async function udpTrap(): Promise<Trap> {
  const sock = createSocket('udp4');
  let hits = 0;
  sock.on('message', () => {
    hits += 1;
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, TRAP_IP, resolve);
  });
  return {
    port: sock.address().port,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        sock.close(() => {
          resolve();
        });
      }),
  };
}

/** A Unix-socket trap in a world-traversable temp dir (like a container engine's socket). */
export async function unixTrap(): Promise<Trap & { path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sgesc-unix-'));
  chmodSync(dir, 0o755);
  const path = join(dir, 'engine.sock');
  let hits = 0;
  const server = createServer((sock) => {
    hits += 1;
    sock.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  // Reachable by any local user, as such sockets often are (the child may run under another uid).
  chmodSync(path, 0o666);
  return {
    port: 0,
    path,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}

/** A temp dir for one case's host-side canaries and markers. */
export function caseDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sgesc-case-'));
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A tool the credential tests use as a mailbox: the holder drops its proxy URL, the test picks it up. */
export function mailbox(): { tool: ToolDefinition; next(): Promise<string>; received(): string[] } {
  const waiting: ((v: string) => void)[] = [];
  const box: string[] = [];
  const all: string[] = [];
  return {
    tool: {
      description: 'test mailbox',
      inputSchema: { type: 'object', properties: { proxy: { type: 'string' } }, required: ['proxy'] },
      handler: (args) => {
        const proxy =
          typeof args === 'object' && args !== null && 'proxy' in args && typeof args.proxy === 'string'
            ? args.proxy
            : '';
        all.push(proxy);
        const w = waiting.shift();
        if (w === undefined) box.push(proxy);
        else w(proxy);
        return Promise.resolve({ ok: true });
      },
    },
    received: () => [...all],
    next: () => {
      const v = box.shift();
      if (v !== undefined) return Promise.resolve(v);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** Agents of the corpus: every program runs as one of these (entry given per spawn). */
function agents(apiPort: number): Record<string, AgentSpec> {
  const network: AgentSpec['network'] = {
    allowedDomains: [ALLOWED],
    allowedPorts: [apiPort],
    allowedCidrs: [`${ALLOWED_IP}/32`],
  };
  const entry = join(ESCAPE_DIR, 'benign.mjs');
  const tools = { allowed: ['sanitized_parse', 'drop'], denied: ['exec'] };
  const base = (over: AgentSpec = {}): AgentSpec => ({
    entry,
    tools,
    network,
    constraints: { maxMemoryMb: 192, maxApiCalls: 50, timeoutSeconds: 15 },
    ...over,
  });
  return {
    main: {
      role: 'parent',
      subagents: {
        allowAgents: '*',
        maxConcurrent: 4,
        maxChildren: 64,
        maxSpawnDepth: 2,
        maxSpawnsPerMinute: 100_000,
      },
    },
    hostile: base(),
    spinner: base({ constraints: { maxMemoryMb: 192, maxApiCalls: 50, timeoutSeconds: 1.5 } }),
    bomber: base({ constraints: { maxMemoryMb: 128, maxApiCalls: 50, timeoutSeconds: 15 } }),
    big: base({ constraints: { maxMemoryMb: 900, maxApiCalls: 50, timeoutSeconds: 20 } }),
    looper: base({
      subagents: {
        allowAgents: ['looper'],
        maxConcurrent: 2,
        maxChildren: 2,
        maxSpawnDepth: 2,
        maxSpawnsPerMinute: 100_000,
      },
    }),
  };
}

/** One level's orchestrator and everything its cases share. */
export interface LevelEnv {
  readonly level: IsolationLevel;
  readonly orchestrator: Orchestrator;
  readonly audit: CollectedAudit;
  readonly api: LoopbackServer;
  readonly queries: string[];
  readonly box: ReturnType<typeof mailbox>;
  /** Runs a program of the corpus as `agent` (default `hostile`). */
  run(program: string, task: unknown, agent?: string): Promise<Outcome>;
}

/** Whether `unshare` here gives a PID namespace (some cases are only safe inside one). */
export async function unshareHasPidNamespace(): Promise<boolean> {
  const d = await detectIsolation();
  return (d.details['namespace'] ?? '').includes('pid');
}

/** The directory under which this process's sandboxes get their memory cgroups, if any. */
export async function cgroupBase(): Promise<string | null> {
  const d = await detectIsolation();
  const m = /^v[12] at (.+)$/.exec(d.details['cgroup'] ?? '');
  return m?.[1] ?? null;
}

/** Starts an orchestrator at `level` over the corpus (null if the level is not available here). */
export async function startLevel(level: IsolationLevel): Promise<LevelEnv | null> {
  if (!(await detectIsolation({ gvisor: level === 'gvisor' })).available.includes(level)) return null;
  const api = await startLoopbackServer(ALLOWED_IP);
  const audit = collectAudit();
  const r = testResolver({ [ALLOWED]: ALLOWED_IP });
  const box = mailbox();
  const orchestrator = await createOrchestrator({
    config: makeConfig(agents(api.port), { baseDir: ESCAPE_DIR }),
    logger: audit.logger,
    resolver: r.resolver,
    tools: { drop: box.tool },
    isolation: level,
  });
  return {
    level,
    orchestrator,
    audit,
    api,
    queries: r.queries,
    box,
    run: (program, task, agent = 'hostile') =>
      orchestrator.run({ parent: 'main', agent, task, entry: join(ESCAPE_DIR, program) }),
  };
}

/** Pids of live processes whose command line mentions one of `ids` (a sandbox that outlived its run). */
function processesOf(ids: readonly string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // bwrap and the cgroup shim carry the id in argv; a plain node child has its scratch dir as cwd.
    const cmd = readFileSyncSafe(`/proc/${entry}/cmdline`) + '\0' + cwdOf(entry);
    if (ids.some((id) => cmd.includes(id))) out.push(Number(entry));
  }
  return out;
}

function cwdOf(pid: string): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

/**
 * After a level: a benign spawn still completes, then close() and nothing may be left — no child
 * process, no scratch or socket dir, no open gateway connection, no unrevoked credential, no cgroup.
 */
export async function finishLevel(env: LevelEnv): Promise<void> {
  const benign = await env.run('benign.mjs', { n: 1 });
  assertOutcome(benign, { status: 'completed' });
  await env.orchestrator.close();
  await env.api.close();
  assert.deepEqual(env.orchestrator.active(), []);
  assert.ok(
    await eventually(() => liveChildren().length === 0, 5000),
    `live child processes: ${liveChildren().join(',')}`,
  );
  const ids = env.audit.events('subagent.spawn').map((e) => String(e['subagentId']));
  assert.deepEqual(processesOf(ids), [], 'no process of any sandbox survives');
  assert.deepEqual(
    sandboxProcessesOf(process.pid, { parked: true }),
    [],
    'no process is left in a sandbox cgroup of this orchestrator',
  );
  const prefixes = ids.map((id) => `sg-${id.slice(0, 24)}-`);
  assert.deepEqual(
    tempEntries().filter((e) => prefixes.some((p) => e.startsWith(p))),
    [],
    'scratch and socket dirs are removed',
  );
  const registered = env.audit.events('gateway.register').map((e) => String(e['subagentId']));
  const revoked = new Set(env.audit.events('gateway.revoke').map((e) => String(e['subagentId'])));
  assert.deepEqual(
    registered.filter((id) => !revoked.has(id)),
    [],
    'every credential is revoked',
  );
  const port = env.orchestrator.gateway.address.port;
  assert.ok(await eventually(() => establishedOnPort(port) === 0), 'no connection to the gateway stays open');
  const cg = await cgroupBase();
  if (cg !== null && existsSync(cg)) {
    const left = readdirSync(cg).filter(
      (n) => ids.includes(n.split('.')[0] ?? '') || n.startsWith(`sg-park-${process.pid}-`),
    );
    assert.deepEqual(left, [], 'every memory cgroup is removed');
  }
  assert.ok(!env.queries.some((q) => q.includes('attacker')), 'no denied name is ever resolved');
}

// Loading the built library for the spawner and quota suites, and an orchestrator wired for
// benchmarking: an in-process audit sink that timestamps every event with performance.now() as it
// is written (pino writes synchronously to a plain stream), so latencies between audit events
// (violation -> exit) are measured at sub-millisecond resolution.
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const AGENTS_DIR = join(root, 'bench', 'agents');

/** The library's exports, or null with a reason when the build is missing pieces. */
export async function loadGuard() {
  const index = join(root, 'dist', 'index.js');
  try {
    if (existsSync(index)) {
      const m = await import(pathToFileURL(index).href);
      if (typeof m.createOrchestrator === 'function' && typeof m.parseConfig === 'function') {
        return {
          ok: true,
          createOrchestrator: m.createOrchestrator,
          parseConfig: m.parseConfig,
          pino: await loadPino(),
        };
      }
    }
    const s = await import(pathToFileURL(join(root, 'dist', 'spawner', 'index.js')).href);
    const c = await import(pathToFileURL(join(root, 'dist', 'config', 'index.js')).href);
    return {
      ok: true,
      createOrchestrator: s.createOrchestrator,
      parseConfig: c.parseConfig,
      pino: await loadPino(),
    };
  } catch (e) {
    return {
      ok: false,
      reason: `the spawner is not built or does not load: ${String(e?.message ?? e).slice(0, 300)}`,
    };
  }
}

async function loadPino() {
  const m = await import('pino');
  return m.pino ?? m.default;
}

/** An audit sink recording (time, event, subagentId) of every record; bounded. */
export function createAuditRecorder(pino) {
  const events = [];
  const stream = {
    write(line) {
      const t = performance.now();
      if (events.length > 2_000_000) return;
      let j;
      try {
        j = JSON.parse(line);
      } catch {
        return;
      }
      events.push({
        t,
        event: j.event,
        id: j.subagentId ?? j.id,
        rec:
          j.event === 'subagent.exit' ||
          j.event === 'subagent.spawn' ||
          j.event === 'orchestrator.start' ||
          j.event === 'subagent.violation' ||
          j.event === 'pool.error'
            ? j
            : undefined,
      });
    },
  };
  const logger = pino({ level: 'info', base: null }, stream);
  return {
    logger,
    events,
    find: (event, id) => events.find((e) => e.event === event && (id === undefined || e.id === id)),
    clear: () => events.splice(0),
  };
}

/** The benchmark's config: one parent allowed to spawn the bench agents with generous quotas. */
export function benchConfig(
  parseConfig,
  { memoryMb = 256, timeoutSeconds = 600, warm = 0, maxConcurrent = 2000, network } = {},
) {
  const child = (extra = {}, pool = 0) => ({
    description: 'benchmark subagent',
    entry: './bench-child.mjs',
    tools_allowed: ['ping'],
    tools_denied: ['exec'],
    constraints: {
      max_memory_mb: memoryMb,
      max_api_calls: 1_000_000,
      timeout_seconds: timeoutSeconds,
      ...extra,
    },
    ...(pool > 0 ? { pool: { warm: pool } } : {}),
  });
  return parseConfig(
    {
      agents: {
        bench_parent: {
          role: 'parent',
          subagents: {
            allowAgents: ['bench_child', 'bench_timeout', ...(network === undefined ? [] : ['bench_net'])],
            maxConcurrent,
            maxChildren: 4000,
            maxSpawnDepth: 1,
            maxSpawnsPerMinute: 100_000,
          },
        },
        bench_child: child({}, warm),
        bench_timeout: child({ timeout_seconds: 1 }),
        // Egress to one loopback origin (`network`: { domain, port, cidr }), for the observability suite.
        ...(network === undefined
          ? {}
          : {
              bench_net: {
                ...child(),
                network: {
                  allowed_domains: [network.domain],
                  allowed_ports: [network.port],
                  allowed_cidrs: [network.cidr],
                },
              },
            }),
      },
    },
    { source: join(AGENTS_DIR, 'bench.openclaw.json'), baseDir: AGENTS_DIR },
  );
}

/** Rejects after `ms` (every wait in the benchmark is bounded). */
export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

// Start-up: spawn -> first tool call, cold and from a warm pool (`pool: { warm: N }`), at every
// isolation level that runs here (gVisor included), next to a bare child_process.fork; the memory
// an idle pooled sandbox holds; and the parent's responsiveness during a burst of spawns
// (event-loop delay, throughput, and the CPU a child's start-up costs: the floor of throughput).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance, monitorEventLoopDelay } from 'node:perf_hooks';
import { once } from 'node:events';
import { AGENTS_DIR, loadGuard, withTimeout } from '../lib/guard.mjs';
import { descendantsMemory, processTree } from '../lib/cpu.mjs';
import { summarize } from '../lib/stats.mjs';
import { sleep } from '../lib/procs.mjs';
import { benchOrchestrator } from './spawner.mjs';

const LEVELS = ['process', 'unshare', 'namespace', 'gvisor'];
/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux we run on). */
const HZ = 100;

/** CPU (ms) of this process's reaped children so far: cutime + cstime of /proc/self/stat. */
function reapedChildrenCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is index 0, so cutime (16) and cstime (17) are 13 and 14.
  return ((Number(f[13]) + Number(f[14])) * 1000) / HZ;
}

function ownCpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function forkBaseline(n) {
  const lat = [];
  const script = join(AGENTS_DIR, 'fork-child.mjs');
  const c0 = reapedChildrenCpuMs();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const child = fork(script, [], { env: {}, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    await withTimeout(once(child, 'message'), 10_000, 'fork child ready');
    lat.push(performance.now() - t0);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await withTimeout(exited, 10_000, 'fork child exit');
  }
  return { ...summarize(lat), childCpuMs: (reapedChildrenCpuMs() - c0) / n };
}

function endedEarly(out) {
  throw new Error(`subagent ended before its first tool call: ${JSON.stringify(out).slice(0, 400)}`);
}

function pool(b) {
  return b.orchestrator.poolStats().find((p) => p.agent === 'bench_child');
}

/** Waits until the agent's pool holds `warm` idle sandboxes (bounded). */
async function poolFull(b, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const p = pool(b);
    if (p === undefined) throw new Error('no pool for bench_child');
    if (p.disabled) {
      const last = b.audit.events.findLast((e) => e.event === 'pool.error')?.rec;
      throw new Error(
        `pool disabled after ${p.errors} failed starts: ${last?.error?.message ?? 'no reason'}`,
      );
    }
    if (p.idle >= p.warm) return;
    if (performance.now() > deadline) throw new Error(`pool not refilled after ${timeoutMs} ms`);
    await sleep(5);
  }
}

/**
 * `n` sequential spawns, each timed from spawn() to its first tool call. With a pool, every spawn
 * waits (untimed) for the pool to be full again first, so each one claims a warm sandbox.
 */
async function firstCalls(b, n, { warm = false, refillMs = 30_000 } = {}) {
  const lat = [];
  let warmExits = 0;
  for (let i = 0; i < n; i++) {
    if (warm) await poolFull(b, refillMs);
    const { handle, t0, pinged } = b.spawn('return');
    const t = await withTimeout(
      Promise.race([pinged, handle.result.then(endedEarly)]),
      30_000,
      'first tool call',
    );
    lat.push(t - t0);
    const out = await withTimeout(handle.result, 30_000, 'subagent result');
    if (out.status !== 'completed')
      throw new Error(`bench subagent ended ${out.status}: ${JSON.stringify(out.error ?? out.reason)}`);
    if (b.audit.find('subagent.exit', handle.id)?.rec?.warm === true) warmExits++;
  }
  return { ...summarize(lat), warmSpawns: warmExits };
}

/** Memory cgroups (v1 or v2) of the given processes whose name starts with `prefix`, with usage. */
function cgroupUsage(pids, prefix) {
  const groups = new Map();
  for (const pid of pids) {
    let text;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const [, controllers, path] = line.split(':');
      if (path === undefined) continue;
      const v1 = controllers.split(',').includes('memory');
      const v2 = controllers === '';
      if (!v1 && !v2) continue;
      const name = path.slice(path.lastIndexOf('/') + 1);
      if (!name.startsWith(prefix)) continue;
      const file = v1
        ? join('/sys/fs/cgroup/memory', path, 'memory.usage_in_bytes')
        : join('/sys/fs/cgroup', path, 'memory.current');
      if (groups.has(file)) continue;
      try {
        groups.set(file, Number(readFileSync(file, 'utf8').trim()));
      } catch {
        // gone or not mounted there
      }
    }
  }
  let bytes = 0;
  for (const v of groups.values()) bytes += v;
  return { cgroups: groups.size, bytes };
}

/**
 * Memory an idle pooled sandbox holds: the orchestrator's descendants with a full pool of `warm`,
 * minus the same orchestrator setup without a pool, per sandbox; and the pooled sandboxes' own
 * memory cgroups (the authoritative figure: it is what their limit is charged with).
 */
async function poolMemory(guard, isolation, warm, refillMs) {
  const cold = await benchOrchestrator(guard, isolation);
  let base;
  try {
    await sleep(1000);
    base = descendantsMemory(process.pid);
  } finally {
    await withTimeout(cold.orchestrator.close(), 60_000, 'orchestrator close').catch(() => {});
  }
  const b = await benchOrchestrator(guard, isolation, { warm });
  try {
    await poolFull(b, refillMs * warm);
    await sleep(1500);
    const m = descendantsMemory(process.pid);
    const cg = cgroupUsage(processTree(process.pid).slice(1), 'warm-');
    return {
      warm,
      processesPerSandbox: (m.processes - base.processes) / warm,
      rssMbPerSandbox: (m.rss - base.rss) / warm / 1048576,
      pssMbPerSandbox: (m.pss - base.pss) / warm / 1048576,
      cgroups: cg.cgroups,
      cgroupMbPerSandbox: cg.cgroups > 0 ? cg.bytes / cg.cgroups / 1048576 : null,
    };
  } finally {
    await withTimeout(b.orchestrator.close(), 60_000, 'orchestrator close').catch(() => {});
  }
}

/**
 * A burst of `count` spawns at once under `maxConcurrent`: the parent's event-loop delay while it
 * lasts, spawns/s, and the CPU per spawn of the children (sandbox tree, reaped) and of the parent.
 */
export async function burst(
  guard,
  { isolation = 'namespace', count = 100, maxConcurrent = 16, warm = 0 } = {},
) {
  const b = await benchOrchestrator(guard, isolation, { maxConcurrent, warm });
  try {
    // One spawn first: what is set up once per orchestrator is not part of the burst.
    await firstCalls(b, 1);
    if (warm > 0) await poolFull(b, 60_000);
    const h = monitorEventLoopDelay({ resolution: 5 });
    const p0 = ownCpuMs();
    const t0 = performance.now();
    h.enable();
    const spawns = [];
    for (let i = 0; i < count; i++) spawns.push(b.spawn('cpu').handle.result);
    const outs = await withTimeout(Promise.all(spawns), 600_000, 'burst');
    h.disable();
    const wallMs = performance.now() - t0;
    const p1 = ownCpuMs();
    const done = outs.filter((o) => o.status === 'completed');
    const completed = done.length;
    // Each child's own CPU up to its first tool call, as it measured it (process.cpuUsage()).
    const childCpuMs =
      done.reduce((a, o) => a + (Number(o.output?.user) + Number(o.output?.system)) / 1000, 0) /
      Math.max(1, completed);
    const parentCpuMs = (p1 - p0) / count;
    return {
      level: b.level,
      count,
      maxConcurrent,
      warm,
      completed,
      wallMs,
      spawnsPerSec: (count * 1000) / wallMs,
      childCpuMsPerSpawn: childCpuMs,
      parentCpuMsPerSpawn: parentCpuMs,
      // What the cores could do if nothing but the children's own start-up used them.
      floorSpawnsPerSec: (cpus().length * 1000) / childCpuMs,
      loopDelayMs: {
        p50: h.percentile(50) / 1e6,
        p90: h.percentile(90) / 1e6,
        p99: h.percentile(99) / 1e6,
        max: h.max / 1e6,
        mean: h.mean / 1e6,
      },
    };
  } finally {
    await withTimeout(b.orchestrator.close(), 120_000, 'orchestrator close').catch(() => {});
  }
}

/** @param {{ quick: boolean, log: (m: string) => void }} ctx */
export async function run(ctx) {
  const guard = await loadGuard();
  if (!guard.ok) return { skipped: guard.reason };
  const n = ctx.quick ? 10 : 50;
  // gVisor starts take ~0.5 s each: fewer samples there.
  const nGvisor = ctx.quick ? 5 : 20;
  const warm = ctx.quick ? 2 : 4;
  const result = { samples: n, samplesGvisor: nGvisor, levels: {}, notes: [] };
  result.fork = await forkBaseline(n);
  ctx.log(
    `  bare fork -> first IPC message: p50 ${result.fork.p50.toFixed(1)} ms  p99 ${result.fork.p99.toFixed(1)} ms, child CPU ${result.fork.childCpuMs.toFixed(1)} ms`,
  );
  const ms = (s) => `p50 ${s.p50.toFixed(1)} ms  p99 ${s.p99.toFixed(1)} ms`;
  for (const isolation of LEVELS) {
    const count = isolation === 'gvisor' ? nGvisor : n;
    const refillMs = isolation === 'gvisor' ? 60_000 : 30_000;
    const row = {};
    let b;
    try {
      b = await benchOrchestrator(guard, isolation);
    } catch (e) {
      result.levels[isolation] = { skipped: String(e?.message ?? e).slice(0, 300) };
      ctx.log(`  isolation '${isolation}': skipped (${result.levels[isolation].skipped})`);
      continue;
    }
    try {
      row.level = b.level;
      row.cold = await firstCalls(b, count);
      ctx.log(`  ${isolation} (${b.level}) cold spawn -> first tool call: ${ms(row.cold)}`);
    } catch (e) {
      row.error = String(e?.message ?? e).slice(0, 500);
      ctx.log(`  ${isolation} cold: ERROR ${row.error}`);
    } finally {
      await withTimeout(b.orchestrator.close(), 60_000, 'orchestrator close').catch(() => {});
    }
    try {
      b = await benchOrchestrator(guard, isolation, { warm });
      try {
        row.warm = await firstCalls(b, count, { warm: true, refillMs });
        ctx.log(
          `  ${isolation} (${b.level}) warm spawn -> first tool call: ${ms(row.warm)} (${row.warm.warmSpawns}/${count} from the pool)`,
        );
      } finally {
        await withTimeout(b.orchestrator.close(), 60_000, 'orchestrator close').catch(() => {});
      }
      row.pool = await poolMemory(guard, isolation, warm, refillMs);
      ctx.log(
        `  ${isolation} idle pooled sandbox: ${row.pool.pssMbPerSandbox.toFixed(1)} MB PSS, ${row.pool.rssMbPerSandbox.toFixed(1)} MB RSS, cgroup ${row.pool.cgroupMbPerSandbox?.toFixed(1) ?? 'n/a'} MB, ${row.pool.processesPerSandbox} processes`,
      );
    } catch (e) {
      row.warmError = String(e?.message ?? e).slice(0, 500);
      ctx.log(`  ${isolation} warm: ERROR ${row.warmError}`);
    }
    result.levels[isolation] = row;
  }
  try {
    result.burst = await burst(guard, { count: ctx.quick ? 50 : 100 });
    const x = result.burst;
    ctx.log(
      `  burst of ${x.count} at maxConcurrent ${x.maxConcurrent} (${x.level}): event-loop delay p99 ${x.loopDelayMs.p99.toFixed(1)} ms, max ${x.loopDelayMs.max.toFixed(1)} ms; ${x.spawnsPerSec.toFixed(1)} spawns/s; child CPU ${x.childCpuMsPerSpawn.toFixed(1)} ms, parent CPU ${x.parentCpuMsPerSpawn.toFixed(1)} ms per spawn`,
    );
  } catch (e) {
    result.burst = { error: String(e?.message ?? e).slice(0, 500) };
    ctx.log(`  burst: ERROR ${result.burst.error}`);
  }
  // The same burst with a warm pool as large as maxConcurrent: the first wave claims pre-started
  // sandboxes, the rest start cold while the pool refills (one at a time).
  try {
    const x = await burst(guard, { count: ctx.quick ? 50 : 100, warm: 16 });
    result.bursts = [x];
    ctx.log(
      `  burst with pool warm 16: event-loop delay p99 ${x.loopDelayMs.p99.toFixed(1)} ms, max ${x.loopDelayMs.max.toFixed(1)} ms; ${x.spawnsPerSec.toFixed(1)} spawns/s`,
    );
  } catch (e) {
    result.bursts = [{ error: String(e?.message ?? e).slice(0, 500) }];
  }
  return result;
}

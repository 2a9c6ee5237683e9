// Spawner: spawn -> first tool call per isolation level vs bare child_process.fork (the limit);
// kill latency: violation -> process reaped and sockets cut (`killMs` of the `subagent.exit`
// record: from the decision to the moment the process was reaped and its credential revoked, which
// closes its sockets), and separately the full teardown (violation record -> exit record: also
// drains the output pipes, removes the cgroup and the scratch dir) and explicit terminate()
// latency; memory per idle subagent; the largest number of concurrent subagents held stable for a
// period (60 s; shorter in quick mode).
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { freemem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { AGENTS_DIR, benchConfig, createAuditRecorder, loadGuard, withTimeout } from '../lib/guard.mjs';
import { descendantsMemory } from '../lib/cpu.mjs';
import { summarize } from '../lib/stats.mjs';
import { sleep } from '../lib/procs.mjs';

/** An orchestrator at `isolation` with a `ping` tool that timestamps a subagent's first call. */
export async function benchOrchestrator(guard, isolation, cfg = {}) {
  const audit = createAuditRecorder(guard.pino);
  const pings = new Map();
  const tools = {
    ping: {
      description: 'benchmark marker: the first tool call of a subagent',
      inputSchema: { type: 'object', properties: { mode: { type: 'string' } }, additionalProperties: false },
      handler: async (_args, ctx) => {
        const t = performance.now();
        const w = pings.get(ctx.subagentId);
        if (w !== undefined) w(t);
        return { ok: true };
      },
    },
  };
  const orchestrator = await guard.createOrchestrator({
    config: benchConfig(guard.parseConfig, cfg),
    tools,
    logger: audit.logger,
    isolation,
  });
  const start = audit.find('orchestrator.start')?.rec;
  /** Spawns and returns the handle plus a promise of the time of its first tool call. */
  const spawn = (mode, agent = 'bench_child') => {
    let resolvePing;
    const pinged = new Promise((r) => (resolvePing = r));
    const t0 = performance.now();
    const handle = orchestrator.spawn({ parent: 'bench_parent', agent, task: { mode } });
    pings.set(handle.id, resolvePing);
    void handle.result.then(() => pings.delete(handle.id));
    return { handle, t0, pinged };
  };
  return { orchestrator, audit, spawn, level: orchestrator.isolation, startRecord: start };
}

async function forkBaseline(n) {
  const lat = [];
  const script = join(AGENTS_DIR, 'fork-child.mjs');
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const child = fork(script, [], { env: {}, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    await withTimeout(once(child, 'message'), 10_000, 'fork child ready');
    lat.push(performance.now() - t0);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await withTimeout(exited, 10_000, 'fork child exit');
  }
  return summarize(lat);
}

function endedEarly(out) {
  throw new Error(`subagent ended before its first tool call: ${JSON.stringify(out).slice(0, 400)}`);
}

async function firstCall(b, n) {
  const lat = [];
  for (let i = 0; i < n; i++) {
    const { handle, t0, pinged } = b.spawn('return');
    const t = await withTimeout(
      Promise.race([pinged, handle.result.then(endedEarly)]),
      20_000,
      'first tool call',
    );
    lat.push(t - t0);
    const out = await withTimeout(handle.result, 20_000, 'subagent result');
    if (out.status !== 'completed')
      throw new Error(`bench subagent ended ${out.status}: ${JSON.stringify(out.error ?? out.reason)}`);
  }
  return summarize(lat);
}

async function killLatency(b, n) {
  const violation = [];
  const reaped = [];
  const toOutcome = [];
  const cancel = [];
  let wrong = 0;
  for (let i = 0; i < n; i++) {
    const { handle } = b.spawn('violate');
    const out = await withTimeout(handle.result, 20_000, 'violating subagent');
    const tEnd = performance.now();
    if (out.status !== 'terminated' || out.reason !== 'tool_denied') wrong++;
    const v = b.audit.find('subagent.violation', handle.id);
    const x = b.audit.find('subagent.exit', handle.id);
    if (v && x) {
      violation.push(x.t - v.t);
      toOutcome.push(tEnd - v.t);
      if (typeof x.rec?.killMs === 'number') reaped.push(x.rec.killMs);
    }
  }
  for (let i = 0; i < n; i++) {
    const { handle, pinged } = b.spawn('hold');
    await withTimeout(pinged, 20_000, 'first tool call');
    const t0 = performance.now();
    await withTimeout(handle.terminate('benchmark'), 20_000, 'terminate');
    cancel.push(performance.now() - t0);
  }
  return {
    // The definition of the target: decision -> reaped + sockets cut.
    violationToReaped: reaped.length > 0 ? summarize(reaped) : null,
    // The whole teardown, up to the `subagent.exit` record (the outcome resolves right after).
    violationToExit: summarize(violation),
    violationToOutcome: summarize(toOutcome),
    terminate: summarize(cancel),
    wrongOutcomes: wrong,
  };
}

async function holdMany(b, count, { perBatch = 8 } = {}) {
  const handles = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i += perBatch) {
    const batch = [];
    for (let k = i; k < Math.min(count, i + perBatch); k++) {
      const s = b.spawn('hold');
      handles.push(s.handle);
      batch.push(Promise.race([s.pinged, s.handle.result.then(endedEarly)]));
    }
    await withTimeout(Promise.all(batch), 120_000, `subagents ${i}..${i + perBatch} ready`);
  }
  return { handles, rampMs: performance.now() - t0 };
}

async function terminateAll(handles) {
  await withTimeout(Promise.all(handles.map((h) => h.terminate('benchmark done'))), 120_000, 'terminate all');
}

async function idleMemory(b, n) {
  const before = descendantsMemory(process.pid);
  const { handles } = await holdMany(b, n);
  await sleep(1500);
  const m = descendantsMemory(process.pid);
  await terminateAll(handles);
  return {
    subagents: n,
    processesPerSubagent: (m.processes - before.processes) / n,
    rssMbPerSubagent: (m.rss - before.rss) / n / 1048576,
    pssMbPerSubagent: (m.pss - before.pss) / n / 1048576,
  };
}

async function concurrency(b, levels, holdSeconds, log) {
  const steps = [];
  let handles = [];
  let best = 0;
  try {
    for (const level of levels) {
      if (freemem() < 3 * 1024 ** 3) {
        steps.push({ level, skipped: 'less than 3 GB of free memory' });
        break;
      }
      const add = await holdMany(b, level - handles.length);
      handles = handles.concat(add.handles);
      const ended = new Set();
      for (const h of handles) void h.result.then(() => ended.add(h.id));
      const deadline = performance.now() + holdSeconds * 1000;
      let minRunning = Infinity;
      while (performance.now() < deadline && ended.size === 0) {
        const running = b.orchestrator.active().filter((s) => s.state === 'running').length;
        minRunning = Math.min(minRunning, running);
        await sleep(500);
      }
      const mem = descendantsMemory(process.pid);
      const stable = ended.size === 0 && minRunning >= level;
      steps.push({
        level,
        rampMs: add.rampMs,
        heldSeconds: holdSeconds,
        stable,
        ended: ended.size,
        minRunning,
        rssMb: mem.rss / 1048576,
        pssMb: mem.pss / 1048576,
      });
      log(
        `  ${level} concurrent subagents: ${stable ? `stable for ${holdSeconds} s` : `NOT stable (${ended.size} ended, min running ${minRunning})`}, ramp ${Math.round(add.rampMs)} ms, PSS ${Math.round(mem.pss / 1048576)} MB`,
      );
      if (!stable) break;
      best = level;
    }
  } finally {
    await terminateAll(handles);
  }
  return { maxStable: best, holdSeconds, steps };
}

/** @param {{ quick: boolean, log: (m: string) => void }} ctx */
export async function run(ctx) {
  const guard = await loadGuard();
  if (!guard.ok) return { skipped: guard.reason };
  const n = ctx.quick ? 10 : 100;
  const result = { samples: n, levels: {}, notes: [] };
  result.fork = await forkBaseline(n);
  ctx.log(
    `  bare fork -> first IPC message: p50 ${result.fork.p50.toFixed(1)} ms  p99 ${result.fork.p99.toFixed(1)} ms`,
  );
  // `namespace` is the strongest namespaced level (bubblewrap here), the 'full sandbox' of the
  // targets; `unshare` is measured on its own so its cost is visible even where bubblewrap exists.
  for (const isolation of ['process', 'unshare', 'namespace']) {
    let b;
    try {
      b = await benchOrchestrator(guard, isolation);
    } catch (e) {
      result.levels[isolation] = { skipped: String(e?.message ?? e).slice(0, 300) };
      ctx.log(`  isolation '${isolation}': skipped (${result.levels[isolation].skipped})`);
      continue;
    }
    try {
      const row = { level: b.level, available: b.startRecord?.available ?? null };
      row.firstCall = await firstCall(b, n);
      ctx.log(
        `  ${isolation} (${b.level}) spawn -> first tool call: p50 ${row.firstCall.p50.toFixed(1)} ms  p99 ${row.firstCall.p99.toFixed(1)} ms`,
      );
      row.kill = await killLatency(b, n);
      ctx.log(
        `  ${isolation} (${b.level}) violation -> reaped, sockets cut: ${row.kill.violationToReaped === null ? 'n/a' : `p50 ${row.kill.violationToReaped.p50.toFixed(1)} ms  p99 ${row.kill.violationToReaped.p99.toFixed(1)} ms`}; full teardown: p50 ${row.kill.violationToExit.p50.toFixed(1)} ms  p99 ${row.kill.violationToExit.p99.toFixed(1)} ms; terminate(): p50 ${row.kill.terminate.p50.toFixed(1)} ms  p99 ${row.kill.terminate.p99.toFixed(1)} ms`,
      );
      row.idle = await idleMemory(b, ctx.quick ? 10 : 50);
      ctx.log(
        `  ${isolation} (${b.level}) idle subagent: ${row.idle.rssMbPerSubagent.toFixed(1)} MB RSS, ${row.idle.pssMbPerSubagent.toFixed(1)} MB PSS, ${row.idle.processesPerSubagent} processes`,
      );
      result.levels[isolation] = row;
    } catch (e) {
      result.levels[isolation] = { level: b.level, error: String(e?.message ?? e).slice(0, 500) };
      ctx.log(`  ${isolation}: ERROR ${result.levels[isolation].error}`);
    } finally {
      await withTimeout(b.orchestrator.close(), 60_000, 'orchestrator close').catch(() => {});
    }
  }
  // Concurrency at the strongest level available.
  const b = await benchOrchestrator(guard, 'auto');
  try {
    const levels = ctx.quick ? [200] : [100, 200, 300, 400];
    result.concurrency = { level: b.level, ...(await concurrency(b, levels, ctx.quick ? 5 : 60, ctx.log)) };
  } catch (e) {
    result.concurrency = { level: b.level, error: String(e?.message ?? e).slice(0, 500) };
    ctx.log(`  concurrency: ERROR ${result.concurrency.error}`);
  } finally {
    await withTimeout(b.orchestrator.close(), 120_000, 'orchestrator close').catch(() => {});
  }
  return result;
}

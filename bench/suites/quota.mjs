// Quota precision: resident memory at the kill moment for heap and Buffer hogs (limit 128 MB) at
// each isolation level (their memory enforcement differs: cgroup where one can be created, RSS
// polling as the backstop, the V8 heap cap for heap hogs), and how late the wall-clock timeout
// fires (timeout_seconds = 1) for an idle and a CPU-spinning subagent.
import { performance } from 'node:perf_hooks';
import { loadGuard, withTimeout } from '../lib/guard.mjs';
import { summarize, median } from '../lib/stats.mjs';
import { benchOrchestrator } from './spawner.mjs';

const LIMIT_MB = 128;
const HOGS = ['heap', 'buffer', 'buffer-burst'];

/** The memory enforcement a run reported in its audit records (any memory/cgroup/enforcement field). */
function pickEnforcement(b, id) {
  const out = {};
  for (const ev of ['subagent.spawn', 'subagent.exit']) {
    const rec = b.audit.find(ev, id)?.rec;
    for (const [k, v] of Object.entries(rec ?? {})) {
      if (/memory|enforce|cgroup/i.test(k)) out[k] = v;
    }
  }
  if (Object.keys(out).length === 0 && b.startRecord?.cgroup !== undefined) {
    out.orchestratorCgroup = b.startRecord.cgroup;
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** @param {{ quick: boolean, log: (m: string) => void }} ctx */
export async function run(ctx) {
  const guard = await loadGuard();
  if (!guard.ok) return { skipped: guard.reason };
  const reps = ctx.quick ? 1 : 5;
  const result = { limitMb: LIMIT_MB, reps, memory: {}, timeout: {} };
  for (const isolation of ['process', 'namespace']) {
    let b;
    try {
      b = await benchOrchestrator(guard, isolation, { memoryMb: LIMIT_MB, timeoutSeconds: 60 });
    } catch (e) {
      result.memory[isolation] = { skipped: String(e?.message ?? e).slice(0, 300) };
      continue;
    }
    try {
      const perLevel = { level: b.level, hogs: {} };
      for (const hog of HOGS) {
        const rows = [];
        for (let i = 0; i < reps; i++) {
          const t0 = performance.now();
          const { handle } = b.spawn(hog);
          const out = await withTimeout(handle.result, 90_000, `${hog} hog`);
          rows.push({
            status: out.status,
            reason: out.reason ?? out.error?.code ?? null,
            peakRssMb: out.usage.peakRssMb,
            wallMs: performance.now() - t0,
            enforcement: pickEnforcement(b, handle.id),
          });
        }
        perLevel.hogs[hog] = {
          outcomes: [...new Set(rows.map((r) => `${r.status}:${r.reason}`))],
          peakRssMbMedian: median(rows.map((r) => r.peakRssMb)),
          peakRssMbMax: Math.max(...rows.map((r) => r.peakRssMb)),
          overshootMbMedian: median(rows.map((r) => r.peakRssMb - LIMIT_MB)),
          enforcement: rows[0]?.enforcement ?? null,
          rows,
        };
        ctx.log(
          `  ${isolation} (${b.level}) ${hog.padEnd(12)} -> ${perLevel.hogs[hog].outcomes.join(', ')}; peak RSS median ${perLevel.hogs[hog].peakRssMbMedian} MB (limit ${LIMIT_MB})`,
        );
      }
      result.memory[isolation] = perLevel;
      if (isolation === 'namespace' || result.timeout.level === undefined) {
        const t = { level: b.level };
        for (const mode of ['sleep', 'spin']) {
          const late = [];
          const outcomes = new Set();
          for (let i = 0; i < reps; i++) {
            const { handle } = b.spawn(mode, 'bench_timeout');
            const out = await withTimeout(handle.result, 30_000, `${mode} timeout`);
            outcomes.add(`${out.status}:${out.reason ?? out.error?.code}`);
            late.push(out.usage.wallMs - 1000);
          }
          t[mode] = { outcomes: [...outcomes], lateMs: summarize(late) };
          ctx.log(
            `  ${isolation} (${b.level}) timeout 1 s, ${mode}: fires ${t[mode].lateMs.p50.toFixed(1)} ms late (p50), ${t[mode].lateMs.max.toFixed(1)} ms (max)`,
          );
        }
        result.timeout = t;
      }
    } catch (e) {
      result.memory[isolation] = { level: b.level, error: String(e?.message ?? e).slice(0, 500) };
      ctx.log(`  ${isolation}: ERROR ${result.memory[isolation].error}`);
    } finally {
      await withTimeout(b.orchestrator.close(), 60_000, 'orchestrator close').catch(() => {});
    }
  }
  return result;
}

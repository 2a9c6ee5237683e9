// The targets, evaluated against one results object.

const OURS = 'subagent-guard';

function fmt(v, d = 0) {
  return Number.isFinite(v)
    ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : 'n/a';
}

function status(ok) {
  if (ok === null) return 'n/a';
  return ok ? 'met' : '**MISSED**';
}

/** @returns {Array<{ target: string, measured: string, status: string }>} */
export function evaluateTargets(results) {
  const out = [];
  const http = results.suites.http;
  const ours = http?.targets?.[OURS]?.byConnections;
  const squid = http?.targets?.squid?.byConnections;
  if (ours && squid) {
    const cs = http.connections;
    out.push({
      target: 'HTTP req/s ahead of squid at 1, 16, 64 connections (filtering + audit on)',
      measured: cs
        .map(
          (c) =>
            `c=${c}: ${fmt(ours[c].rps)} vs ${fmt(squid[c].rps)} (${fmt(ours[c].rps / squid[c].rps, 2)}×)`,
        )
        .join('; '),
      status: status(cs.every((c) => ours[c].rps > squid[c].rps)),
    });
    out.push({
      target: 'HTTP p99 below squid at 1, 16, 64 connections',
      measured: cs.map((c) => `c=${c}: ${fmt(ours[c].p99Ms, 2)} vs ${fmt(squid[c].p99Ms, 2)} ms`).join('; '),
      status: status(cs.every((c) => ours[c].p99Ms < squid[c].p99Ms)),
    });
  } else {
    out.push({
      target: 'HTTP req/s and p99 ahead of squid',
      measured: 'not measured (ours or squid missing)',
      status: 'n/a',
    });
  }
  if (ours) {
    const cs = http.connections;
    out.push({
      target: '≤ 80 µs proxy CPU per request',
      measured: cs.map((c) => `c=${c}: ${fmt(ours[c].cpuUsPerReq, 1)} µs`).join('; '),
      status: status(cs.every((c) => ours[c].cpuUsPerReq <= 80)),
    });
  }
  if (http?.audit) {
    out.push({
      target: 'audit loses nothing on a clean stop',
      measured: `${fmt(http.audit.decisions)} decision records for ${fmt(http.audit.requestsCompleted)} completed requests (+≤ ${http.audit.inFlightBound} in flight)`,
      status: status(http.audit.complete),
    });
  }
  const sc = http?.auditSyscalls;
  out.push(
    sc
      ? {
          target: 'audit never fsyncs per event',
          measured: `strace over ${fmt(sc.requests)} requests: ${fmt(sc.syncCalls)} fsync-family calls, ${fmt(sc.logWrites)} writes to the audit file (${fmt(sc.logWrites / Math.max(1, sc.requests), 3)} per request, ${fmt(sc.logBytes / Math.max(1, sc.logWrites))} B each)`,
          status: status(sc.syncCalls === 0 && sc.logWrites < sc.requests),
        }
      : {
          target: 'audit never fsyncs per event',
          measured:
            'not measured (strace unavailable); by construction: pino asynchronous destination, no fsync',
          status: 'n/a',
        },
  );
  const conn = results.suites.connect?.targets?.[OURS];
  if (conn) {
    out.push({
      target: 'tunnel throughput ≥ 1 GB/s',
      measured: `${fmt(conn.mbPerSec)} MB/s`,
      status: status(conn.mbPerSec >= 1000),
    });
    out.push({
      target: '≥ 4,000 tunnel setups/s (8 clients)',
      measured: `${fmt(conn.setupsPerSec)}/s`,
      status: status(conn.setupsPerSec >= 4000),
    });
  } else {
    out.push({ target: 'tunnels ≥ 1 GB/s and ≥ 4,000 setups/s', measured: 'not measured', status: 'n/a' });
  }
  const sp = results.suites.spawner;
  const full = sp?.levels?.namespace;
  if (sp?.fork && full?.firstCall) {
    const over = full.firstCall.p50 - sp.fork.p50;
    out.push({
      target: 'full-sandbox spawn ≤ fork + 15 ms',
      measured: `${full.level}: p50 ${fmt(full.firstCall.p50, 1)} ms vs fork ${fmt(sp.fork.p50, 1)} ms (+${fmt(over, 1)} ms); p99 ${fmt(full.firstCall.p99, 1)} vs ${fmt(sp.fork.p99, 1)} ms`,
      status: status(over <= 15),
    });
  } else {
    out.push({
      target: 'full-sandbox spawn ≤ fork + 15 ms',
      measured: sp?.skipped ?? full?.skipped ?? full?.error ?? 'not measured',
      status: 'n/a',
    });
  }
  const kills = Object.entries(sp?.levels ?? {}).filter(([, r]) => r.kill);
  if (kills.length > 0) {
    out.push({
      target: 'kill p99 ≤ 20 ms (violation → reaped, sockets cut)',
      measured: kills
        .map(
          ([req, r]) =>
            `${req} (${r.level}): ${fmt((r.kill.violationToReaped ?? r.kill.violationToExit).p99, 1)} ms`,
        )
        .join('; '),
      status: status(kills.every(([, r]) => (r.kill.violationToReaped ?? r.kill.violationToExit).p99 <= 20)),
    });
  }
  const st = results.suites.startup;
  const bw = st?.levels?.namespace;
  if (bw?.warm) {
    out.push({
      target: 'warm pool: spawn → first tool call p50 ≤ 10 ms, p99 ≤ 25 ms (bubblewrap)',
      measured: `${bw.level}: warm p50 ${fmt(bw.warm.p50, 1)} ms, p99 ${fmt(bw.warm.p99, 1)} ms (cold ${fmt(bw.cold?.p50, 1)} / ${fmt(bw.cold?.p99, 1)} ms; ${bw.warm.warmSpawns}/${bw.warm.n} from the pool)`,
      status: status(bw.level === 'bubblewrap' && bw.warm.p50 <= 10 && bw.warm.p99 <= 25),
    });
  } else if (st) {
    out.push({
      target: 'warm pool: spawn → first tool call p50 ≤ 10 ms, p99 ≤ 25 ms (bubblewrap)',
      measured: st.skipped ?? bw?.skipped ?? bw?.warmError ?? 'not measured',
      status: 'n/a',
    });
  }
  const burst = st?.burst;
  if (burst && !burst.error) {
    const d = burst.loopDelayMs;
    out.push({
      target: `parent event-loop delay p99 ≤ 20 ms during a ${burst.count}-spawn burst at maxConcurrent ${burst.maxConcurrent}`,
      measured: `${burst.level}: p99 ${fmt(d.p99, 1)} ms, max ${fmt(d.max, 1)} ms; ${fmt(burst.spawnsPerSec, 1)} spawns/s (child start-up CPU ${fmt(burst.childCpuMsPerSpawn, 1)} ms: floor ${fmt(burst.floorSpawnsPerSec)}/s)`,
      status: status(d.p99 <= 20 && burst.completed === burst.count),
    });
  }
  const pol = results.suites.policy?.rows?.find((r) => r.rules === 100_000);
  if (pol) {
    out.push({
      target: '≥ 2,000,000 host decisions/s at 100,000 rules',
      measured: `${fmt(pol.opsPerSec)}/s`,
      status: status(pol.opsPerSec >= 2_000_000),
    });
  }
  const cc = sp?.concurrency;
  if (cc && !cc.error) {
    out.push({
      target: '≥ 200 concurrent subagents',
      measured: `${cc.maxStable} held stable for ${cc.holdSeconds} s (${cc.level})`,
      status: status(cc.maxStable >= 200),
    });
  }
  return out;
}

// Gateway, HTTP forward: wrk with keep-alive at 1, 16 and 64 connections, ~100-byte responses,
// absolute-form requests with Proxy-Authorization. Direct (the limit) vs ours vs the peers, run
// interleaved (the order rotates every repetition), medians of the repetitions. Proxy CPU µs per
// request comes from /proc/PID/stat of the proxy's process tree around each run.
import { startOrigin } from '../lib/peers.mjs';
import { runWrk, writeWrkScript } from '../lib/wrk.mjs';
import { treeCpuMicros } from '../lib/cpu.mjs';
import { median } from '../lib/stats.mjs';
import { traceLogWrites } from '../lib/syscalls.mjs';

export const CONNECTIONS = [1, 16, 64];

function rotate(list, k) {
  const n = list.length;
  return list.map((_, i) => list[(i + k) % n]);
}

/**
 * @param {{ quick: boolean, reps: number, seconds: number, dir: string, log: (m: string) => void, proxies: Array<{ name: string, start: Function }>, nodeArgsFor: (name: string) => string[] }} ctx
 */
export async function run(ctx) {
  const origin = await startOrigin();
  const script = writeWrkScript(ctx.dir);
  const ports = [origin.httpPort, origin.tcpPort];
  const absolute = `http://${origin.host}:${origin.httpPort}/`;
  const hostHeader = `${origin.host}:${origin.httpPort}`;
  const running = [];
  const result = {
    seconds: ctx.seconds,
    reps: ctx.reps,
    connections: CONNECTIONS,
    targets: {},
    runs: [],
    notes: [],
  };
  try {
    const targets = [
      { name: 'direct', url: `http://${hostHeader}`, path: '/', pid: origin.pid, direct: true },
    ];
    for (const peer of ctx.proxies) {
      try {
        const r = await peer.start({ ports, dir: ctx.dir, nodeArgs: ctx.nodeArgsFor(peer.name) });
        running.push({ peer, r });
        targets.push({
          name: peer.name,
          url: r.url,
          path: absolute,
          pid: r.pid,
          authorization: r.authorization,
          handle: r,
        });
      } catch (e) {
        result.notes.push(`${peer.name}: failed to start (${e.message.slice(0, 300)})`);
        ctx.log(`  ! ${peer.name} failed to start: ${e.message.slice(0, 300)}`);
      }
    }
    const sent = new Map(targets.map((t) => [t.name, { requests: 0, connections: 0 }]));
    const once = async (t, c, seconds) => {
      const conns0 = await origin.stats();
      const cpu0 = treeCpuMicros(t.pid);
      const w = await runWrk({
        script,
        connectTo: t.url,
        path: t.path,
        host: hostHeader,
        authorization: t.authorization ?? (t.direct ? '' : 'Basic YmVuY2g6YmVuY2g='),
        connections: c,
        threads: c >= 16 ? 2 : 1,
        seconds,
      });
      const cpu = treeCpuMicros(t.pid) - cpu0;
      // Each stats request is itself one connection, subtracted in stats().
      const originConns = (await origin.stats()) - conns0;
      const s = sent.get(t.name);
      s.requests += w.requests;
      s.connections += c;
      return {
        ...w,
        cpuUsPerReq: w.requests > 0 ? cpu / w.requests : NaN,
        cpuUtil: cpu / w.durationUs,
        originConnsPer1kReq: w.requests > 0 ? (originConns / w.requests) * 1000 : NaN,
      };
    };
    ctx.log(`  warm-up (${targets.map((t) => t.name).join(', ')})`);
    for (const t of targets) await once(t, 16, ctx.quick ? 1 : 2);
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const [ci, c] of CONNECTIONS.entries()) {
        for (const t of rotate(targets, rep + ci)) {
          const r = await once(t, c, ctx.seconds);
          result.runs.push({ target: t.name, connections: c, rep, ...r });
          ctx.log(
            `  rep ${rep + 1}/${ctx.reps} c=${String(c).padStart(2)} ${t.name.padEnd(15)} ${Math.round(r.rps).toString().padStart(6)} req/s  p50 ${(r.p50Us / 1000).toFixed(2)} ms  p99 ${(r.p99Us / 1000).toFixed(2)} ms  ${r.cpuUsPerReq.toFixed(1)} µs CPU/req  ${r.originConnsPer1kReq.toFixed(1)} origin conns/1k req${r.errors ? `  ${r.errors} errors` : ''}`,
          );
        }
      }
    }
    // Not timed: how the audit log is written under load (strace on every thread of our gateway).
    const oursT = targets.find((t) => t.handle?.auditPath !== undefined);
    if (oursT !== undefined) {
      try {
        result.auditSyscalls = await traceLogWrites(oursT.pid, oursT.handle.auditPath, ctx.dir, () =>
          once(oursT, 16, 2),
        );
        if (result.auditSyscalls !== null) {
          const a = result.auditSyscalls;
          ctx.log(
            `  audit log under strace: ${a.requests} requests, ${a.logWrites} writes to the log (${a.logBytes} bytes), ${a.syncCalls} fsync-family calls`,
          );
        }
      } catch (e) {
        result.notes.push(`strace check failed: ${e.message.slice(0, 200)}`);
      }
    }
    for (const t of targets) {
      const byC = {};
      for (const c of CONNECTIONS) {
        const rs = result.runs.filter((r) => r.target === t.name && r.connections === c);
        byC[c] = {
          rps: median(rs.map((r) => r.rps)),
          p50Ms: median(rs.map((r) => r.p50Us / 1000)),
          p99Ms: median(rs.map((r) => r.p99Us / 1000)),
          cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
          cpuUtil: median(rs.map((r) => r.cpuUtil)),
          originConnsPer1kReq: median(rs.map((r) => r.originConnsPer1kReq)),
          errors: rs.reduce((a, r) => a + r.errors, 0),
        };
      }
      result.targets[t.name] = { cpuOf: t.direct ? 'origin' : 'proxy', byConnections: byC };
    }
    // Audit completeness: every request our gateway answered must be in the audit file after a
    // clean stop (wrk cuts requests in flight at the end of a run, so up to one per connection
    // may be audited without being counted by wrk).
    for (const { peer, r } of running.splice(0)) {
      const info = await r.stop();
      if (info.auditDecisions !== undefined) {
        const s = sent.get(peer.name);
        result.audit = {
          decisions: info.auditDecisions,
          closes: info.auditCloses,
          requestsCompleted: s.requests,
          inFlightBound: s.connections,
          complete: info.auditDecisions >= s.requests && info.auditDecisions <= s.requests + s.connections,
        };
      }
    }
  } finally {
    for (const { r } of running) await r.stop().catch(() => {});
    await origin.stop();
  }
  return result;
}

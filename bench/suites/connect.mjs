// Gateway, CONNECT: bulk tunnel throughput (one tunnel, N bytes origin -> client) and tunnel
// setups/s with 8 concurrent clients (connect, CONNECT, 200, one byte echoed end to end, close).
// Load comes from bench/clients/connect-client.mjs in its own process.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOrigin } from '../lib/peers.mjs';
import { runCommand } from '../lib/procs.mjs';
import { treeCpuMicros } from '../lib/cpu.mjs';
import { median } from '../lib/stats.mjs';

const client = join(dirname(fileURLToPath(import.meta.url)), '..', 'clients', 'connect-client.mjs');

function rotate(list, k) {
  return list.map((_, i) => list[(i + k) % list.length]);
}

async function clientRun(mode, args, timeoutMs) {
  const r = await runCommand(process.execPath, [client, mode, JSON.stringify(args)], { timeoutMs });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  const j = line ? JSON.parse(line) : { error: `client exited ${r.code}: ${r.stderr.slice(-300)}` };
  if (j.error) throw new Error(j.error);
  return j;
}

/**
 * @param {{ quick: boolean, reps: number, dir: string, log: (m: string) => void, proxies: Array<{ name: string, start: Function }>, nodeArgsFor: (name: string) => string[] }} ctx
 */
export async function run(ctx) {
  const origin = await startOrigin();
  const ports = [origin.httpPort, origin.tcpPort];
  const target = `${origin.host}:${origin.tcpPort}`;
  const bytes = ctx.quick ? 256 * 1024 * 1024 : 1024 * 1024 * 1024;
  const setupSeconds = ctx.quick ? 2 : 4;
  const concurrency = 8;
  const running = [];
  const result = {
    bulkBytes: bytes,
    setupSeconds,
    concurrency,
    reps: ctx.reps,
    targets: {},
    runs: [],
    notes: [],
  };
  try {
    const targets = [{ name: 'direct', proxy: null, pid: origin.pid, direct: true }];
    for (const peer of ctx.proxies) {
      try {
        const r = await peer.start({ ports, dir: ctx.dir, nodeArgs: ctx.nodeArgsFor(peer.name) });
        running.push({ peer, r });
        targets.push({
          name: peer.name,
          proxy: r.url.replace('http://', ''),
          pid: r.pid,
          auth: r.authorization,
        });
      } catch (e) {
        result.notes.push(`${peer.name}: failed to start (${e.message.slice(0, 300)})`);
        ctx.log(`  ! ${peer.name} failed to start: ${e.message.slice(0, 300)}`);
      }
    }
    const base = (t) => ({
      proxy: t.proxy,
      auth: t.auth ?? (t.direct ? undefined : 'Basic YmVuY2g6YmVuY2g='),
      target,
    });
    // Warm-up: JIT and connection paths of the Node proxies.
    for (const t of targets) {
      await clientRun('setups', { ...base(t), concurrency, seconds: 0.5 }, 30_000).catch(() => {});
      await clientRun('bulk', { ...base(t), bytes: 32 * 1024 * 1024 }, 60_000).catch(() => {});
    }
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const t of rotate(targets, rep)) {
        const row = { target: t.name, rep };
        try {
          let cpu0 = treeCpuMicros(t.pid);
          const b = await clientRun('bulk', { ...base(t), bytes }, 300_000);
          row.mbPerSec = b.mbPerSec;
          row.cpuMsPerGb = (treeCpuMicros(t.pid) - cpu0) / 1000 / (b.bytes / 1e9);
          cpu0 = treeCpuMicros(t.pid);
          const s = await clientRun(
            'setups',
            { ...base(t), concurrency, seconds: setupSeconds },
            (setupSeconds + 60) * 1000,
          );
          row.setupsPerSec = s.perSec;
          row.setupP50Ms = s.p50Ms;
          row.setupP99Ms = s.p99Ms;
          row.setupErrors = s.errors;
          row.cpuUsPerSetup = s.setups > 0 ? (treeCpuMicros(t.pid) - cpu0) / s.setups : NaN;
          if (s.errors > 0) row.lastError = s.lastError;
        } catch (e) {
          row.error = e.message.slice(0, 300);
        }
        result.runs.push(row);
        ctx.log(
          `  rep ${rep + 1}/${ctx.reps} ${t.name.padEnd(15)} ${row.error ? `ERROR ${row.error}` : `${Math.round(row.mbPerSec)} MB/s (${Math.round(row.cpuMsPerGb)} ms CPU/GB)  ${Math.round(row.setupsPerSec)} setups/s p99 ${row.setupP99Ms?.toFixed(1)} ms (${Math.round(row.cpuUsPerSetup)} µs CPU/setup)`}`,
        );
      }
    }
    for (const t of targets) {
      const rs = result.runs.filter((r) => r.target === t.name && r.error === undefined);
      result.targets[t.name] = {
        cpuOf: t.direct ? 'origin' : 'proxy',
        mbPerSec: median(rs.map((r) => r.mbPerSec)),
        cpuMsPerGb: median(rs.map((r) => r.cpuMsPerGb)),
        setupsPerSec: median(rs.map((r) => r.setupsPerSec)),
        setupP50Ms: median(rs.map((r) => r.setupP50Ms)),
        setupP99Ms: median(rs.map((r) => r.setupP99Ms)),
        cpuUsPerSetup: median(rs.map((r) => r.cpuUsPerSetup)),
        errors: result.runs
          .filter((r) => r.target === t.name)
          .reduce((a, r) => a + (r.setupErrors ?? 0) + (r.error ? 1 : 0), 0),
      };
    }
    for (const { peer, r } of running.splice(0)) {
      const info = await r.stop();
      if (info.auditDecisions !== undefined)
        result.audit = { peer: peer.name, decisions: info.auditDecisions, closes: info.auditCloses };
    }
  } finally {
    for (const { r } of running) await r.stop().catch(() => {});
    await origin.stop();
  }
  return result;
}

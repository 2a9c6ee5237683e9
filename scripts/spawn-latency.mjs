#!/usr/bin/env node
// Spawn latency by phase, per isolation level (uses build/src: run after `npm run build:test`, and
// `node scripts/bundle-runtime.mjs build/src` to measure the bundled runtime the package ships).
//   node scripts/spawn-latency.mjs [N=20] [levels=bubblewrap,unshare,process]
// Per level, N sequential spawns through the orchestrator with a `ping` tool:
//   ready  = spawn() → the child's 'ready' (sandbox exec + node boot + runtime import)
//   call   = spawn() → the parent's handler of the first ctx.tools.call
// plus a bare child_process.fork baseline. Prints p50/p90 in ms and the child CPU ms: for the
// sandboxes, the CPU time of every process of the sandbox at the moment of its first tool call
// (read from /proc: namespaced sandboxes are SIGKILLed through their wrappers, so the reaped-children
// counters would miss them); for fork, the reaped-children counters.
import { fork } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';

const root = new URL('../', import.meta.url);
const { createOrchestrator } = await import(new URL('build/src/spawner/orchestrator.js', root).href);
const { detectIsolation } = await import(new URL('build/src/sandbox/index.js', root).href);

const N = Number(process.argv[2] ?? 20);
const levels = (process.argv[3] ?? 'bubblewrap,unshare,process').split(',');
const dir = mkdtempSync(join(tmpdir(), 'sglat-'));
// A root orchestrator runs process-level children as uid 65534: the agent must be readable to it.
chmodSync(dir, 0o755);
writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
writeFileSync(
  join(dir, 'ping.mjs'),
  'export default async (t, ctx) => { await ctx.tools.call("ping", {}); return 1; };',
);
writeFileSync(join(dir, 'fork.mjs'), 'process.send("ready"); process.on("message", () => process.exit(0));');

import { readdirSync, readFileSync } from 'node:fs';
const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU ms (utime + stime) of every live descendant of this process. */
function descendantsCpuMs() {
  const children = new Map();
  const cpu = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(e));
      cpu.set(Number(e), (Number(f[11]) + Number(f[12])) * TICK_MS);
    } catch {
      // exited meanwhile
    }
  }
  let total = 0;
  const queue = [...(children.get(process.pid) ?? [])];
  while (queue.length > 0) {
    const pid = queue.pop();
    total += cpu.get(pid) ?? 0;
    queue.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** CPU ms of reaped children (cutime + cstime): steady under load, unlike wall time. */
function childCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
}
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const fmt = (xs) =>
  `p50 ${pct(xs, 50).toFixed(1).padStart(6)}  p90 ${pct(xs, 90).toFixed(1).padStart(6)}  child CPU/spawn ${xs.cpu.toFixed(1).padStart(6)}`;

async function forkBaseline() {
  const lat = [];
  const cpu0 = childCpuMs();
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const child = fork(join(dir, 'fork.mjs'), [], { env: {}, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    await new Promise((r) => child.once('message', r));
    lat.push(performance.now() - t0);
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
  lat.cpu = (childCpuMs() - cpu0) / N;
  return lat;
}

function config() {
  const agent = (entry) => ({
    name: entry,
    role: 'subagent',
    description: undefined,
    entry: join(dir, 'ping.mjs'),
    proxy: undefined,
    tools: { allowed: ['ping'], denied: [] },
    constraints: {
      maxMemoryMb: 256,
      maxApiCalls: 50,
      maxCostUsd: 0,
      timeoutSeconds: 30,
      noMemoryPersistence: true,
    },
    network: {
      egressOnly: true,
      allowedDomains: [],
      blockedPorts: [],
      allowedPorts: [80, 443],
      allowedCidrs: [],
      logAllTraffic: true,
      maxEgressBytes: 1e7,
    },
    subagents: {
      allowAgents: [],
      maxConcurrent: 1,
      maxChildren: 1,
      maxSpawnDepth: 1,
      maxSpawnsPerMinute: 10,
    },
    notes: {},
  });
  return {
    format: 'security-proxy',
    source: 'latency',
    baseDir: dir,
    gateway: {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: undefined,
      connectTimeoutMs: 5000,
      dnsTimeoutMs: 2000,
      idleTimeoutMs: 30000,
      maxTunnels: 64,
      maxTunnelsPerSubagent: 8,
      maxRequestsPerSecond: 1000,
    },
    audit: { path: undefined, level: 'info' },
    agents: {
      main: {
        ...agent('main'),
        role: 'parent',
        entry: undefined,
        subagents: {
          allowAgents: '*',
          maxConcurrent: 1,
          maxChildren: 4,
          maxSpawnDepth: 1,
          maxSpawnsPerMinute: 100000,
        },
      },
      ping: agent('ping'),
    },
    ignored: [],
  };
}

async function level(isolation) {
  const pings = new Map();
  const sandboxCpu = [];
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const orchestrator = await createOrchestrator({
    config: config(),
    logger: pino({ level: 'info' }, sink),
    isolation,
    tools: {
      ping: {
        description: 'marker',
        inputSchema: { type: 'object' },
        handler: async (_a, ctx) => {
          const t = performance.now();
          sandboxCpu.push(descendantsCpuMs());
          pings.get(ctx.subagentId)?.(t);
          return 1;
        },
      },
    },
  });
  const call = [];
  let cpu0 = 0;
  let self0 = process.cpuUsage();
  try {
    for (let i = 0; i < N + 2; i++) {
      const t0 = performance.now();
      let hit;
      const pinged = new Promise((r) => (hit = r));
      const h = orchestrator.spawn({ parent: 'main', agent: 'ping', task: {} });
      pings.set(h.id, hit);
      const t = await Promise.race([
        pinged,
        h.result.then((o) => {
          throw new Error(JSON.stringify(o));
        }),
      ]);
      const o = await h.result;
      if (o.status !== 'completed') throw new Error(JSON.stringify(o));
      if (i >= 2) call.push(t - t0); // two warm-up spawns
      if (i === 1) {
        cpu0 = childCpuMs();
        self0 = process.cpuUsage();
      }
    }
  } finally {
    await orchestrator.close();
  }
  call.cpu = sandboxCpu.slice(2).reduce((a, b) => a + b, 0) / N;
  call.reapedCpu = (childCpuMs() - cpu0) / N;
  const self = process.cpuUsage(self0);
  call.parentCpu = (self.user + self.system) / 1000 / N;
  return call;
}

const { available } = await detectIsolation();
console.log(`node ${process.version}, ${N} spawns per level, ms`);
console.log(`${'fork (limit)'.padEnd(14)} first IPC   ${fmt(await forkBaseline())}`);
for (const l of levels) {
  if (!available.includes(l)) {
    console.log(`${l.padEnd(14)} not available`);
    continue;
  }
  const r = await level(l);
  console.log(
    `${l.padEnd(14)} first call  ${fmt(r)}  parent CPU/spawn ${r.parentCpu.toFixed(1).padStart(6)}`,
  );
}
rmSync(dir, { recursive: true, force: true });

/**
 * Harness for spawner integration tests: tiny agent programs written to a temp dir, a loopback
 * "allowed API" and a trap server, a test resolver, and leftover checks (processes, temp dirs,
 * sockets) that every test runs after each subagent and after close().
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Agent programs (plain ESM, default export = the subagent function). */
export const AGENT_SOURCES: Readonly<Record<string, string>> = {
  'echo.mjs': `export default async (task, ctx) => ({ echo: task, id: ctx.id, agent: ctx.agent });`,
  'tools.mjs': `export default async (task, ctx) => {
  const out = [];
  for (const c of task.calls) {
    try { out.push({ ok: true, value: await ctx.tools.call(c.name, c.args) }); }
    catch (e) { out.push({ ok: false, code: e?.code ?? null, message: String(e?.message ?? e) }); }
  }
  return out;
};`,
  'loop-tools.mjs': `export default async (task, ctx) => {
  for (let i = 0; i < task.times; i++) await ctx.tools.call(task.name, task.args);
  return 'done';
};`,
  // Tool calls in order, then one direct fetch: what each path spends of max_api_calls.
  'tools-then-fetch.mjs': `export default async (task, ctx) => {
  const out = [];
  for (const c of task.calls) out.push(await ctx.tools.call(c.name, c.args).then(() => 'ok', (e) => e?.code ?? 'error'));
  const res = await fetch(task.url);
  await res.text();
  return { tools: out, status: res.status };
};`,
  'fetch.mjs': `export default async (task) => {
  const res = await fetch(task.url);
  const body = await res.text();
  return { status: res.status, bytes: body.length };
};`,
  'spawner.mjs': `export default async (task, ctx) => ({ nested: await ctx.spawn(task.agent, task.task) });`,
  'crash.mjs': `export default async () => { throw new Error('deliberate failure'); };`,
  'exit.mjs': `export default async () => { process.exit(7); };`,
  'sleeper.mjs': `export default async (task) => { await new Promise((r) => setTimeout(r, task.ms)); return 'slept'; };`,
  'env.mjs': `export default async () => ({ keys: Object.keys(process.env).sort(), proxy: process.env.HTTP_PROXY ?? null });`,
  'log.mjs': `export default async (task, ctx) => { ctx.log('hello from the child', { n: 1 }); return 'logged'; };`,
  // Prints to both streams, once with its own proxy credential (which must be masked in the audit log).
  'print.mjs': `export default async (task, ctx) => {
  process.stdout.write('hello on stdout\\n');
  process.stderr.write('proxy is ' + process.env.HTTP_PROXY + '\\n');
  ctx.log('logged ' + process.env.HTTP_PROXY, { proxy: process.env.HTTP_PROXY });
  return 'printed';
};`,
  // Reports whether the egress dispatcher loaded undici before/after a request, and tries to replace it.
  'lazy.mjs': `export default async (task) => {
  const slot = Symbol.for('undici.globalDispatcher.1');
  const d = globalThis[slot];
  const before = d.loaded;
  const res = await fetch(task.url);
  await res.text();
  let replaced = true;
  try { Object.defineProperty(globalThis, slot, { value: { dispatch: () => false } }); } catch { replaced = false; }
  return { before, after: d.loaded, status: res.status, frozen: Object.isFrozen(d), replaced, same: globalThis[slot] === d };
};`,
  // A WebSocket round trip (Node's global WebSocket, so through the global dispatcher).
  'websocket.mjs': `export default async (task) => new Promise((resolve) => {
  const ws = new WebSocket(task.url);
  const timer = setTimeout(() => resolve({ error: 'timeout' }), 5000);
  ws.onopen = () => ws.send('ping');
  ws.onmessage = (e) => { clearTimeout(timer); ws.close(); resolve({ got: String(e.data) }); };
  ws.onerror = (e) => { clearTimeout(timer); resolve({ error: String(e.message ?? e.type) }); };
});`,
  'stderr-exit.mjs': `export default async () => { process.stderr.write('fatal: the widget config is missing\\n'); process.exit(3); };`,
  // Hands its proxy credential to the parent's 'report' tool, then waits to be terminated.
  'report.mjs': `export default async (task, ctx) => {
  await ctx.tools.call('report', { proxy: process.env.HTTP_PROXY ?? '' });
  await new Promise((r) => setTimeout(r, 30000));
  return 'not terminated';
};`,
  // Uses every metered resource once or twice: a brokered fetch, a direct fetch, a paid tool, memory.
  'usage.mjs': `export default async (task, ctx) => {
  await ctx.tools.call('web_fetch', { url: task.url });
  const res = await fetch(task.url);
  const text = await res.text();
  await ctx.tools.call('paid', {});
  const keep = Buffer.alloc(24 * 1024 * 1024, 1);
  await new Promise((r) => setTimeout(r, 150));
  return { fetched: text.length, kept: keep.length };
};`,
  // Speaks garbage on the IPC stream (fd 3), bypassing the runtime: a broken or hostile runtime.
  'garbage.mjs': `import { writeSync } from 'node:fs';
export default async () => {
  writeSync(3, Buffer.from([0, 0, 0, 5, 0x7b, 0x7b, 0x7b, 0x7b, 0x7b]));
  await new Promise((r) => setTimeout(r, 5000));
  return 'unreachable';
};`,
  // A valid result frame whose output is over the parent's output cap (but under the frame cap).
  'oversize.mjs': `import { writeSync } from 'node:fs';
export default async () => {
  const body = Buffer.from(JSON.stringify({ type: 'result', ok: true, output: 'x'.repeat(900 * 1024) }));
  const head = Buffer.alloc(4); head.writeUInt32BE(body.length);
  const frame = Buffer.concat([head, body]);
  // fd 3 is non-blocking: keep writing after EAGAIN so the frame arrives whole (a torn frame
  // would test something else).
  for (let off = 0; off < frame.length; ) {
    try { off += writeSync(3, frame, off); }
    catch (e) { if (e.code !== 'EAGAIN') throw e; await new Promise((r) => setTimeout(r, 1)); }
  }
  await new Promise((r) => setTimeout(r, 5000));
  return 'unreachable';
};`,
};

/** Writes the agent programs into a fresh temp dir; returns it. */
export function writeAgents(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sgtest-agents-'));
  // Readable to the unprivileged uid that process-level children run as under a root orchestrator.
  chmodSync(dir, 0o755);
  for (const [name, src] of Object.entries(AGENT_SOURCES)) writeFileSync(join(dir, name), src);
  return dir;
}

/** Removes a temp dir written by {@link writeAgents}. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** An HTTP server on a loopback address; counts connections. */
export interface LoopbackServer {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  connections(): number;
  close(): Promise<void>;
}

/** Starts a loopback server answering `/small` (JSON) and `/big?bytes=N`. */
export async function startLoopbackServer(host: string): Promise<LoopbackServer> {
  let connections = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/big') {
      const n = Number(url.searchParams.get('bytes') ?? '0');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
      res.end(Buffer.alloc(n, 0x61));
      return;
    }
    if (url.pathname === '/chain') {
      // /chain?n=K redirects K times (to /chain?n=K-1) and then answers /small.
      const n = Number(url.searchParams.get('n') ?? '0');
      res.writeHead(n > 0 ? 302 : 200, n > 0 ? { location: `/chain?n=${n - 1}` } : {});
      res.end(n > 0 ? '' : 'end of chain');
      return;
    }
    if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/small' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'session=SECRET' });
    res.end(JSON.stringify({ hello: 'world', items: [1, 2, 3] }));
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return {
    server,
    host,
    port: addr.port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A resolver that knows only the given names (everything else: ENOTFOUND) and records every query. */
export function testResolver(map: Record<string, string>): {
  resolver: (name: string) => Promise<{ address: string; family: 4 | 6 }[]>;
  queries: string[];
} {
  const queries: string[] = [];
  return {
    queries,
    resolver: (name) => {
      queries.push(name);
      const address = map[name];
      if (address === undefined) {
        return Promise.reject(Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
      }
      return Promise.resolve([{ address, family: address.includes(':') ? 6 : 4 }]);
    },
  };
}

/** Pids of live processes whose command line contains `marker`. */
export function processesMatching(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Zombies (state Z) are already dead; they only wait to be reaped.
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && cmd.includes(marker)) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** The memory cgroup path of a process (cgroup v1's memory controller, else the v2 unified one). */
function memoryCgroupOf(pid: string): string | null {
  let unified: string | null = null;
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (controllers.split(',').includes('memory')) return path;
    if (controllers === '') unified = path;
  }
  return unified;
}

/** A live process inside a sandbox cgroup, and that cgroup's name. */
export interface OwnedProcess {
  readonly pid: number;
  readonly cgroup: string;
}

/**
 * Live (not zombie) processes inside the memory cgroups of the sandboxes of ONE orchestrator, the
 * one running as `ownerPid`: a sandbox's cgroup is named `<sandbox id>.<owner pid>-<start time>`
 * (src/sandbox/park.ts), a parked launcher's `sg-park-<owner pid>-…` (only with `parked: true`).
 * Another test run on the same host never counts, and no process of a sandbox is missed
 * whatever its name or command line: a process cannot leave its cgroup, and a cgroup with a
 * process in it cannot be removed. Empty where the host gives sandboxes no cgroup.
 */
export function sandboxProcessesOf(
  ownerPid: number,
  opts: { readonly parked?: boolean } = {},
): OwnedProcess[] {
  const own = new RegExp(`\\.${ownerPid}-\\d+$`);
  const park = `sg-park-${ownerPid}-`;
  const out: OwnedProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const path = memoryCgroupOf(entry);
      const name = path?.slice(path.lastIndexOf('/') + 1) ?? '';
      if (!own.test(name) && !(opts.parked === true && name.startsWith(park))) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      out.push({ pid: Number(entry), cgroup: name });
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/**
 * The pid of the orchestrator whose sandbox (or parked launcher) cgroup `pid` is in, or null if
 * it is in none (no cgroups here, a sandbox that runs without one, or not a sandbox at all).
 */
export function sandboxOwnerOf(pid: number): number | null {
  try {
    const path = memoryCgroupOf(String(pid)) ?? '';
    const name = path.slice(path.lastIndexOf('/') + 1);
    const m = /\.(\d+)-\d+$/.exec(name) ?? /^sg-park-(\d+)-/.exec(name);
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Direct children of this process that are still alive (not zombies). `exceptParked` leaves out an
 * open orchestrator's parked launcher (an idle shell in an `sg-park-*` cgroup, not a subagent):
 * for checks made while an orchestrator is still open; after close() nothing may be left at all.
 */
export function liveChildren(opts: { readonly exceptParked?: boolean } = {}): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || Number(rest[1]) !== process.pid) continue;
      if (
        opts.exceptParked === true &&
        readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('/sg-park-')
      )
        continue;
      out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** Names in the temp dir that look like ours (scratch dirs, socket dirs). */
export function tempEntries(): string[] {
  return readdirSync(tmpdir())
    .filter((n) => n.startsWith('sg-') || n.startsWith('subagent-guard-'))
    .sort();
}

/** ESTABLISHED TCP connections (IPv4 and IPv6) with `port` at either end. */
export function establishedOnPort(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const local = cols[1] ?? '';
      const remote = cols[2] ?? '';
      if (cols[3] === '01' && (local.endsWith(`:${hex}`) || remote.endsWith(`:${hex}`))) count += 1;
    }
  }
  return count;
}

/** Polls `check` until it returns true or `ms` pass (see helpers/eventually.ts). */
export { waitUntil as eventually } from './eventually.js';

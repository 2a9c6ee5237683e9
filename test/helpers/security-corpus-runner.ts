/**
 * Runs the whole SSRF corpus inside a network namespace (`unshare -Urn`) and prints one JSON line
 * of results ({@link CorpusReport}) on stdout.
 *
 * The namespace has nothing but its own loopback, so even a gateway bug that dialled
 * 169.254.169.254 could not leave the machine: the metadata and private addresses of the corpus
 * are added to `lo` and carry TRAP listeners instead, which count every connection. The gateway,
 * origins, traps and clients all live in this one process.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, isIP, type Server as NetServer } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { fetch, ProxyAgent } from 'undici';
import { createEgressGateway, type Resolver } from '../../src/gateway/index.js';
import { CASES } from '../security/ssrf-cases.js';
import {
  DNS_TABLE,
  ORIGIN_ADDRESSES,
  SUBAGENTS,
  TRAP_ADDRESSES,
  TRAP_EXTRA_PORTS,
  type SsrfCase,
  type Subagent,
} from '../security/ssrf-corpus-setup.js';

/** One audited decision, as the test needs it. */
export interface DecisionSeen {
  decision: string;
  reason: string;
  status: number;
  address: string | null;
  subagentId: string | null;
}

/** The outcome of one case. */
export interface CaseResult {
  id: string;
  /** Status of the first response (0: none / client error). */
  status: number;
  statuses: number[];
  proxyStatus: string | null;
  clientError: string | null;
  decisions: DecisionSeen[];
  trapHits: number;
  originHits: number;
  lookups: string[];
  /** Lower-case header names the origin received in the case's last request. */
  originHeaders: string[];
  ms: number;
}

/** Everything the runner reports. */
export interface CorpusReport {
  node: string;
  trapListeners: string[];
  trapSetupFailures: string[];
  results: CaseResult[];
  trapTotal: number;
  decisionsTotal: number;
  credentialInLog: boolean;
  healthStatus: number;
  durationMs: number;
}

const started = performance.now();

function sh(args: string[]): boolean {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function listenOn(server: Server | NetServer, host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, host, () => {
      resolve(true);
    });
  });
}

// ---- network: loopback up, prohibited addresses on lo ------------------------------------------------
if (!sh(['link', 'set', 'lo', 'up'])) throw new Error('cannot bring lo up in the namespace');
const setupFailures: string[] = [];
for (const a of [...TRAP_ADDRESSES, ...ORIGIN_ADDRESSES]) {
  if (a === '127.0.0.9' || a === '127.0.0.2' || a === '::1') continue;
  const ok =
    isIP(a) === 6
      ? sh(['-6', 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad'])
      : sh(['addr', 'add', `${a}/32`, 'dev', 'lo']);
  if (!ok) setupFailures.push(a);
}

// ---- traps -------------------------------------------------------------------------------------------
let trapHits = 0;
const servers: (Server | NetServer)[] = [];
const trapListeners: string[] = [];
const trapTargets: [string, number][] = [['127.0.0.1', 80]];
for (const a of TRAP_ADDRESSES) for (const p of [80, 443]) trapTargets.push([a, p]);
for (const p of TRAP_EXTRA_PORTS) trapTargets.push(['127.0.0.9', p]);
for (const [host, port] of trapTargets) {
  const s = createNetServer((sock) => {
    trapHits++;
    sock.destroy();
  });
  if (await listenOn(s, host, port)) {
    servers.push(s);
    trapListeners.push(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  } else setupFailures.push(`${host}:${port}`);
}

// ---- origins -----------------------------------------------------------------------------------------
let originHits = 0;
let lastOriginHeaders: string[] = [];
for (const host of ORIGIN_ADDRESSES) {
  const origin = createHttpServer((req, res) => {
    originHits++;
    lastOriginHeaders = req.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    const u = new URL(req.url ?? '/', 'http://origin');
    // Answer at once, without waiting for a body, so a declared-but-missing body never stalls.
    if (u.pathname === '/redirect') {
      res.writeHead(Number(u.searchParams.get('code') ?? '302'), {
        location: u.searchParams.get('to') ?? '/',
        'content-length': '0',
      });
      res.end();
      return;
    }
    const body = JSON.stringify({ host: req.headers.host ?? null, headers: lastOriginHeaders });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  origin.on('connection', () => {
    originHits++;
  });
  origin.on('upgrade', (req, sock) => {
    originHits++;
    lastOriginHeaders = req.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    const key = req.headers['sec-websocket-key'] ?? '';
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    sock.end(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
  });
  if (!(await listenOn(origin, host, 80))) throw new Error(`origin cannot listen on ${host}:80`);
  servers.push(origin);
}

// ---- resolver ----------------------------------------------------------------------------------------
const lookups: string[] = [];
const rebindCount = new Map<string, number>();
const resolver: Resolver = (name) => {
  lookups.push(name);
  const e = Object.hasOwn(DNS_TABLE, name) ? DNS_TABLE[name] : undefined;
  if (e === undefined || e === 'fail') return Promise.reject(new Error(`ENOTFOUND ${name}`));
  if (e === 'hang') return new Promise(() => undefined);
  let answer: readonly string[];
  if ('rebind' in e) {
    const n = rebindCount.get(name) ?? 0;
    rebindCount.set(name, n + 1);
    answer = e.rebind[Math.min(n, e.rebind.length - 1)] ?? [];
  } else answer = e;
  return Promise.resolve(answer.map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4 })));
};

// ---- gateway -----------------------------------------------------------------------------------------
const logLines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const l of chunk.toString('utf8').split('\n')) if (l !== '') logLines.push(l);
    cb();
  },
});
const gw = await createEgressGateway({
  resolver,
  logger: pino({ level: 'info' }, sink),
  dnsTimeoutMs: 250,
  connectTimeoutMs: 1000,
  maxRequestsPerSecond: 10_000,
});
const auth = new Map<Subagent, { header: string; proxyUrl: string; password: string }>();
for (const [name, network] of Object.entries(SUBAGENTS) as [Subagent, Record<string, unknown>][]) {
  const cred = gw.register({ id: `corpus-${name}`, agent: 'untrusted', parent: 'main', network });
  auth.set(name, {
    header: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`,
    proxyUrl: cred.proxyUrl,
    password: cred.password,
  });
}
gw.revoke('corpus-revoked');
const gwPort = gw.address.port;

// ---- clients -----------------------------------------------------------------------------------------
interface RawOutcome {
  statuses: number[];
  proxyStatus: string | null;
}

/** Reads responses until `want` are complete, the peer closes, or a tunnel/upgrade is established. */
function rawSend(bytes: Buffer, want: number): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = connect(gwPort, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const statuses: number[] = [];
    let proxyStatus: string | null = null;
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ statuses, proxyStatus });
    };
    const timer = setTimeout(done, 3000);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        const status = m?.[1] === undefined ? 0 : Number(m[1]);
        statuses.push(status);
        const ps = /\r\nproxy-status: ([^\r]*)/i.exec(head);
        if (ps?.[1] !== undefined) proxyStatus = ps[1];
        if (status === 101 || (status === 200 && bytes.subarray(0, 8).toString('latin1') === 'CONNECT ')) {
          done();
          return;
        }
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        const bodyLen = cl?.[1] === undefined ? 0 : Number(cl[1]);
        if (buf.length < end + 4 + bodyLen) return;
        buf = buf.subarray(end + 4 + bodyLen);
        if (statuses.length >= want) {
          done();
          return;
        }
      }
    });
    socket.on('close', done);
    socket.on('error', done);
    socket.write(bytes);
  });
}

function expand(data: string, header: string): Buffer {
  let s = data.replaceAll('{A}', `Proxy-Authorization: ${header}\r\n`).replaceAll('{AUTH}', header);
  if (s.includes('{CL}')) {
    // {CL} sits in the head, so the body length does not depend on its replacement.
    const body = s.slice(s.indexOf('\r\n\r\n') + 4);
    s = s.replace('{CL}', String(Buffer.byteLength(body, 'latin1')));
  }
  return Buffer.from(s, 'latin1');
}

async function fetchSend(
  url: string,
  proxyUrl: string,
  tunnel: boolean,
  redirect: 'manual' | 'follow',
): Promise<RawOutcome & { error: string | null }> {
  const dispatcher = new ProxyAgent({ uri: proxyUrl, proxyTunnel: tunnel });
  const ac = AbortSignal.timeout(3000);
  try {
    const r = await fetch(url, { dispatcher, redirect, signal: ac });
    await r.arrayBuffer();
    return { statuses: [r.status], proxyStatus: r.headers.get('proxy-status'), error: null };
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return {
      statuses: [],
      proxyStatus: null,
      error: `${err instanceof Error ? err.message : String(err)}${cause}`,
    };
  } finally {
    await dispatcher.destroy();
  }
}

function decisionsSince(from: number): DecisionSeen[] {
  const out: DecisionSeen[] = [];
  for (const line of logLines.slice(from)) {
    const r = JSON.parse(line) as Record<string, unknown>;
    if (r.event !== 'egress.decision') continue;
    out.push({
      decision: String(r.decision),
      reason: String(r.reason),
      status: Number(r.status),
      address: typeof r.address === 'string' ? r.address : null,
      subagentId: typeof r.subagentId === 'string' ? r.subagentId : null,
    });
  }
  return out;
}

async function runCase(c: SsrfCase): Promise<CaseResult> {
  const t0 = performance.now();
  const logFrom = logLines.length;
  const trapFrom = trapHits;
  const originFrom = originHits;
  const lookupFrom = lookups.length;
  lastOriginHeaders = [];
  const cred = auth.get(c.as);
  if (cred === undefined) throw new Error(`no credential for ${c.as}`);
  let outcome: RawOutcome & { error: string | null };
  if (c.send.kind === 'raw') {
    outcome = { ...(await rawSend(expand(c.send.data, cred.header), c.send.responses ?? 1)), error: null };
  } else {
    outcome = await fetchSend(c.send.url, cred.proxyUrl, c.send.tunnel, c.send.redirect ?? 'manual');
  }
  // Let close records and late events land before counting.
  await new Promise((r) => setTimeout(r, 5));
  return {
    id: c.id,
    status: outcome.statuses[0] ?? 0,
    statuses: outcome.statuses,
    proxyStatus: outcome.proxyStatus,
    clientError: outcome.error,
    decisions: decisionsSince(logFrom),
    trapHits: trapHits - trapFrom,
    originHits: originHits - originFrom,
    lookups: lookups.slice(lookupFrom),
    originHeaders: lastOriginHeaders,
    ms: Math.round((performance.now() - t0) * 10) / 10,
  };
}

const results: CaseResult[] = [];
for (const c of CASES) results.push(await runCase(c));

// The gateway must still serve after the whole corpus.
const std = auth.get('std');
const health =
  std === undefined
    ? { statuses: [0], proxyStatus: null }
    : await rawSend(expand('GET http://api.allowed.test/echo HTTP/1.1\r\n{A}\r\n', std.header), 1);
await gw.close();
for (const s of servers) s.close();

const log = logLines.join('\n');
const report: CorpusReport = {
  node: process.version,
  trapListeners,
  trapSetupFailures: setupFailures,
  results,
  trapTotal: trapHits,
  decisionsTotal: decisionsSince(0).length,
  credentialInLog: [...auth.values()].some(
    (a) => log.includes(a.password) || log.includes(a.header.slice(6)),
  ),
  healthStatus: health.statuses[0] ?? 0,
  durationMs: Math.round(performance.now() - started),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);

/**
 * `validateProxy`: black-box checks that ANY forward proxy refuses what a hardened egress proxy
 * must refuse. Traffic goes only to the proxy under test and to a loopback canary started here;
 * the prohibited destinations are only request targets the proxy is expected to refuse.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { redactProxyUrl } from './upstream.js';

/** One check's outcome. */
export interface ProxyCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

interface Reply {
  readonly status: number;
  readonly proxyStatus: string;
  readonly error?: string;
}

const REFUSED = new Set([400, 403, 421]);
const REFUSAL_TYPES = /error=(destination_ip_prohibited|http_request_denied|http_request_error)/;

/** Sends one request head to the proxy and reads the status line (and, after a 200 CONNECT, sends `then`). */
function ask(proxy: URL, head: string, timeoutMs: number, then?: string): Promise<Reply> {
  return new Promise((resolve) => {
    const s = connect(Number(proxy.port === '' ? 80 : proxy.port), proxy.hostname.replace(/^\[|\]$/g, ''));
    let buf = '';
    let settled = false;
    const done = (r: Reply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      // Give a forwarded follow-up request a moment to reach the canary before closing.
      setTimeout(() => s.destroy(), then === undefined ? 0 : 300).unref();
      resolve(r);
    };
    const t = setTimeout(() => {
      done({ status: 0, proxyStatus: '', error: 'timeout' });
    }, timeoutMs);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buf += d;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      const ps = /\r\nproxy-status:[ \t]*([^\r\n]*)/i.exec(buf.slice(0, end + 2));
      const status = m?.[1] === undefined ? 0 : Number(m[1]);
      if (then !== undefined && status === 200) s.write(then);
      done({ status, proxyStatus: ps?.[1] ?? '' });
    });
    s.on('error', (e) => {
      done({ status: 0, proxyStatus: '', error: e.message });
    });
    s.on('close', () => {
      done({ status: 0, proxyStatus: '', error: 'connection closed without an answer' });
    });
    s.write(head);
  });
}

function refused(r: Reply): boolean {
  return REFUSED.has(r.status) || REFUSAL_TYPES.test(r.proxyStatus);
}

function describe(r: Reply): string {
  if (r.status === 0) return r.error ?? 'no answer';
  return r.proxyStatus === '' ? `HTTP ${r.status}` : `HTTP ${r.status} (${r.proxyStatus})`;
}

async function startCanary(token: string): Promise<{ server: Server; port: number; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    if ((req.url ?? '').includes(token)) hits++;
    res.end('canary');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  return { server, port: typeof a === 'object' && a !== null ? a.port : 0, hits: () => hits };
}

/**
 * Runs every check against the proxy at `proxyUrl` (credentials in the URL are used for
 * Proxy-Authorization and never appear in any detail).
 */
export async function validateProxy(opts: {
  proxyUrl: string;
  allowedUrl?: string;
  timeoutMs?: number;
}): Promise<ProxyCheck[]> {
  const proxy = new URL(opts.proxyUrl);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const auth =
    proxy.username === '' && proxy.password === ''
      ? ''
      : `Proxy-Authorization: Basic ${Buffer.from(
          `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`,
        ).toString('base64')}\r\n`;
  const token = randomBytes(16).toString('hex');
  const canary = await startCanary(token);
  const results: ProxyCheck[] = [];
  const get = (target: string, host: string): string =>
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${auth}Connection: close\r\n\r\n`;
  const tunnel = (authority: string): string =>
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`;
  try {
    const cp = canary.port;
    const canaryTargets: [string, string][] = [
      ['canary via absolute-form GET (127.0.0.1)', `127.0.0.1:${cp}`],
      ['canary via localhost', `localhost:${cp}`],
      ['canary via decimal 2130706433', `2130706433:${cp}`],
      ['canary via hex 0x7f000001', `0x7f000001:${cp}`],
      ['canary via short 127.1', `127.1:${cp}`],
      ['canary via octal 0177.0.0.1', `0177.0.0.1:${cp}`],
    ];
    for (const [name, authority] of canaryTargets) {
      const before = canary.hits();
      const r = await ask(proxy, get(`http://${authority}/${token}`, authority), timeoutMs);
      const reached = canary.hits() > before;
      results.push({ name, ok: !reached, detail: reached ? 'the loopback canary was reached' : describe(r) });
    }
    {
      const before = canary.hits();
      const r = await ask(proxy, tunnel(`127.0.0.1:${cp}`), timeoutMs, get(`/${token}`, `127.0.0.1:${cp}`));
      await new Promise((res) => setTimeout(res, r.status === 200 ? 200 : 0));
      const reached = canary.hits() > before || r.status === 200;
      results.push({
        name: 'canary via CONNECT',
        ok: !reached,
        detail: reached ? 'a tunnel to the loopback canary was opened' : describe(r),
      });
    }
    const mustRefuse: [string, string, boolean][] = [
      ['metadata 169.254.169.254 (absolute-form)', '169.254.169.254:80', false],
      ['metadata 169.254.169.254 (CONNECT)', '169.254.169.254:443', true],
      ['private 10.0.0.1', '10.0.0.1:80', false],
      ['private 192.168.0.1', '192.168.0.1:80', false],
      ['private 172.16.0.1 (CONNECT)', '172.16.0.1:443', true],
      ['loopback [::1] (CONNECT)', '[::1]:443', true],
    ];
    for (const [name, authority, isConnect] of mustRefuse) {
      const r = await ask(
        proxy,
        isConnect ? tunnel(authority) : get(`http://${authority}/`, authority),
        timeoutMs,
      );
      results.push({
        name,
        ok: refused(r),
        detail: refused(r) ? describe(r) : `not refused: ${describe(r)}`,
      });
    }
    if (opts.allowedUrl !== undefined) {
      const u = new URL(opts.allowedUrl);
      const port = u.port === '' ? (u.protocol === 'https:' ? '443' : '80') : u.port;
      const authority = `${u.hostname}:${port}`;
      const r =
        u.protocol === 'https:'
          ? await ask(proxy, tunnel(authority), timeoutMs)
          : await ask(proxy, get(u.toString(), u.host), timeoutMs);
      const ok = r.status >= 200 && r.status < 400;
      results.push({ name: `allowed ${redactProxyUrl(opts.allowedUrl)} reachable`, ok, detail: describe(r) });
    }
  } finally {
    await new Promise<void>((resolve) => {
      canary.server.closeAllConnections();
      canary.server.close(() => {
        resolve();
      });
    });
  }
  return results;
}

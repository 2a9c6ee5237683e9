/**
 * `validateProxy`: black-box checks that ANY forward proxy refuses what a hardened egress proxy
 * must refuse. Traffic goes only to the proxy under test and to a loopback canary started here;
 * the prohibited destinations are only request targets the proxy is expected to refuse.
 *
 * A check cannot pass by accident: it passes only on evidence that the proxy itself refused (a
 * CONNECT status line, which only the proxy can send; a refusal `Proxy-Status`; for the canary,
 * a refusal status while the canary saw nothing). A connection error, a timeout, a refusal for
 * the port or for a rate limit, or a status the target could have sent is not such evidence.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { GatewayError } from '../errors.js';
import { redactProxyUrl } from './upstream.js';

/**
 * One check's outcome. `result` is `pass` (the proxy refused, with evidence), `fail` (it did not
 * refuse, or the check's target was reached) or `not_exercised` (nothing tested the rule, e.g.
 * refused for the port, or no allowed port known); `ok` is `result === 'pass'`.
 */
export interface ProxyCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly result: 'pass' | 'fail' | 'not_exercised';
  readonly detail: string;
  /** The refusal reason the proxy named in `Proxy-Status` (`details`, else `error`), when it did. */
  readonly reason?: string;
}

interface Reply {
  readonly status: number;
  readonly proxyStatus: string;
}

/** Statuses a proxy uses to refuse a destination (not 407: that is about the credential). */
const REFUSAL_STATUS = new Set([400, 403, 421, 451]);
/** RFC 9209 error types that mean "refused", as opposed to "tried and failed". */
const REFUSAL_TYPES = new Set(['destination_ip_prohibited', 'http_request_denied', 'http_request_error']);
/** Refusal details (subagent-guard's reasons) that are about the port, not the destination. */
const PORT_REASON = /^port_/;
/** Refusal details that are about a rate or quota, not the destination. */
const LIMIT_REASON =
  /^(rate_limited|tunnel_limit|connection_limit|api_calls_exceeded|egress_bytes_exceeded)$/;

function noAnswer(what: string, why: string, proxy: string): GatewayError {
  return new GatewayError(
    'SG_GATEWAY_VALIDATE_NO_ANSWER',
    `no answer from the proxy ${proxy} to "${what}": ${why}; nothing was exercised (check --proxy-url, or raise --timeout)`,
    { details: { proxy, check: what } },
  );
}

/** Sends one request head to the proxy and reads the status line (and, after a 200 CONNECT, sends `then`). */
function ask(proxy: URL, what: string, head: string, timeoutMs: number, then?: string): Promise<Reply> {
  const shown = redactProxyUrl(proxy.toString());
  return new Promise((resolve, reject) => {
    const s = connect(Number(proxy.port === '' ? 80 : proxy.port), proxy.hostname.replace(/^\[|\]$/g, ''));
    let buf = '';
    let settled = false;
    const done = (r: Reply | GatewayError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      // Give a forwarded follow-up request a moment to reach the canary before closing.
      setTimeout(() => s.destroy(), then === undefined ? 0 : 300).unref();
      if (r instanceof GatewayError) reject(r);
      else resolve(r);
    };
    const t = setTimeout(() => {
      done(noAnswer(what, `no status line within ${timeoutMs} ms`, shown));
    }, timeoutMs);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buf += d;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      if (m?.[1] === undefined) {
        done(noAnswer(what, 'the answer is not an HTTP/1.x status line', shown));
        return;
      }
      const status = Number(m[1]);
      const ps = /\r\nproxy-status:[ \t]*([^\r\n]*)/i.exec(buf.slice(0, end + 2));
      if (then !== undefined && status === 200) s.write(then);
      done({ status, proxyStatus: ps?.[1] ?? '' });
    });
    s.on('error', (e) => {
      done(noAnswer(what, e.message, shown));
    });
    s.on('close', () => {
      done(noAnswer(what, 'the connection closed without a status line', shown));
    });
    s.write(head);
  });
}

/** `error` and `details` of the first Proxy-Status member. */
function parseProxyStatus(text: string): { error?: string; details?: string } {
  const error = /;\s*error=([A-Za-z0-9_.-]+)/.exec(text)?.[1];
  const details = /;\s*details="([^"\\]{0,200})"/.exec(text)?.[1];
  return { ...(error === undefined ? {} : { error }), ...(details === undefined ? {} : { details }) };
}

function describe(r: Reply): string {
  return r.proxyStatus === '' ? `HTTP ${r.status}` : `HTTP ${r.status} (${r.proxyStatus})`;
}

/**
 * Judges a reply. `proxyOnly`: only the proxy can have produced this status line (a CONNECT
 * answer, or an absolute-form request whose only possible target is our canary, which answers
 * 200 and was not reached).
 */
function judge(name: string, r: Reply, proxyOnly: boolean): ProxyCheck {
  const ps = parseProxyStatus(r.proxyStatus);
  const reason = ps.details ?? ps.error;
  const base = { name, ...(reason === undefined ? {} : { reason }) };
  const detail = describe(r);
  if (r.status === 429 || (reason !== undefined && LIMIT_REASON.test(reason))) {
    return {
      ...base,
      ok: false,
      result: 'not_exercised',
      detail: `refused for a rate or quota limit: ${detail}`,
    };
  }
  if (ps.details !== undefined && PORT_REASON.test(ps.details)) {
    return {
      ...base,
      ok: false,
      result: 'not_exercised',
      detail: `refused for the port, so the destination rule was not exercised: ${detail}`,
    };
  }
  if (r.status >= 200 && r.status < 400) {
    return { ...base, ok: false, result: 'fail', detail: `not refused: ${detail}` };
  }
  if (ps.error !== undefined && REFUSAL_TYPES.has(ps.error)) {
    return { ...base, ok: true, result: 'pass', detail: `refused by the proxy: ${detail}` };
  }
  if (REFUSAL_STATUS.has(r.status)) {
    if (proxyOnly) return { ...base, ok: true, result: 'pass', detail: `refused by the proxy: ${detail}` };
    return {
      ...base,
      ok: false,
      result: 'not_exercised',
      detail: `${detail} without a refusal Proxy-Status: the target may have answered, not the proxy`,
    };
  }
  return {
    ...base,
    ok: false,
    result: 'fail',
    detail: `not refused (the proxy did not refuse it): ${detail}`,
  };
}

async function listenOn(server: Server, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onError = (): void => {
      resolve(false);
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve(true);
    });
  });
}

/**
 * A loopback canary. It listens on `preferPort` when it can (a port the proxy allows, so a
 * refusal is about the loopback address, not the port), else on a free port.
 */
async function startCanary(
  token: string,
  preferPort: number | undefined,
): Promise<{ server: Server; port: number; hits: () => number }> {
  let hits = 0;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if ((req.url ?? '').includes(token)) hits++;
    res.end('canary');
  };
  let server = createServer(handler);
  if (preferPort === undefined || !(await listenOn(server, preferPort))) {
    server.close();
    server = createServer(handler);
    await listenOn(server, 0);
  }
  const a = server.address();
  return { server, port: typeof a === 'object' && a !== null ? a.port : 0, hits: () => hits };
}

/**
 * Runs every check against the proxy at `proxyUrl` (credentials in the URL are used for
 * Proxy-Authorization and never appear in any detail). Address checks use the port of
 * `allowedUrl`; without it they are `not_exercised`.
 *
 * Throws GatewayError `SG_GATEWAY_VALIDATE_NO_ANSWER` when the proxy is unreachable, closes
 * without a status line or stays silent for `timeoutMs`, and `SG_GATEWAY_VALIDATE_AUTH` when it
 * answers 407: nothing could be exercised then.
 */
export async function validateProxy(opts: {
  proxyUrl: string;
  allowedUrl?: string;
  timeoutMs?: number;
  /** Called with each check as soon as it is judged (progress output). */
  onCheck?: (check: ProxyCheck) => void;
}): Promise<ProxyCheck[]> {
  const proxy = new URL(opts.proxyUrl);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const allowed = opts.allowedUrl === undefined ? undefined : new URL(opts.allowedUrl);
  const allowedPort =
    allowed === undefined
      ? undefined
      : Number(allowed.port === '' ? (allowed.protocol === 'https:' ? 443 : 80) : allowed.port);
  const auth =
    proxy.username === '' && proxy.password === ''
      ? ''
      : `Proxy-Authorization: Basic ${Buffer.from(
          `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`,
        ).toString('base64')}\r\n`;
  const token = randomBytes(16).toString('hex');
  const canary = await startCanary(token, allowedPort);
  const checks: ProxyCheck[] = [];
  const results = {
    push(c: ProxyCheck): void {
      checks.push(c);
      opts.onCheck?.(c);
    },
  };
  const get = (target: string, host: string): string =>
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${auth}Connection: close\r\n\r\n`;
  const tunnel = (authority: string): string =>
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`;
  const send = async (what: string, head: string, then?: string): Promise<Reply> => {
    const r = await ask(proxy, what, head, timeoutMs, then);
    if (r.status === 407) {
      throw new GatewayError(
        'SG_GATEWAY_VALIDATE_AUTH',
        `the proxy ${redactProxyUrl(opts.proxyUrl)} answered 407 to "${what}": the credentials in --proxy-url are missing or wrong; nothing was exercised`,
        { details: { check: what } },
      );
    }
    return r;
  };
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
      const r = await send(name, get(`http://${authority}/${token}`, authority));
      if (canary.hits() > before) {
        results.push({ name, ok: false, result: 'fail', detail: 'the loopback canary was reached' });
      } else results.push(judge(name, r, true));
    }
    {
      const name = 'canary via CONNECT';
      const before = canary.hits();
      const r = await send(name, tunnel(`127.0.0.1:${cp}`), get(`/${token}`, `127.0.0.1:${cp}`));
      await new Promise((res) => setTimeout(res, r.status === 200 ? 200 : 0));
      if (canary.hits() > before || r.status === 200) {
        results.push({
          name,
          ok: false,
          result: 'fail',
          detail: 'a tunnel to the loopback canary was opened',
        });
      } else results.push(judge(name, r, true));
    }
    const mustRefuse: [string, string, boolean][] = [
      ['metadata 169.254.169.254 (absolute-form)', '169.254.169.254', false],
      ['metadata 169.254.169.254 (CONNECT)', '169.254.169.254', true],
      ['private 10.0.0.1', '10.0.0.1', false],
      ['private 192.168.0.1', '192.168.0.1', false],
      ['private 172.16.0.1 (CONNECT)', '172.16.0.1', true],
      ['loopback [::1] (CONNECT)', '[::1]', true],
    ];
    for (const [name, host, isConnect] of mustRefuse) {
      if (allowedPort === undefined) {
        results.push({
          name,
          ok: false,
          result: 'not_exercised',
          detail:
            'no port the proxy allows is known (pass --allowed-url); a refusal for the port proves nothing',
        });
        continue;
      }
      const authority = `${host}:${allowedPort}`;
      const r = await send(name, isConnect ? tunnel(authority) : get(`http://${authority}/`, authority));
      results.push(judge(name, r, isConnect));
    }
    if (allowed !== undefined && allowedPort !== undefined) {
      const name = `allowed ${redactProxyUrl(allowed.toString())} reachable`;
      const authority = `${allowed.hostname}:${allowedPort}`;
      const r =
        allowed.protocol === 'https:'
          ? await send(name, tunnel(authority))
          : await send(name, get(allowed.toString(), allowed.host));
      const ok = r.status >= 200 && r.status < 400;
      results.push({ name, ok, result: ok ? 'pass' : 'fail', detail: describe(r) });
    }
  } finally {
    await new Promise<void>((resolve) => {
      canary.server.closeAllConnections();
      canary.server.close(() => {
        resolve();
      });
    });
  }
  return checks;
}

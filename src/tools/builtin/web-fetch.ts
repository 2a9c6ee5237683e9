import { ProxyAgent, request } from 'undici';
import { ToolError, errorMessage, toError } from '../../errors.js';
import { parseAuthority } from '../../policy/domains.js';
import { MAX_TOOL_RESULT_BYTES } from '../limits.js';
import type { BuiltinToolContext, BuiltinToolDefinition } from '../types.js';
import { fitResult, readBody, type FetchResult } from './web-fetch-body.js';

/**
 * Room kept in the result cap for everything but the body: status, final URL, the picked headers
 * (each clipped to {@link MAX_HEADER_VALUE}), field names. A plain-text body of `hardMaxBytes` fits
 * whole; one that grows under JSON escaping is cut to fit and marked truncated.
 */
const RESULT_RESERVE_BYTES = 64 * 1024;
/** Characters of one response header value returned to the subagent. */
const MAX_HEADER_VALUE = 1024;

/** Limits of `web_fetch`. */
export const WEB_FETCH_LIMITS = {
  /** @default 262144 (256 KiB) of response body returned to the subagent */
  defaultMaxBytes: 256 * 1024,
  /** Derived from the broker's result cap, so a call at its maximum still fits. */
  hardMaxBytes: MAX_TOOL_RESULT_BYTES - RESULT_RESERVE_BYTES,
  maxRequestBodyBytes: 256 * 1024,
  /** Each hop is a new request through the gateway, so each hop is re-checked there. */
  maxRedirects: 5,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 15_000,
  /**
   * Whole call, every hop and the wait for in-flight budget included: a slow origin (1 byte a
   * second, or a chunk extension that never ends) cannot hold a call, its budget and its sockets
   * longer than this. A call may ask for less with `timeoutMs`. @default 30000
   */
  totalTimeoutMs: 30_000,
} as const;

/** Response headers a subagent may see. Never cookies or anything auth-related. */
const SAFE_RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-language',
  'cache-control',
  'etag',
  'last-modified',
  'date',
  'location',
  'retry-after',
] as const;

/** Request headers a subagent may not set: hop-by-hop, proxy and framing headers belong to us. */
const FORBIDDEN_REQUEST_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'transfer-encoding',
  'content-length',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'accept-encoding',
]);

/** Credentials the subagent attached are not carried to another origin by a redirect. */
const CROSS_ORIGIN_STRIPPED = new Set(['authorization', 'cookie']);

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

interface FetchArgs {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  maxBytes: number;
  timeoutMs: number;
}

function readArgs(args: unknown): FetchArgs {
  if (typeof args !== 'object' || args === null || !('url' in args) || typeof args.url !== 'string') {
    throw new ToolError('SG_TOOL_ARGS_INVALID', 'web_fetch: `url` must be a string');
  }
  const headers: Record<string, string> = {};
  if ('headers' in args && typeof args.headers === 'object' && args.headers !== null) {
    for (const [name, value] of Object.entries(args.headers)) {
      const lower = name.toLowerCase();
      if (typeof value !== 'string') continue;
      if (FORBIDDEN_REQUEST_HEADERS.has(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-')) {
        throw new ToolError(
          'SG_TOOL_ARGS_INVALID',
          `web_fetch: header '${lower}' may not be set by a subagent`,
        );
      }
      headers[lower] = value;
    }
  }
  const method = 'method' in args && typeof args.method === 'string' ? args.method.toUpperCase() : 'GET';
  const body = 'body' in args && typeof args.body === 'string' ? args.body : undefined;
  const maxBytes =
    'maxBytes' in args && typeof args.maxBytes === 'number'
      ? Math.min(args.maxBytes, WEB_FETCH_LIMITS.hardMaxBytes)
      : WEB_FETCH_LIMITS.defaultMaxBytes;
  const timeoutMs =
    'timeoutMs' in args && typeof args.timeoutMs === 'number'
      ? Math.min(args.timeoutMs, WEB_FETCH_LIMITS.totalTimeoutMs)
      : WEB_FETCH_LIMITS.totalTimeoutMs;
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw new ToolError('SG_TOOL_ARGS_INVALID', `web_fetch: a ${method} request cannot have a body`);
  }
  return { url: args.url, method, headers, body, maxBytes, timeoutMs };
}

function parseTarget(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = base === undefined ? new URL(text) : new URL(text, base);
  } catch {
    throw new ToolError('SG_TOOL_ARGS_INVALID', 'web_fetch: the URL is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ToolError(
      'SG_TOOL_ARGS_INVALID',
      `web_fetch: scheme '${url.protocol}' is not allowed (http/https only)`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new ToolError('SG_TOOL_ARGS_INVALID', 'web_fetch: credentials in the URL are not allowed');
  }
  return url;
}

function pickHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of SAFE_RESPONSE_HEADERS) {
    const v = raw[name];
    const value = typeof v === 'string' ? v : Array.isArray(v) ? v[0] : undefined;
    if (value !== undefined) out[name] = value.slice(0, MAX_HEADER_VALUE);
  }
  return out;
}

function declaredLength(raw: Record<string, string | string[] | undefined>): number | undefined {
  const v = raw['content-length'];
  const n = typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * A redirect the origin chose, not the subagent: refused here, before it reaches the gateway, when
 * the agent's own egress policy (port, host allowlist, IP literal rules) would refuse it. The
 * gateway would treat it as the subagent's violation and terminate it, so any allowed origin
 * could get a benign subagent killed. A hop whose name is allowed but resolves to a prohibited
 * address is still refused by the gateway (after DNS), as a violation.
 */
function checkRedirect(next: URL, egress: BuiltinToolContext['egress']): void {
  if (egress === undefined) return;
  const target = parseAuthority(next.host, next.protocol === 'https:' ? 443 : 80);
  const d =
    target === null
      ? { allow: false, reason: 'host_invalid', rule: null }
      : egress.checkTarget({ scheme: next.protocol === 'https:' ? 'https' : 'http', ...target });
  if (d.allow) return;
  throw new ToolError(
    'SG_TOOL_REDIRECT_DENIED',
    `web_fetch: the origin redirected to ${next.host}, which this agent's egress policy refuses (${d.reason}); not followed`,
    { details: { reason: d.reason, host: next.hostname.slice(0, 256), port: target?.port ?? null } },
  );
}

/** Removes a secret from a message that may have been built by a library from the proxy URL. */
function scrub(message: string, secret: string): string {
  return secret === '' ? message : message.split(secret).join('***');
}

/**
 * Fetches a URL through the egress gateway with the calling subagent's own credential, so the
 * gateway applies exactly that subagent's allowlist, address rules and byte accounting. Redirects
 * are followed here, one gateway request per hop, each hop checked against the agent's policy
 * first and again by the gateway.
 *
 * Parent cost per call is bounded: the body is read into one buffer of at most `maxBytes`,
 * reserved from the subagent's in-flight budget before anything is sent, and the whole call has
 * one deadline.
 */
async function webFetch(args: FetchArgs, ctx: BuiltinToolContext): Promise<FetchResult> {
  const proxy = new URL(ctx.proxyUrl);
  const password = decodeURIComponent(proxy.password);
  const token = `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${password}`).toString('base64')}`;
  proxy.username = '';
  proxy.password = '';
  const deadline = new AbortController();
  const timer = setTimeout(() => {
    deadline.abort();
  }, args.timeoutMs).unref();
  // One signal per call, composed without listeners on the session's signal: thirty concurrent
  // calls must not add thirty 'abort' listeners to one shared signal.
  const signal = AbortSignal.any([ctx.signal, deadline.signal]);
  let release: (() => void) | undefined;
  // No tunnel for http: targets: each request (each redirect hop) reaches the gateway in absolute
  // form, so each is checked on its own even when hops share a keep-alive connection.
  // https: targets still tunnel (CONNECT); a new origin means a new, newly checked tunnel.
  const dispatcher = new ProxyAgent({ uri: proxy.origin, token, proxyTunnel: false });
  try {
    let url = parseTarget(args.url);
    await ctx.pace.ready(signal, 'web_fetch');
    release = await ctx.inFlight.reserve(args.maxBytes, signal, 'web_fetch');
    let method = args.method;
    let body = args.body;
    const headers: Record<string, string> = { ...args.headers, 'accept-encoding': 'identity' };
    for (let hop = 0; ; hop++) {
      const res = await request(url, {
        dispatcher,
        method: method as 'GET',
        // A copy per hop: the proxy wrapper writes the hop's Host into the object it is given.
        headers: { ...headers },
        body: body ?? null,
        signal,
        headersTimeout: WEB_FETCH_LIMITS.headersTimeoutMs,
        bodyTimeout: WEB_FETCH_LIMITS.bodyTimeoutMs,
      });
      const location = res.headers.location;
      if (REDIRECT_STATUSES.has(res.statusCode) && typeof location === 'string') {
        await res.body.dump();
        if (hop >= WEB_FETCH_LIMITS.maxRedirects) {
          throw new ToolError(
            'SG_TOOL_FAILED',
            `web_fetch: more than ${WEB_FETCH_LIMITS.maxRedirects} redirects`,
          );
        }
        const next = parseTarget(location, url);
        checkRedirect(next, ctx.egress);
        if (
          res.statusCode === 303 ||
          ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')
        ) {
          method = 'GET';
          body = undefined;
        }
        if (next.origin !== url.origin)
          for (const h of CROSS_ORIGIN_STRIPPED) Reflect.deleteProperty(headers, h);
        url = next;
        continue;
      }
      const read = await readBody(res.body, args.maxBytes, declaredLength(res.headers));
      // Paid after the fact (the size was unknown before): the subagent's next call waits.
      ctx.pace.charge(read.bytes.length);
      const result = fitResult(
        {
          status: res.statusCode,
          url: url.href,
          redirects: hop,
          headers: pickHeaders(res.headers),
          body: read.bytes.toString('utf8'),
          truncated: read.truncated,
        },
        ctx.maxResultBytes,
      );
      return result;
    }
  } catch (err) {
    if (deadline.signal.aborted && !ctx.signal.aborted) {
      throw new ToolError('SG_TOOL_FAILED', `web_fetch: no complete answer within ${args.timeoutMs} ms`);
    }
    if (err instanceof ToolError) throw err;
    const message = errorMessage(err);
    throw new ToolError('SG_TOOL_FAILED', `web_fetch: ${scrub(scrub(message, password), token)}`);
  } finally {
    clearTimeout(timer);
    release?.();
    await dispatcher.destroy().catch(() => undefined);
  }
}

/** The `web_fetch` built-in tool. */
export const webFetchTool: BuiltinToolDefinition = {
  description:
    'HTTP(S) request through the egress gateway with this subagent’s allowlist; redirects re-checked per hop.',
  inputSchema: {
    type: 'object',
    properties: {
      url: { type: 'string', minLength: 1, maxLength: 8192 },
      method: { type: 'string', enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] },
      headers: {
        type: 'object',
        maxProperties: 64,
        propertyNames: { pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$" },
        additionalProperties: { type: 'string', maxLength: 8192, pattern: '^[^\\r\\n\\u0000]*$' },
      },
      body: { type: 'string', maxLength: WEB_FETCH_LIMITS.maxRequestBodyBytes },
      maxBytes: { type: 'integer', minimum: 1, maximum: WEB_FETCH_LIMITS.hardMaxBytes },
      timeoutMs: { type: 'integer', minimum: 1, maximum: WEB_FETCH_LIMITS.totalTimeoutMs },
    },
    required: ['url'],
    additionalProperties: false,
  },
  handler: (args, ctx) => {
    let parsed: FetchArgs;
    try {
      parsed = readArgs(args);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    return webFetch(parsed, ctx);
  },
};

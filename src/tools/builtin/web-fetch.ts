import { ProxyAgent, request } from 'undici';
import { ToolError } from '../../errors.js';
import type { BuiltinToolDefinition } from '../types.js';

/** Limits of `web_fetch`. */
export const WEB_FETCH_LIMITS = {
  /** @default 262144 (256 KiB) of response body returned to the subagent */
  defaultMaxBytes: 256 * 1024,
  /** The result travels in one IPC frame (1 MiB): stay well below it. */
  hardMaxBytes: 768 * 1024,
  maxRequestBodyBytes: 256 * 1024,
  /** Each hop is a new request through the gateway, so each hop is re-checked there. */
  maxRedirects: 5,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 15_000,
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
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw new ToolError('SG_TOOL_ARGS_INVALID', `web_fetch: a ${method} request cannot have a body`);
  }
  return { url: args.url, method, headers, body, maxBytes };
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
    if (typeof v === 'string') out[name] = v;
    else if (Array.isArray(v) && v[0] !== undefined) out[name] = v[0];
  }
  return out;
}

async function readCapped(
  body: AsyncIterable<unknown> & { destroy(): unknown },
  maxBytes: number,
): Promise<{ text: string; truncated: boolean; bytes: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let truncated = false;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    const room = maxBytes - kept;
    if (buf.length > room) {
      if (room > 0) chunks.push(buf.subarray(0, room));
      kept += Math.max(room, 0);
      truncated = true;
      // Stop reading: the rest would only cost egress bytes and parent memory.
      body.destroy();
      break;
    }
    chunks.push(buf);
    kept += buf.length;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated, bytes: kept };
}

/** Removes a secret from a message that may have been built by a library from the proxy URL. */
function scrub(message: string, secret: string): string {
  return secret === '' ? message : message.split(secret).join('***');
}

/**
 * Fetches a URL through the egress gateway with the calling subagent's own credential, so the
 * gateway applies exactly that subagent's allowlist, address rules and byte accounting. Redirects
 * are followed here, one gateway request per hop, so every hop is checked again.
 */
async function webFetch(args: FetchArgs, proxyUrl: string, signal: AbortSignal): Promise<unknown> {
  const proxy = new URL(proxyUrl);
  const password = decodeURIComponent(proxy.password);
  const token = `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${password}`).toString('base64')}`;
  proxy.username = '';
  proxy.password = '';
  // No tunnel for http: targets: each request (each redirect hop) reaches the gateway in absolute
  // form, so each is checked and counted on its own even when hops share a keep-alive connection.
  // https: targets still tunnel (CONNECT); a new origin means a new, newly checked tunnel.
  const dispatcher = new ProxyAgent({ uri: proxy.origin, token, proxyTunnel: false });
  try {
    let url = parseTarget(args.url);
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
      const read = await readCapped(res.body, args.maxBytes);
      return {
        status: res.statusCode,
        url: url.href,
        redirects: hop,
        headers: pickHeaders(res.headers),
        body: read.text,
        truncated: read.truncated,
      };
    }
  } catch (err) {
    if (err instanceof ToolError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new ToolError('SG_TOOL_FAILED', `web_fetch: ${scrub(scrub(message, password), token)}`);
  } finally {
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
    },
    required: ['url'],
    additionalProperties: false,
  },
  handler: (args, ctx) => {
    let parsed: FetchArgs;
    try {
      parsed = readArgs(args);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return webFetch(parsed, ctx.proxyUrl, ctx.signal);
  },
};

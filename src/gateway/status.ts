/**
 * How the gateway answers a refusal: status code, RFC 9209 `Proxy-Status` error type, and the
 * raw bytes for sockets that are no longer owned by node:http (CONNECT, Upgrade).
 *
 * The gateway always answers. A client that sees a silently closed CONNECT socket may retry in a
 * tight loop (undici does, ~1,500 times a second), so every refusal carries a status line.
 */
import type { Duplex } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { GatewayReason } from './types.js';

/** Name this proxy uses in `Proxy-Status`. */
export const PROXY_NAME = 'subagent-guard';

interface Answer {
  readonly status: number;
  readonly error: string;
}

const ANSWERS: Readonly<Record<Exclude<GatewayReason, 'allowed'>, Answer>> = {
  auth_required: { status: 407, error: 'http_request_denied' },
  auth_invalid: { status: 407, error: 'http_request_denied' },
  bad_request: { status: 400, error: 'http_request_error' },
  scheme_not_allowed: { status: 400, error: 'http_request_error' },
  host_invalid: { status: 400, error: 'http_request_error' },
  host_mismatch: { status: 421, error: 'http_request_error' },
  no_network: { status: 403, error: 'http_request_denied' },
  port_blocked: { status: 403, error: 'http_request_denied' },
  port_not_allowed: { status: 403, error: 'http_request_denied' },
  host_not_allowed: { status: 403, error: 'http_request_denied' },
  address_prohibited: { status: 403, error: 'destination_ip_prohibited' },
  metadata_prohibited: { status: 403, error: 'destination_ip_prohibited' },
  dns_error: { status: 502, error: 'dns_error' },
  dns_timeout: { status: 504, error: 'dns_timeout' },
  connect_refused: { status: 502, error: 'connection_refused' },
  connect_failed: { status: 502, error: 'destination_ip_unroutable' },
  connect_timeout: { status: 504, error: 'connection_timeout' },
  upstream_refused: { status: 502, error: 'destination_unavailable' },
  upstream_error: { status: 502, error: 'connection_terminated' },
  rate_limited: { status: 429, error: 'http_request_denied' },
  tunnel_limit: { status: 429, error: 'connection_limit_reached' },
  connection_limit: { status: 429, error: 'connection_limit_reached' },
  api_calls_exceeded: { status: 429, error: 'http_request_denied' },
  egress_bytes_exceeded: { status: 429, error: 'http_request_denied' },
  internal_error: { status: 500, error: 'proxy_internal_error' },
};

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'Connection Established',
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  421: 'Misdirected Request',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

/** Status code and Proxy-Status error type for a refusal reason. */
export function answerFor(reason: Exclude<GatewayReason, 'allowed'>): Answer {
  return ANSWERS[reason];
}

/** Reasons a subagent is responsible for (it asked for something it may not have). */
export function isClientAttributable(reason: GatewayReason): boolean {
  const s = reason === 'allowed' ? 200 : ANSWERS[reason].status;
  return s === 400 || s === 403 || s === 421;
}

/**
 * Refusals after which the client connection is closed whatever its framing: a request without a
 * valid credential (so a client cannot retry on one connection as fast as it can write), and a
 * connection over the per-subagent cap.
 */
export function closesConnection(reason: Exclude<GatewayReason, 'allowed'>): boolean {
  return ANSWERS[reason].status === 407 || reason === 'connection_limit';
}

function headerLines(reason: Exclude<GatewayReason, 'allowed'>): {
  status: number;
  headers: [string, string][];
} {
  const a = ANSWERS[reason];
  const headers: [string, string][] = [
    ['Proxy-Status', `${PROXY_NAME}; error=${a.error}; details="${reason}"`],
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Cache-Control', 'no-store'],
  ];
  if (a.status === 407) headers.push(['Proxy-Authenticate', `Basic realm="${PROXY_NAME}"`]);
  return { status: a.status, headers };
}

/** Answers a refusal on a node:http response (the connection is kept only when it is safe to). */
export function sendRefusal(
  res: ServerResponse,
  reason: Exclude<GatewayReason, 'allowed'>,
  opts: { close: boolean },
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const { status, headers } = headerLines(reason);
  const body = `${PROXY_NAME}: ${reason}\n`;
  for (const [k, v] of headers) res.setHeader(k, v);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (opts.close) res.setHeader('Connection', 'close');
  res.writeHead(status, STATUS_TEXT[status]);
  res.end(body);
}

/**
 * Writes a complete refusal to a raw socket and closes it. A grace timer destroys the socket if
 * the peer never reads, so a hostile client cannot pin it open.
 */
export function writeRawRefusal(socket: Duplex, reason: Exclude<GatewayReason, 'allowed'>): void {
  if (socket.destroyed) return;
  const { status, headers } = headerLines(reason);
  const body = `${PROXY_NAME}: ${reason}\n`;
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  head += `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  socket.end(head);
  const t = setTimeout(() => socket.destroy(), 2000);
  t.unref();
  socket.once('close', () => {
    clearTimeout(t);
  });
}

/** The status line of a successful CONNECT. */
export const CONNECT_ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

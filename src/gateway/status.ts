/**
 * How the gateway answers a refusal: status code, RFC 9209 `Proxy-Status` error type, and the
 * raw bytes for sockets that are no longer owned by node:http (CONNECT, Upgrade).
 *
 * The gateway always answers. A client that sees a silently closed CONNECT socket may retry in a
 * tight loop (undici does, ~1,500 times a second), so every refusal carries a status line.
 */
import type { Duplex } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { REFUSALS, type RefusalReason } from './reasons.js';

/** Name this proxy uses in `Proxy-Status`. */
export const PROXY_NAME = 'subagent-guard';

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

/**
 * `Retry-After` of every 429 (RFC 6585 §4), in seconds. The request-rate bucket refills within a
 * second and the tunnel and connection caps free up as soon as one closes, so one second is
 * the honest lower bound; for a used-up budget (`api_calls_exceeded`, `egress_bytes_exceeded`)
 * no wait helps, but a client that honours the header backs off instead of spinning.
 */
export const RETRY_AFTER_SECONDS = 1;

function headerLines(reason: RefusalReason): {
  status: number;
  headers: [string, string][];
} {
  const a = REFUSALS[reason];
  const headers: [string, string][] = [
    ['Proxy-Status', `${PROXY_NAME}; error=${a.error}; details="${reason}"`],
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Cache-Control', 'no-store'],
  ];
  if (a.status === 407) headers.push(['Proxy-Authenticate', `Basic realm="${PROXY_NAME}"`]);
  if (a.status === 429) headers.push(['Retry-After', String(RETRY_AFTER_SECONDS)]);
  return { status: a.status, headers };
}

/** Answers a refusal on a node:http response (the connection is kept only when it is safe to). */
export function sendRefusal(res: ServerResponse, reason: RefusalReason, opts: { close: boolean }): void {
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
export function writeRawRefusal(socket: Duplex, reason: RefusalReason): void {
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

/**
 * Chaining through an upstream forward proxy.
 *
 * The gateway always opens a CONNECT tunnel to the upstream, targeting the already-checked IP
 * (never the name, so the upstream cannot re-resolve it to somewhere else), and sends the
 * parent-held upstream credential. The subagent's own Proxy-Authorization is never forwarded and
 * the upstream credential never reaches the subagent or the log (only the redacted URL is kept).
 */
import type { Socket } from 'node:net';
import { GatewayError } from '../errors.js';
import type { UpstreamSpec } from './types.js';
import { redactUrl } from '../config/redact.js';

/** A parsed upstream proxy. `authorization` is a secret: never log this object. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
  /** `Basic ...` header value, or undefined when the URL has no credentials. */
  readonly authorization: string | undefined;
  /** The URL with the password replaced by `***`. */
  readonly redacted: string;
}

/**
 * A log-safe form of a proxy URL (never throws). One redaction for the whole package: the config
 * loader's also handles text the URL parser refuses (a password containing '/' or '@').
 */
export function redactProxyUrl(text: string): string {
  return redactUrl(text);
}

/** Parses an upstream proxy URL; throws GatewayError SG_GATEWAY_INVALID_OPTIONS (redacted) if unusable. */
export function parseUpstream(spec: UpstreamSpec, where: string): Upstream {
  const text = typeof spec === 'string' ? spec : spec.url;
  const redacted = redactProxyUrl(text);
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new GatewayError(
      'SG_GATEWAY_INVALID_OPTIONS',
      `${where}: upstream proxy URL is not a URL: ${redacted}`,
    );
  }
  if (u.protocol !== 'http:') {
    throw new GatewayError(
      'SG_GATEWAY_INVALID_OPTIONS',
      `${where}: upstream proxy must be an http:// URL (got ${u.protocol}): ${redacted}`,
    );
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') {
    throw new GatewayError(
      'SG_GATEWAY_INVALID_OPTIONS',
      `${where}: upstream proxy URL must not have a path, query or fragment: ${redacted}`,
    );
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === '' ? 80 : Number(u.port);
  let authorization: string | undefined;
  if (u.username !== '' || u.password !== '') {
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  return { host, port, authorization, redacted };
}

const MAX_RESPONSE_HEAD = 16 * 1024;

/** Outcome of the CONNECT handshake with the upstream. */
export type UpstreamHandshake = { readonly ok: true } | { readonly ok: false; readonly status: number };

/**
 * Performs `CONNECT address:port` on a connected socket to the upstream. On success any bytes
 * the upstream sent after its response head are pushed back into the socket.
 */
export function upstreamHandshake(
  socket: Socket,
  upstream: Upstream,
  address: string,
  port: number,
): Promise<UpstreamHandshake> {
  const authority = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  let req = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (upstream.authorization !== undefined) req += `Proxy-Authorization: ${upstream.authorization}\r\n`;
  req += '\r\n';
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('upstream proxy closed the connection during CONNECT'));
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_RESPONSE_HEAD) {
          cleanup();
          resolve({ ok: false, status: 0 });
        }
        return;
      }
      cleanup();
      socket.pause();
      const m = /^HTTP\/1\.[01] ([0-9]{3})/.exec(buf.subarray(0, Math.min(end, 64)).toString('latin1'));
      const status = m?.[1] === undefined ? 0 : Number(m[1]);
      if (status < 200 || status > 299) {
        resolve({ ok: false, status });
        return;
      }
      const rest = buf.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ ok: true });
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(req);
  });
}

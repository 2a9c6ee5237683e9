/**
 * Dialling checked addresses. `net.connect` is always given an IP literal that the policy has
 * already approved, so no DNS happens here and the address dialled is exactly the one checked.
 * Through an upstream proxy the same IP is the CONNECT target.
 */
import { connect, type Socket } from 'node:net';
import { upstreamHandshake, type Upstream } from './upstream.js';

export type DialFailure = 'connect_refused' | 'connect_failed' | 'connect_timeout' | 'upstream_refused';

export type DialResult =
  | { readonly ok: true; readonly socket: Socket; readonly address: string; readonly ms: number }
  | { readonly ok: false; readonly reason: DialFailure; readonly ms: number };

function failureOf(err: unknown): DialFailure {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  if (code === 'ECONNREFUSED') return 'connect_refused';
  if (code === 'ETIMEDOUT') return 'connect_timeout';
  return 'connect_failed';
}

function ignore(): void {
  // Intentionally empty: see connectOnce.
}

function connectOnce(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const onAbort = (): void => {
      socket.destroy();
      reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      // A socket error must never become an uncaught exception in the parent: errors end in
      // 'close', which every owner of the socket handles.
      socket.on('error', ignore);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
  });
}

/**
 * Connects to the first reachable of `addresses` (all already checked) within `timeoutMs` in
 * total, directly or through `upstream`. The returned socket is paused when it came through an
 * upstream handshake; callers resume it when they start reading.
 */
export async function dialTarget(opts: {
  addresses: readonly string[];
  port: number;
  upstream: Upstream | undefined;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<DialResult> {
  const started = performance.now();
  const ac = new AbortController();
  const timer = setTimeout(() => {
    ac.abort();
  }, opts.timeoutMs);
  const onOuterAbort = (): void => {
    ac.abort();
  };
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const aborted = (): boolean => ac.signal.aborted;
  let last: DialFailure = 'connect_failed';
  try {
    for (const address of opts.addresses) {
      if (aborted()) return { ok: false, reason: 'connect_timeout', ms: performance.now() - started };
      try {
        if (opts.upstream === undefined) {
          const socket = await connectOnce(address, opts.port, ac.signal);
          return { ok: true, socket, address, ms: performance.now() - started };
        }
        const socket = await connectOnce(opts.upstream.host, opts.upstream.port, ac.signal);
        const onAbort = (): void => {
          socket.destroy();
        };
        ac.signal.addEventListener('abort', onAbort, { once: true });
        try {
          const hs = await upstreamHandshake(socket, opts.upstream, address, opts.port);
          if (!hs.ok) {
            socket.destroy();
            return { ok: false, reason: 'upstream_refused', ms: performance.now() - started };
          }
        } catch (err) {
          socket.destroy();
          throw aborted() ? Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }) : err;
        } finally {
          ac.signal.removeEventListener('abort', onAbort);
        }
        return { ok: true, socket, address, ms: performance.now() - started };
      } catch (err) {
        last = aborted() ? 'connect_timeout' : failureOf(err);
        // Through an upstream, the upstream is the only hop we reach: a failure there is final.
        if (opts.upstream !== undefined || last === 'connect_timeout') break;
      }
    }
    return { ok: false, reason: last, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

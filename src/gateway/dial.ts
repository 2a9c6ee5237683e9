/**
 * Dialling checked addresses. `net.connect` is always given an IP literal that the policy has
 * already approved, so no DNS happens here and the address dialled is exactly the one checked.
 * Through an upstream proxy the same IP is the CONNECT target.
 */
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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

/** net's `onread` option: reads land in one reusable buffer instead of a new one per read. */
export interface OnRead {
  readonly buffer: Buffer | (() => Buffer);
  readonly callback: (n: number, buf: Buffer) => boolean;
}

/**
 * Cancellation of one dial (timeout or the client leaving). A plain object rather than an
 * AbortController: a dial happens for every tunnel, and EventTarget bookkeeping was a visible
 * part of the cost of setting one up.
 */
class Cancel {
  aborted = false;
  #onAbort: (() => void) | undefined;

  /** Runs `fn` on abort (replacing any earlier one); at once if already aborted. */
  set(fn: (() => void) | undefined): void {
    if (this.aborted) fn?.();
    else this.#onAbort = fn;
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const fn = this.#onAbort;
    this.#onAbort = undefined;
    fn?.();
  }
}

function connectOnce(host: string, port: number, cancel: Cancel, onread?: OnRead): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      onread === undefined ? { host, port, noDelay: true } : { host, port, noDelay: true, onread },
    );
    cancel.set(() => {
      socket.destroy();
      reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    });
    socket.once('connect', () => {
      cancel.set(undefined);
      socket.off('error', onError);
      // A socket error must never become an uncaught exception in the parent: errors end in
      // 'close', which every owner of the socket handles.
      socket.on('error', ignore);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      cancel.set(undefined);
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
  /** The client's socket: when it closes first, the dial is abandoned (nobody is left to answer). */
  abortOnClose?: Duplex | undefined;
  /** Applied to direct connections only (an upstream handshake reads the socket as a stream). */
  onread?: OnRead | undefined;
}): Promise<DialResult> {
  const started = performance.now();
  const cancel = new Cancel();
  const timer = setTimeout(() => {
    cancel.abort();
  }, opts.timeoutMs);
  const onClientGone = (): void => {
    cancel.abort();
  };
  opts.abortOnClose?.once('close', onClientGone);
  const aborted = (): boolean => cancel.aborted;
  let last: DialFailure = 'connect_failed';
  try {
    for (const address of opts.addresses) {
      if (aborted()) return { ok: false, reason: 'connect_timeout', ms: performance.now() - started };
      try {
        if (opts.upstream === undefined) {
          const socket = await connectOnce(address, opts.port, cancel, opts.onread);
          return { ok: true, socket, address, ms: performance.now() - started };
        }
        const socket = await connectOnce(opts.upstream.host, opts.upstream.port, cancel);
        cancel.set(() => {
          socket.destroy();
        });
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
          cancel.set(undefined);
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
    opts.abortOnClose?.off('close', onClientGone);
  }
}

/**
 * Keep-alive connection pool for plain HTTP forwarding, one per registration (connections are
 * never shared between subagents, so revoking one cuts only its own).
 *
 * Requests are always made to a checked IP literal, so the pool key is the pinned address and
 * `createConnection` dials exactly that address (or tunnels to it through the upstream proxy).
 */
import { Agent, type ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import { dialTarget, type DialFailure } from './dial.js';
import type { Upstream } from './upstream.js';

/** An error from dialling, carrying the gateway reason. */
export class DialError extends Error {
  readonly reason: DialFailure;
  constructor(reason: DialFailure) {
    super(`dial failed: ${reason}`);
    this.reason = reason;
  }
}

/** The connect time of freshly dialled sockets, read once by the first request using them. */
const dialTimes = new WeakMap<Duplex, number>();

/** Connect time of a socket on its first use; 0 for a reused pooled socket. */
export function takeDialMs(socket: Duplex): number {
  const ms = dialTimes.get(socket);
  if (ms === undefined) return 0;
  dialTimes.delete(socket);
  return ms;
}

/** The per-registration pool. */
export class PinnedAgent extends Agent {
  readonly #upstream: Upstream | undefined;
  readonly #timeoutMs: number;
  readonly #onSocket: (s: Duplex) => void;

  constructor(opts: {
    upstream: Upstream | undefined;
    connectTimeoutMs: number;
    idleTimeoutMs: number;
    maxSockets: number;
    onSocket: (s: Duplex) => void;
  }) {
    super({
      keepAlive: true,
      maxSockets: opts.maxSockets,
      // Every socket may stay pooled: a smaller free list closes (and later re-dials) whatever a
      // burst above it opened, so busy subagents churn connections and pile up TIME_WAIT. Idle
      // pooled sockets are still bounded: by maxSockets and by the idle timeout below.
      maxFreeSockets: opts.maxSockets,
      scheduling: 'lifo',
      timeout: opts.idleTimeoutMs,
    });
    this.#upstream = opts.upstream;
    this.#timeoutMs = opts.connectTimeoutMs;
    this.#onSocket = opts.onSocket;
  }

  override createConnection(
    options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = options.host ?? '';
    const port = typeof options.port === 'number' ? options.port : Number(options.port);
    void dialTarget({ addresses: [host], port, upstream: this.#upstream, timeoutMs: this.#timeoutMs }).then(
      (d) => {
        if (!d.ok) {
          callback?.(new DialError(d.reason), undefined as unknown as Duplex);
          return;
        }
        dialTimes.set(d.socket, d.ms);
        this.#onSocket(d.socket);
        callback?.(null, d.socket);
      },
    );
    return undefined;
  }
}

/**
 * Keep-alive connection pools for plain HTTP forwarding, one set per registration: connections
 * are never shared between subagents, so revoking one cuts only its own.
 *
 * Each pool belongs to one checked address and port. Its connector ignores whatever undici
 * derives from the pool's origin and dials exactly the address it was created for (directly or
 * through the upstream proxy) with the gateway's own dialler, so undici never resolves a name
 * and never connects anywhere the policy did not approve.
 */
import type { Readable } from 'node:stream';
import { Client, Pool, type Dispatcher } from 'undici';
import { dialTarget, type DialFailure } from './dial.js';
import type { Registration } from './registration.js';
import { account } from './tunnel.js';
import type { Upstream } from './upstream.js';

/** undici's connector: given a callback, hands it a connected socket or an error. */
type Connector = Extract<NonNullable<Client.Options['connect']>, (...args: never[]) => unknown>;
type ConnectCallback = Parameters<Connector>[1];

/** An error from dialling, carrying the gateway reason. */
export class DialError extends Error {
  readonly reason: DialFailure;
  constructor(reason: DialFailure) {
    super(`dial failed: ${reason}`);
    this.reason = reason;
  }
}

/** The registration's pools were closed (revoked or gateway closing): nothing may be dialled any more. */
export class PoolsClosedError extends Error {
  constructor() {
    super('connection pools closed');
  }
}

/** A target connection cut by the gateway (revoke, close) rather than by the target. */
export class TargetCutError extends Error {
  constructor() {
    super('target connection cut by the gateway');
  }
}

/** A connection cut because its bytes crossed the registration's egress byte cap. */
export class EgressCapError extends Error {
  constructor() {
    super('egress byte cap reached');
  }
}

/**
 * A request handler that learns which connection it was dispatched to, so it can report the
 * connect time of a freshly dialled connection (and 0 for a reused one).
 */
export interface PooledHandler extends Dispatcher.DispatchHandler {
  client: PinnedClient | undefined;
  /** A failure before the request reached undici (same handling as undici's `onError`). */
  failed(err: Error): void;
}

function isPooledHandler(h: Dispatcher.DispatchHandler): h is PooledHandler {
  return 'client' in h;
}

/** One upstream connection slot of a pool (undici reconnects it as needed). */
export class PinnedClient extends Client {
  /** Connect time of the newest connection, until the first request on it takes it. */
  #dialMs: number | undefined;
  /**
   * Bytes read from the target on this client's connections, as they came off the wire: status
   * line, headers, chunk framing, chunk extensions and trailers included, which the decoded body
   * an exchange sees leaves out. One exchange at a time (no pipelining), so an exchange's bytes
   * are the difference between its start and its end.
   */
  wireIn = 0;

  /** Records the connect time of a connection this client just made. */
  dialled(ms: number): void {
    this.#dialMs = ms;
  }

  /** Connect time of the connection on its first use; 0 for a reused one. */
  takeDialMs(): number {
    const ms = this.#dialMs ?? 0;
    this.#dialMs = undefined;
    return ms;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (isPooledHandler(handler)) handler.client = this;
    return super.dispatch(opts, handler);
  }
}

/** Settings shared by every pool of a gateway. */
export interface PoolSettings {
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Most connections per pool (the per-subagent in-flight cap bounds it anyway). */
  readonly maxConnections: number;
  /** Total time of one exchange (response head and body); also undici's head timeout. */
  readonly exchangeTimeoutMs: number;
}

const noop = (): void => {
  // A socket handed back after the pools closed may still emit an error while it is torn down.
};

/** Options of a forwarded request (origin-form path, flat header list, optional streamed body). */
export interface ForwardRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly body: Readable | null;
}

/** The pools of one registration. */
export class RegistrationPools {
  readonly #reg: Registration;
  readonly #upstream: Upstream | undefined;
  readonly #settings: PoolSettings;
  readonly #pools = new Map<string, Pool>();
  #closed = false;

  constructor(reg: Registration, settings: PoolSettings) {
    this.#reg = reg;
    this.#upstream = reg.upstream;
    this.#settings = settings;
  }

  /** Number of live pools (one per checked address and port in use). */
  get size(): number {
    return this.#pools.size;
  }

  /**
   * Sends a request to `address:port` (an address the policy checked) over this registration's
   * pool for it. Every outcome reaches the handler: undici's callbacks, or `failed` when the
   * pools are already closed.
   */
  dispatch(address: string, port: number, r: ForwardRequest, handler: PooledHandler): void {
    if (this.#closed || this.#reg.revoked) {
      handler.failed(new PoolsClosedError());
      return;
    }
    const key = `${address} ${String(port)}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = this.#create(key, address, port);
      this.#pools.set(key, pool);
    }
    pool.dispatch(
      {
        method: r.method,
        path: r.path,
        headers: r.headers,
        body: r.body,
      },
      handler,
    );
  }

  /** Closes every pool, its connections and the requests on them; later requests fail. Idempotent. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = new PoolsClosedError();
    for (const pool of this.#pools.values()) void pool.destroy(err).catch(noop);
    this.#pools.clear();
  }

  #create(key: string, address: string, port: number): Pool {
    const s = this.#settings;
    const host = address.includes(':') ? `[${address}]` : address;
    const connectorFor =
      (client: { current: PinnedClient | undefined }): Connector =>
      (_opts, callback) => {
        this.#dial(address, port, client, callback);
      };
    const pool = new Pool(`http://${host}:${String(port)}`, {
      connections: s.maxConnections,
      factory: (origin, opts) => {
        const ref: { current: PinnedClient | undefined } = { current: undefined };
        const c = new PinnedClient(origin, { ...(opts as Client.Options), connect: connectorFor(ref) });
        ref.current = c;
        return c;
      },
      pipelining: 1,
      keepAliveTimeout: s.idleTimeoutMs,
      keepAliveMaxTimeout: s.idleTimeoutMs,
      // The exchange's own deadline (http-forward) bounds head and body together; undici's head
      // timeout is the same figure, so a target that never answers is cut even without it. A body
      // that stalls for as long as the idle timeout ends the exchange earlier.
      headersTimeout: s.exchangeTimeoutMs,
      bodyTimeout: s.idleTimeoutMs,
      strictContentLength: true,
    });
    // A pool with no connection left and nothing queued is dropped, so a long-lived subagent that
    // talks to many addresses does not accumulate them.
    const dropIfIdle = (): void => {
      const st = pool.stats;
      if (st.connected === 0 && st.size === 0 && this.#pools.get(key) === pool) {
        this.#pools.delete(key);
        void pool.close().catch(noop);
      }
    };
    pool.on('disconnect', dropIfIdle);
    pool.on('connectionError', dropIfIdle);
    return pool;
  }

  #dial(
    address: string,
    port: number,
    client: { current: PinnedClient | undefined },
    callback: ConnectCallback,
  ): void {
    if (this.#closed || this.#reg.revoked) {
      callback(new PoolsClosedError(), null);
      return;
    }
    void dialTarget({
      addresses: [address],
      port,
      upstream: this.#upstream,
      timeoutMs: this.#settings.connectTimeoutMs,
    }).then((d) => {
      if (!d.ok) {
        callback(new DialError(d.reason), null);
        return;
      }
      // Revoked while dialling: the connection must not survive into an idle pool (nobody would
      // ever use it, and revoke has already cut everything it knew about).
      if (this.#closed || this.#reg.revoked) {
        d.socket.on('error', noop).destroy();
        callback(new PoolsClosedError(), null);
        return;
      }
      const socket = d.socket;
      this.#reg.track(socket);
      const c = client.current;
      c?.dialled(d.ms);
      callback(null, socket);
      // After the callback: undici has attached its 'readable' listener, so this one only sees
      // what undici reads (node emits 'data' from read() then) and never changes the flow. Every
      // byte off the wire counts against the cap before the parser turns it into a callback, so
      // a response that hides its volume in chunk extensions or trailers is cut all the same.
      socket.on('data', (chunk: Buffer) => {
        if (!account(this.#reg, 'in', chunk.length)) {
          socket.destroy(new EgressCapError());
          return;
        }
        if (c !== undefined) c.wireIn += chunk.length;
      });
      // When a handler asks it to pause (backpressure, pacing), undici gives what it has not
      // parsed back to the socket (`unshift`); those bytes are read, and seen by the listener
      // above, a second time. Take them off the count as they go back, so each byte counts once.
      // undici asserts, and throws from the socket's 'close' listener (in the host process), when
      // a connection whose response is paused mid-body (backpressure, pacing) closes without an
      // error. Revoke and close destroy tracked sockets without one: every destroy of a target
      // connection carries an error, so undici takes its error path instead.
      const destroy = socket.destroy.bind(socket);
      socket.destroy = (err?: Error): typeof socket => destroy(err ?? new TargetCutError());
      const unshift = socket.unshift.bind(socket);
      socket.unshift = (chunk: Buffer | string, encoding?: BufferEncoding): void => {
        const n = typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : chunk.length;
        this.#reg.usage.bytesIn -= n;
        if (c !== undefined) c.wireIn -= n;
        unshift(chunk, encoding);
      };
    });
  }
}

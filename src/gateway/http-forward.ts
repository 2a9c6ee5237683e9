/**
 * Absolute-form HTTP forwarding: bodies stream both ways chunk by chunk (never buffered whole),
 * hop-by-hop and proxy headers are stripped, redirects are passed through untouched (a redirect
 * is just a response; following it would be a new request the subagent did not make).
 *
 * The exchange runs on the registration's own undici pool for the checked address, through a
 * low-level dispatch handler that writes the response straight into the client's response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { toError } from '../errors.js';
import { isRefusal, type Admission, type GatewayCore, type ListenerScope } from './admission.js';
import { forwardRequestHeaders, forwardResponseHeaderBuffers } from './headers.js';
import {
  DialError,
  EgressCapError,
  type PinnedClient,
  type PooledHandler,
  type RegistrationPools,
} from './pool.js';
import type { Registration } from './registration.js';
import { closesConnection } from './reasons.js';
import { sendRefusal } from './status.js';
import { hostHeaderFor } from './target.js';
import { account } from './tunnel.js';

/** Largest write handed to the client at once; smaller target chunks are gathered up to it. */
const COALESCE_BYTES = 16 * 1024;
/**
 * Response bytes one exchange may hold in the gateway (gathered, plus queued on the client
 * connection) before it stops reading the target. With undici's own read buffer this bounds what
 * the parent holds for a subagent at about `maxTunnelsPerSubagent` x 144 KiB.
 */
export const MAX_HELD_BYTES = 64 * 1024;

/**
 * Gathers the target's chunks into writes of up to {@link COALESCE_BYTES}: a target that answers
 * in 1-byte chunks would otherwise cost one Buffer, one chunk header and one write per byte.
 * What is gathered goes out when the buffer is full or on the next turn of the event loop, so a
 * slow trickle is not held back.
 */
class Coalescer {
  readonly #write: (chunk: Buffer) => void;
  #buf: Buffer | undefined;
  #len = 0;
  #scheduled = false;
  readonly #flushSoon = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  constructor(write: (chunk: Buffer) => void) {
    this.#write = write;
  }

  /** Bytes gathered and not yet written. */
  get held(): number {
    return this.#len;
  }

  push(chunk: Buffer): void {
    if (chunk.length >= COALESCE_BYTES) {
      // Big enough on its own: what was gathered goes first, then the chunk as it is.
      this.flush();
      this.#write(chunk);
      return;
    }
    for (let off = 0; off < chunk.length;) {
      this.#buf ??= Buffer.allocUnsafe(COALESCE_BYTES);
      const n = chunk.copy(this.#buf, this.#len, off);
      this.#len += n;
      off += n;
      if (this.#len === COALESCE_BYTES) this.flush();
    }
    if (this.#len > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushSoon);
    }
  }

  flush(): void {
    const buf = this.#buf;
    if (buf === undefined || this.#len === 0) return;
    // A full buffer is handed on and replaced; a partial one is copied out and reused.
    const out = this.#len === COALESCE_BYTES ? buf : Buffer.from(buf.subarray(0, this.#len));
    if (out === buf) this.#buf = undefined;
    this.#len = 0;
    this.#write(out);
  }

  /** Forgets what was gathered (the exchange was cut). */
  drop(): void {
    this.#len = 0;
    this.#buf = undefined;
  }
}

/** Handles one absolute-form (non-CONNECT, non-Upgrade) request. */
export async function handleHttp(
  core: GatewayCore,
  req: IncomingMessage,
  res: ServerResponse,
  scope: ListenerScope,
  poolsFor: (reg: Registration) => RegistrationPools,
  expectContinue: boolean,
): Promise<void> {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  const body = te !== undefined || (cl !== undefined && cl !== '0');
  if (req.httpVersion !== '1.1' && req.httpVersion !== '1.0') {
    core.refuse(scope.owner ?? null, {
      method: req.method ?? '',
      host: '',
      port: 0,
      reason: 'bad_request',
      rule: null,
    });
    sendRefusal(res, 'bad_request', { close: true });
    return;
  }
  const r = await core.admit(req, 'http', scope, req.socket);
  if (isRefusal(r)) {
    // A refused request's body is never read; closing is the only way to keep the framing safe.
    sendRefusal(res, r.reason, { close: body || r.status >= 500 || closesConnection(r.reason) });
    return;
  }
  if (res.destroyed) {
    r.release();
    return;
  }
  const ex = new Exchange(core, r, res);
  // Whatever happens from here on, the exchange ends exactly once and releases its slot.
  try {
    const headers = forwardRequestHeaders(req.rawHeaders, { upgrade: false });
    headers.push('Host', hostHeaderFor(r.target));
    if (expectContinue) res.writeContinue();
    let upload: Readable | null = null;
    if (body) upload = ex.upload(req);
    else req.resume();
    // Plain HTTP dials the first checked address; the pool is keyed by it.
    poolsFor(r.reg).dispatch(
      ex.address,
      r.target.port,
      { method: req.method ?? 'GET', path: r.target.path, headers, body: upload },
      ex,
    );
  } catch (err) {
    ex.failed(toError(err));
  }
}

type FailReason = DialError['reason'] | 'upstream_error' | 'egress_bytes_exceeded' | 'auth_invalid';

/**
 * One forwarded exchange: the undici handler for the target side, and the bookkeeping that makes
 * every request end in exactly one decision record, one close record and one slot release.
 */
class Exchange implements PooledHandler {
  client: PinnedClient | undefined = undefined;
  readonly address: string;
  readonly #core: GatewayCore;
  readonly #a: Admission;
  readonly #reg: Registration;
  readonly #res: ServerResponse;
  #abort: ((err?: Error) => void) | undefined;
  #resume: (() => void) | undefined;
  #connectMs: number | undefined;
  #status = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #decided = false;
  #done = false;
  #failing = false;
  /** `client.wireIn` when the exchange got its connection. */
  #wireStart: number | undefined;
  readonly #out: Coalescer;
  readonly #deadline: NodeJS.Timeout;
  readonly #onDrain = (): void => {
    if (!this.#done) this.#resume?.();
  };

  constructor(core: GatewayCore, a: Admission, res: ServerResponse) {
    this.#core = core;
    this.#a = a;
    this.#reg = a.reg;
    this.#res = res;
    this.address = a.addresses[0] ?? '';
    this.#out = new Coalescer((chunk) => {
      if (!this.#done && !res.destroyed) res.write(chunk);
    });
    // One deadline for head and body together: a target that trickles a byte now and then never
    // trips an idle timeout, and must not hold a slot and two connections for as long as it likes.
    this.#deadline = setTimeout(() => {
      this.#fail('upstream_error', 'deadline');
    }, core.settings.exchangeTimeoutMs);
    this.#deadline.unref();
    res.once('close', () => {
      if (res.writableFinished) {
        this.#finish('complete');
        return;
      }
      // The client left (or was cut by revoke) before the answer was complete.
      this.#cancel();
      this.#finish(this.#reg.revoked ? 'revoked' : 'client_closed');
    });
  }

  /**
   * The request body as undici reads it: every chunk is counted against the egress byte cap
   * before it is handed on, so the chunk that would cross the cap never leaves. A wrapper rather
   * than the request itself, so that undici tearing down a failed upload does not destroy the
   * client connection before it has been answered.
   */
  upload(req: IncomingMessage): Readable {
    const body = new Readable({
      read(): void {
        req.resume();
      },
    });
    req.on('data', (chunk: Buffer) => {
      if (this.#done) return;
      if (!account(this.#reg, 'out', chunk.length)) {
        req.pause();
        this.#fail('egress_bytes_exceeded');
        return;
      }
      this.#bytesOut += chunk.length;
      if (!body.push(chunk)) req.pause();
    });
    req.once('end', () => {
      body.push(null);
    });
    return body;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    this.#connectMs = this.client?.takeDialMs() ?? 0;
    this.#wireStart = this.client?.wireIn;
    // The client may have left while the connection was being made.
    if (this.#done) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // Interim answers (103 Early Hints and the like) are not forwarded; the final one follows.
    if (statusCode < 200) return true;
    const res = this.#res;
    if (this.#done || res.destroyed) {
      this.#cancel();
      return false;
    }
    this.#status = statusCode;
    this.#decided = true;
    this.#core.allow(this.#a, this.address, statusCode, this.#connectMs);
    try {
      res.writeHead(statusCode, statusText, forwardResponseHeaderBuffers(rawHeaders));
    } catch {
      // A status line or header the client side refuses to write (invalid characters).
      this.#cancel();
      res.destroy();
      this.#finish('error');
      return false;
    }
    this.#resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#done) return false;
    // The bytes were counted as they came off the wire (pool.ts); a chunk read after the cap was
    // crossed is never handed on. Reaching the cap exactly is not crossing it: the last chunk of
    // a response of exactly the cap is delivered.
    if (this.#reg.bytesCapCrossed) {
      this.#fail('egress_bytes_exceeded');
      return false;
    }
    const res = this.#res;
    this.#out.push(chunk);
    if (!this.#reg.chunkPace.take()) {
      // Over its chunk rate: stop reading the target until the bucket has a token again.
      this.#out.flush();
      setTimeout(this.#onDrain, this.#reg.chunkPace.waitMs()).unref();
      return false;
    }
    if (res.writableLength + this.#out.held <= MAX_HELD_BYTES) return true;
    // Too much held for a client that does not read: stop reading the target until it drains.
    this.#out.flush();
    if (res.writableNeedDrain) res.once('drain', this.#onDrain);
    else setImmediate(this.#onDrain);
    return false;
  }

  onComplete(): void {
    if (this.#done) return;
    this.#out.flush();
    // Trailers are not forwarded (the response was re-framed for the client).
    this.#res.end();
  }

  onError(err: Error): void {
    this.failed(err);
  }

  failed(err: Error): void {
    if (this.#done) return;
    if (this.#reg.revoked) {
      this.#fail('auth_invalid');
      return;
    }
    if (err instanceof EgressCapError || this.#reg.bytesExhausted) {
      this.#fail('egress_bytes_exceeded');
      return;
    }
    this.#fail(err instanceof DialError ? err.reason : 'upstream_error');
  }

  /** Ends the exchange on a failure: a refusal if nothing was answered yet, otherwise a cut. */
  #fail(reason: FailReason, end?: string): void {
    // Aborting the target side below reports back through onError: this failure is the one.
    if (this.#done || this.#failing) return;
    this.#failing = true;
    this.#out.drop();
    this.#cancel();
    const res = this.#res;
    if (!this.#decided && !res.headersSent) {
      this.#decided = true;
      const a = this.#a;
      this.#core.refuse(this.#reg, {
        method: a.method,
        host: a.target.hostText,
        port: a.target.port,
        reason,
        rule: null,
        address: this.address,
        dnsMs: a.dnsMs,
        connectMs: this.#connectMs,
      });
      sendRefusal(res, reason, { close: true });
    } else {
      res.destroy();
    }
    this.#finish(
      end ?? (reason === 'egress_bytes_exceeded' ? reason : this.#reg.revoked ? 'revoked' : 'error'),
    );
  }

  /** Aborts the target side (its connection is not reused after an aborted exchange). */
  #cancel(): void {
    const abort = this.#abort;
    this.#abort = undefined;
    abort?.();
  }

  #finish(end: string): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#deadline);
    const client = this.client;
    if (client !== undefined && this.#wireStart !== undefined)
      this.#bytesIn = client.wireIn - this.#wireStart;
    const a = this.#a;
    if (!this.#decided) {
      this.#decided = true;
      this.#core.allow(a, this.address, this.#status, this.#connectMs);
    }
    a.release();
    this.#core.closed(a, {
      address: this.address,
      status: this.#status,
      connectMs: this.#connectMs,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      end,
    });
  }
}

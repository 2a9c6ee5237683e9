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
import { isRefusal, type Admission, type GatewayCore, type ListenerScope } from './core.js';
import { forwardRequestHeaders, forwardResponseHeaderBuffers } from './headers.js';
import { DialError, type PinnedClient, type PooledHandler, type RegistrationPools } from './pool.js';
import type { Registration } from './registration.js';
import { sendRefusal } from './status.js';
import { hostHeaderFor } from './target.js';
import { account } from './tunnel.js';

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
    core.refuse(null, { method: req.method ?? '', host: '', port: 0, reason: 'bad_request', rule: null });
    sendRefusal(res, 'bad_request', { close: true });
    return;
  }
  const r = await core.admit(req, 'http', scope, req.socket);
  if (isRefusal(r)) {
    // A refused request's body is never read; closing is the only way to keep the framing safe.
    sendRefusal(res, r.reason, { close: body || r.status >= 500 });
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
    ex.failed(err instanceof Error ? err : new Error(String(err)));
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
  readonly #onDrain = (): void => {
    this.#resume?.();
  };

  constructor(core: GatewayCore, a: Admission, res: ServerResponse) {
    this.#core = core;
    this.#a = a;
    this.#reg = a.reg;
    this.#res = res;
    this.address = a.addresses[0] ?? '';
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
    if (!account(this.#reg, 'in', chunk.length)) {
      this.#fail('egress_bytes_exceeded');
      return false;
    }
    this.#bytesIn += chunk.length;
    if (this.#res.write(chunk)) return true;
    this.#res.once('drain', this.#onDrain);
    return false;
  }

  onComplete(): void {
    if (this.#done) return;
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
    this.#fail(err instanceof DialError ? err.reason : 'upstream_error');
  }

  /** Ends the exchange on a failure: a refusal if nothing was answered yet, otherwise a cut. */
  #fail(reason: FailReason): void {
    if (this.#done) return;
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
    this.#finish(reason === 'egress_bytes_exceeded' ? reason : this.#reg.revoked ? 'revoked' : 'error');
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

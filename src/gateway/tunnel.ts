/**
 * Raw byte relaying between a subagent and a target (CONNECT tunnels, upgraded WebSockets) and
 * streaming of HTTP bodies, with backpressure, per-chunk accounting and the egress byte cap.
 *
 * The cap is checked before a chunk is forwarded: the chunk that would cross it never leaves.
 */
import { Socket } from 'node:net';
import type { Readable, Writable, Duplex } from 'node:stream';
import type { Registration } from './registration.js';

/** Direction of a chunk: `in` = target to subagent, `out` = subagent to target. */
export type Direction = 'in' | 'out';

/** Counts a chunk against the registration; false when it would cross the egress byte cap. */
export function account(reg: Registration, dir: Direction, n: number): boolean {
  if (!reg.bytesAllowed(n)) {
    reg.limit('egress_bytes', `egress byte cap of ${reg.maxEgressBytes ?? 0} bytes reached`);
    return false;
  }
  if (dir === 'in') reg.usage.bytesIn += n;
  else reg.usage.bytesOut += n;
  return true;
}

/**
 * Streams `src` into `dst` chunk by chunk with backpressure. Calls `onCapExceeded` (and stops)
 * when a chunk would cross the byte cap; ends `dst` when `src` ends.
 */
export function relay(
  src: Readable,
  dst: Writable,
  reg: Registration,
  dir: Direction,
  counter: { n: number },
  onCapExceeded: () => void,
): void {
  let stopped = false;
  const onDrain = (): void => {
    src.resume();
  };
  src.on('data', (chunk: Buffer) => {
    if (stopped) return;
    if (!account(reg, dir, chunk.length)) {
      stopped = true;
      src.pause();
      onCapExceeded();
      return;
    }
    counter.n += chunk.length;
    if (!dst.write(chunk)) src.pause();
  });
  dst.on('drain', onDrain);
  src.once('end', () => {
    if (!stopped) dst.end();
  });
}

/** First read buffer of a tunnel: enough for handshakes and interactive traffic. */
const TUNNEL_READ_SMALL = 4 * 1024;
/** Read buffer once a read filled the small one (bulk data); node's own per-read size. */
const TUNNEL_READ_LARGE = 64 * 1024;

/**
 * Reads a directly dialled target socket into one reusable buffer (net `onread`) instead of a
 * fresh 64 KiB Buffer per read: the allocation and the garbage collection it causes were most of
 * the gateway's own CPU per tunnelled gigabyte. The buffer is never handed on while it may be
 * overwritten: a chunk that the client socket could not take at once stops reading until that
 * write has completed. Bytes that arrive before the tunnel is spliced (a server that speaks
 * first) are copied aside and delivered, counted, once it is.
 *
 * A tunnel starts with a small buffer and moves to a large one for good the first time a read
 * fills it, so idle and short tunnels hold 4 KiB instead of 64 KiB. A replaced buffer is never
 * read into again, so a write still queued from it stays intact.
 */
export class TunnelReader {
  #buffer = Buffer.allocUnsafe(TUNNEL_READ_SMALL);
  #sink: ((chunk: Buffer) => boolean) | undefined;
  #early: Buffer[] = [];

  /** The `onread` option for `net.connect` (node asks `buffer()` for the buffer of each next read). */
  readonly onread = {
    buffer: (): Buffer => this.#buffer,
    callback: (n: number, buf: Buffer): boolean => {
      const chunk = buf.subarray(0, n);
      if (n === buf.length && buf.length < TUNNEL_READ_LARGE) {
        this.#buffer = Buffer.allocUnsafe(TUNNEL_READ_LARGE);
      }
      if (this.#sink !== undefined) return this.#sink(chunk);
      this.#early.push(Buffer.from(chunk));
      return false;
    },
  };

  /** Starts delivering to `sink` (false = stop reading until resumed); returns the early bytes. */
  attach(sink: (chunk: Buffer) => boolean): Buffer[] {
    this.#sink = sink;
    const early = this.#early;
    this.#early = [];
    return early;
  }
}

/**
 * Target-to-client half of a tunnel over a {@link TunnelReader}: the same accounting, byte cap
 * and backpressure as {@link relay}.
 */
function relayInbound(
  reader: TunnelReader,
  target: Duplex,
  client: Duplex,
  reg: Registration,
  counter: { n: number },
  onCapExceeded: () => void,
): void {
  let stopped = false;
  let waiting = false;
  // Writes not yet flushed to the kernel. Only when none is left can the read buffer (which the
  // last of them may point into) be refilled.
  let unflushed = 0;
  const onFlushed = (): void => {
    unflushed--;
    if (!waiting || unflushed > 0 || stopped) return;
    waiting = false;
    target.resume();
  };
  const deliver = (chunk: Buffer): boolean => {
    if (stopped) return false;
    if (!account(reg, 'in', chunk.length)) {
      stopped = true;
      onCapExceeded();
      return false;
    }
    counter.n += chunk.length;
    unflushed++;
    client.write(chunk, onFlushed);
    if (client.writableLength > 0) {
      waiting = true;
      return false;
    }
    return true;
  };
  // Early chunks are copies; once delivered, reading resumes now or when their writes flushed.
  let resumeNow = true;
  for (const chunk of reader.attach(deliver)) if (!deliver(chunk)) resumeNow = false;
  if (resumeNow) target.resume();
  target.once('end', () => {
    if (!stopped) client.end();
  });
}

function setIdle(s: Duplex, ms: number): void {
  if (s instanceof Socket) s.setTimeout(ms);
}

/** How a tunnel ended. */
export interface TunnelEnd {
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly end: string;
}

/**
 * Splices two sockets into a tunnel. Half-closes propagate; when one side is fully closed the
 * other is ended and, if it does not close within a grace period, destroyed. `onEnd` fires once,
 * after both sides are closed.
 */
export function splice(
  client: Duplex,
  target: Duplex,
  opts: {
    reg: Registration;
    idleTimeoutMs: number;
    onEnd: (e: TunnelEnd) => void;
    /** Set when `target` was dialled with this reader's `onread`. */
    reader?: TunnelReader | undefined;
  },
): void {
  const reg = opts.reg;
  const bytesIn = { n: 0 };
  const bytesOut = { n: 0 };
  let reason: string | undefined;
  let closed = 0;
  const kill = (why: string): void => {
    reason ??= why;
    client.destroy();
    target.destroy();
  };
  const onCap = (): void => {
    kill('egress_bytes_exceeded');
  };
  relay(client, target, reg, 'out', bytesOut, onCap);
  if (opts.reader === undefined) relay(target, client, reg, 'in', bytesIn, onCap);
  else relayInbound(opts.reader, target, client, reg, bytesIn, onCap);
  const onClose = (other: Duplex, label: string) => (): void => {
    closed++;
    if (closed === 2) {
      const end = reg.revoked ? 'revoked' : (reason ?? label);
      opts.onEnd({ bytesIn: bytesIn.n, bytesOut: bytesOut.n, end });
      return;
    }
    reason ??= label;
    if (!other.writableEnded) other.end();
    const grace = setTimeout(() => other.destroy(), 5000);
    grace.unref();
    other.once('close', () => {
      clearTimeout(grace);
    });
  };
  client.once('close', onClose(target, 'client_closed'));
  target.once('close', onClose(client, 'target_closed'));
  const onError = (): void => {
    kill('error');
  };
  client.on('error', onError);
  target.on('error', onError);
  const onIdle = (): void => {
    kill('idle_timeout');
  };
  setIdle(client, opts.idleTimeoutMs);
  setIdle(target, opts.idleTimeoutMs);
  client.on('timeout', onIdle);
  target.on('timeout', onIdle);
  client.resume();
  if (opts.reader === undefined) target.resume();
}

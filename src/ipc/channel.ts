/**
 * A validated, framed message channel over any duplex byte stream.
 *
 * Incoming frames are decoded by `FrameDecoder` and validated with the given zod schema; the
 * first broken frame or invalid message poisons the channel: it emits a single `error`
 * (IpcProtocolError), delivers nothing more, and destroys the stream. The parent maps that error
 * to `protocol_violation`; the child simply exits.
 *
 * The same happens when a `message` listener throws (handling hostile data must never throw into
 * the stream's event loop and out of the process) and when the peer stops reading: more than
 * `maxQueuedBytes` written but not yet taken by the stream.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { IpcProtocolError } from '../errors.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  encodeFrame,
  type DecodedFrame,
  type FrameDecoderOptions,
} from './framing.js';

/**
 * What the channel needs from a schema: zod's `safeParse` shape. Structural, so the child runtime
 * can use a hand-written validator and never load zod (startup cost on every spawn).
 */
export interface MessageValidator<T> {
  safeParse(
    value: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** Options of an {@link IpcChannel}. */
export interface IpcChannelOptions<In> {
  /** Schema every incoming message must satisfy (a zod schema or any {@link MessageValidator}). */
  readonly schema: MessageValidator<In>;
  /** Largest frame body accepted or sent, bytes. @default 1048576 */
  readonly maxFrameBytes?: number;
  /** Smaller size class for all incoming types but a few (see {@link FrameDecoderOptions}). */
  readonly small?: FrameDecoderOptions['small'];
  /**
   * Bytes written but not yet taken by the stream (the peer is not reading) beyond which the
   * channel fails with IpcProtocolError. The parent's end (createParentChannel) sets 4 MiB;
   * a child's queue is its own memory, bounded by its own limits. @default Infinity
   */
  readonly maxQueuedBytes?: number;
}

/** Events of an {@link IpcChannel}. */
export interface IpcChannelEvents<In> {
  /** One validated message, with the size of its frame body in bytes. */
  message: [msg: In, bytes: number];
  /**
   * The peer broke the protocol (IpcProtocolError) or the stream failed. Emitted at most once. A
   * reset by a peer that is gone (ECONNRESET, EPIPE) is not an error: it ends in `close`.
   */
  error: [err: Error];
  /** The stream closed (after `error`, after the peer hung up, or after `close()`). Emitted once. */
  close: [];
}

/** Summarises zod issues for an error message without echoing values (they may be secrets or huge). */
function describeIssues(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length === 0 ? '/' : '/' + i.path.map(String).join('/')}: ${i.message}`)
    .join('; ');
}

/** Name and (clipped) message of a thrown value, for an error detail; no stack, no values. */
export function describeThrown(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : `non-error thrown (${typeof err})`;
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Errno codes with which a stream reports that its peer is gone (not that it misbehaved). */
const PEER_GONE_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

function isPeerGone(err: Error): boolean {
  return 'code' in err && typeof err.code === 'string' && PEER_GONE_CODES.has(err.code);
}

/**
 * Framed, schema-validated messages over a duplex stream.
 *
 * @example
 * const ch = createParentChannel(sandbox.channel);
 * ch.on('message', (m) => { if (m.type === 'ready') ch.send({ type: 'start', ... }); });
 * ch.on('error', (err) => terminate('protocol_violation', err.message));
 */
export class IpcChannel<In, Out> extends EventEmitter<IpcChannelEvents<In>> {
  readonly #stream: Duplex;
  readonly #schema: MessageValidator<In>;
  readonly #maxFrameBytes: number;
  readonly #decoder: FrameDecoder;
  readonly #maxQueuedBytes: number;
  #peakQueued = 0;
  #failed = false;
  #closed = false;
  #received = 0;

  constructor(stream: Duplex, opts: IpcChannelOptions<In>) {
    super();
    this.#stream = stream;
    this.#schema = opts.schema;
    this.#maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxQueuedBytes = opts.maxQueuedBytes ?? Number.POSITIVE_INFINITY;
    this.#decoder = new FrameDecoder({
      maxFrameBytes: this.#maxFrameBytes,
      ...(opts.small === undefined ? {} : { small: opts.small }),
    });
    stream.on('data', (chunk: Buffer | string) => {
      this.#onData(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    });
    stream.on('error', (err: Error) => {
      // A peer that died (crashed, was killed) resets the stream: that is the end of the
      // conversation, not a protocol error. Reporting it as one would turn every child crash
      // that races a parent write into a `protocol_violation` instead of a `failed` outcome.
      if (isPeerGone(err)) {
        this.#stream.destroy();
        this.#onClose();
        return;
      }
      this.#fail(err);
    });
    stream.on('close', () => {
      this.#onClose();
    });
    // 'end' without 'close' happens on half-open sockets (allowHalfOpen); treat it as the end.
    stream.on('end', () => {
      this.#onClose();
    });
  }

  /** True once the channel failed or closed; `send` is then a no-op returning false. */
  get closed(): boolean {
    return this.#closed || this.#failed;
  }

  /** Most bytes ever queued towards the peer and not yet taken by the stream. */
  get peakQueuedBytes(): number {
    return this.#peakQueued;
  }

  /** Number of valid messages delivered so far. */
  get received(): number {
    return this.#received;
  }

  /**
   * Sends one message. Returns false if the channel is closed (nothing is sent).
   *
   * A peer that does not read makes the queue grow: past `maxQueuedBytes` the channel fails
   * (`error`, then `close`) and this returns false.
   *
   * @throws IpcProtocolError if the message cannot be framed (not JSON, larger than maxFrameBytes,
   *   nested deeper than the frame limits).
   */
  send(msg: Out): boolean {
    if (this.closed || this.#stream.destroyed || this.#stream.writableEnded) return false;
    const frame = encodeFrame(msg, this.#maxFrameBytes);
    this.#stream.write(frame);
    const queued = this.#stream.writableLength;
    if (queued > this.#peakQueued) this.#peakQueued = queued;
    if (queued > this.#maxQueuedBytes) {
      this.#fail(
        new IpcProtocolError(
          `the peer is not reading its IPC stream: ${queued} bytes queued, over the limit of ${this.#maxQueuedBytes}`,
          { details: { queuedBytes: queued, maxQueuedBytes: this.#maxQueuedBytes } },
        ),
      );
      return false;
    }
    return true;
  }

  /** Ends the stream after pending writes flush. */
  close(): void {
    if (!this.#stream.destroyed && !this.#stream.writableEnded) this.#stream.end();
  }

  /** Destroys the stream immediately. */
  destroy(): void {
    this.#stream.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#failed) return;
    let frames: DecodedFrame[];
    try {
      frames = this.#decoder.pushFrames(chunk);
    } catch (err) {
      this.#fail(err instanceof Error ? err : new IpcProtocolError('IPC decoding failed', { cause: err }));
      return;
    }
    for (const { value, bytes } of frames) {
      const parsed = this.#schema.safeParse(value);
      if (!parsed.success) {
        const type =
          typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string'
            ? value.type.slice(0, 64)
            : '?';
        this.#fail(
          new IpcProtocolError(`invalid IPC message (type "${type}"): ${describeIssues(parsed.error)}`, {
            details: { type },
          }),
        );
        return;
      }
      this.#received += 1;
      try {
        this.emit('message', parsed.data, bytes);
      } catch (err) {
        // A bug reached by hostile data ends this conversation, never the process.
        this.#fail(
          new IpcProtocolError(`handling an IPC message failed: ${describeThrown(err)}`, { cause: err }),
        );
        return;
      }
      // A listener may have failed the channel; later messages in the same chunk are dropped.
      if (this.closed) return;
    }
  }

  #fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    try {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    } finally {
      // Even if the listener threw: the stream of a peer that broke the protocol is done.
      this.#stream.destroy();
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close');
  }
}

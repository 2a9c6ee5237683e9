/**
 * Length-prefixed JSON framing: a 4-byte big-endian unsigned length, then that many bytes of UTF-8
 * JSON. Works over any byte stream (a socketpair today, a TLS stream tomorrow), so neither side
 * assumes it is a local child.
 *
 * The decoder is the first thing that touches bytes from an untrusted child, so it refuses an
 * oversized frame from its 4-byte header alone (before buffering the body) and never grows its
 * buffer past one maximum frame. Before parsing it bounds the nesting depth and key count of the
 * body with a linear scan (see shape.ts), and it can hold every frame type but a few to a much
 * smaller size (the parent does, for the child's `log` and other small messages).
 */
import { IpcProtocolError } from '../errors.js';
import { MAX_FRAME_BYTES, MAX_FRAME_DEPTH, MAX_OBJECT_KEYS } from './limits.js';
import { jsonShapeProblem, type ShapeLimits } from './shape.js';

// JSON.stringify returns undefined for undefined, functions and symbols; its typing hides that.
const stringify: (value: unknown) => string | undefined = JSON.stringify;

/** Default maximum size of one frame body, bytes (1 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = MAX_FRAME_BYTES;

/** Depth and key bounds every frame must keep, both directions. */
export const FRAME_SHAPE: ShapeLimits = Object.freeze({
  maxDepth: MAX_FRAME_DEPTH,
  maxKeys: MAX_OBJECT_KEYS,
});

/** Size of the length prefix, bytes. */
export const FRAME_HEADER_BYTES = 4;

/**
 * Serialises one message into a frame.
 *
 * @throws IpcProtocolError if the message is not JSON-serialisable or its body exceeds `maxFrameBytes`.
 */
export function encodeFrame(msg: unknown, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Buffer {
  let text: string | undefined;
  try {
    text = stringify(msg);
  } catch (err) {
    throw new IpcProtocolError('IPC message is not JSON-serialisable', { cause: err });
  }
  if (text === undefined) throw new IpcProtocolError('IPC message is not JSON-serialisable (undefined)');
  // Never send what the peer's decoder refuses: the sender gets the error, not the receiver.
  const shape = jsonShapeProblem(text, FRAME_SHAPE);
  if (shape !== null) throw new IpcProtocolError(`IPC message refused: ${shape}`, { details: { shape } });
  const bodyLength = Buffer.byteLength(text, 'utf8');
  if (bodyLength > maxFrameBytes) {
    throw new IpcProtocolError(
      `IPC message of ${bodyLength} bytes exceeds the maximum frame size of ${maxFrameBytes} bytes`,
      { details: { bytes: bodyLength, maxFrameBytes } },
    );
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength);
  frame.writeUInt32BE(bodyLength, 0);
  frame.write(text, FRAME_HEADER_BYTES, 'utf8');
  return frame;
}

/**
 * Keys that would change an object's prototype if a later consumer copied a parsed value with
 * plain assignment (e.g. a record schema). JSON.parse itself creates them as own properties, so
 * they are harmless until copied; refusing them outright is simpler than auditing every copy.
 */
function rejectProtoKeys(this: unknown, key: string, value: unknown): unknown {
  if (key === '__proto__') throw new IpcProtocolError('IPC message contains a "__proto__" key');
  return value;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses one frame body. Exported for tests and for transports that deliver whole messages.
 *
 * @throws IpcProtocolError on a body nested deeper or with more keys than `shape` allows, invalid
 *   UTF-8 or invalid JSON.
 */
export function decodeFrameBody(body: Uint8Array, shape: ShapeLimits = FRAME_SHAPE): unknown {
  // Before anything else touches the body: JSON.parse would accept 20,000 levels, and the first
  // recursive consumer after it would overflow the stack.
  const problem = jsonShapeProblem(body, shape);
  if (problem !== null) {
    throw new IpcProtocolError(`IPC frame of ${body.length} bytes refused: ${problem}`, {
      details: { bytes: body.length, shape: problem },
    });
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch (err) {
    throw new IpcProtocolError('IPC frame is not valid UTF-8', { cause: err });
  }
  // The reviver costs a little, so it only runs when the text could spell "__proto__" (directly
  // or through a \u escape).
  const suspicious = text.includes('__proto__') || text.includes('\\u');
  try {
    return suspicious ? (JSON.parse(text, rejectProtoKeys) as unknown) : (JSON.parse(text) as unknown);
  } catch (err) {
    if (err instanceof IpcProtocolError) throw err;
    throw new IpcProtocolError(`IPC frame is not valid JSON (${body.length} bytes)`, { cause: err });
  }
}

/** Options of a {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest accepted frame body. @default DEFAULT_MAX_FRAME_BYTES */
  readonly maxFrameBytes?: number;
  /**
   * Size classes by message type: a frame larger than `maxBytes` must begin exactly with
   * `{"type":"<one of types>"` and decode to a message of that type; anything else is refused —
   * from its first bytes, before it is decoded. Absent: one size class (`maxFrameBytes`).
   */
  readonly small?: { readonly maxBytes: number; readonly largeTypes: readonly string[] };
}

/** One decoded frame and the size of its body. */
export interface DecodedFrame {
  readonly value: unknown;
  readonly bytes: number;
}

/**
 * Incremental frame decoder. Feed it chunks as they arrive; it returns every complete message.
 * After it throws once it is poisoned: every later `push` throws too (a stream that broke framing
 * cannot be resynchronised safely).
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  readonly #smallBytes: number;
  /** `{"type":"result"` etc. as bytes, with the type each stands for. */
  readonly #largePrefixes: readonly { readonly type: string; readonly bytes: Buffer }[];
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failed: IpcProtocolError | null = null;

  constructor(opts: FrameDecoderOptions = {}) {
    const max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isSafeInteger(max) || max < 2 || max > 0xffffffff) {
      throw new RangeError(`maxFrameBytes must be an integer in [2, 2^32-1], got ${max}`);
    }
    this.#maxFrameBytes = max;
    this.#smallBytes = Math.min(opts.small?.maxBytes ?? max, max);
    this.#largePrefixes = (opts.small?.largeTypes ?? []).map((type) => ({
      type,
      bytes: Buffer.from(`{"type":${JSON.stringify(type)}`, 'utf8'),
    }));
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * Adds bytes and returns the messages completed by them, in order.
   *
   * @throws IpcProtocolError on an empty or oversized frame, invalid UTF-8 or invalid JSON.
   */
  push(chunk: Uint8Array): unknown[] {
    return this.pushFrames(chunk).map((f) => f.value);
  }

  /**
   * Like {@link push}, with each message's body size (for per-byte budgets).
   *
   * @throws IpcProtocolError on an empty or oversized frame, a refused shape, invalid UTF-8 or JSON.
   */
  pushFrames(chunk: Uint8Array): DecodedFrame[] {
    if (this.#failed !== null) throw this.#failed;
    if (chunk.length === 0) return [];
    this.#chunks.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
    );
    this.#buffered += chunk.length;
    const out: DecodedFrame[] = [];
    try {
      for (;;) {
        if (this.#buffered < FRAME_HEADER_BYTES) break;
        const length = this.#peekLength();
        if (length === 0) throw new IpcProtocolError('IPC frame has length 0');
        if (length > this.#maxFrameBytes) {
          throw new IpcProtocolError(
            `IPC frame of ${length} bytes exceeds the maximum of ${this.#maxFrameBytes} bytes`,
            { details: { bytes: length, maxFrameBytes: this.#maxFrameBytes } },
          );
        }
        if (this.#buffered < FRAME_HEADER_BYTES + length) break;
        const all = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
        const body = all.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
        const rest = all.subarray(FRAME_HEADER_BYTES + length);
        this.#chunks = rest.length === 0 ? [] : [rest];
        this.#buffered = rest.length;
        const large = length > this.#smallBytes ? this.#largeType(body) : null;
        const value = decodeFrameBody(body);
        if (large !== null && !isOfType(value, large)) {
          // `{"type":"result", …, "type":"log"}`: JSON.parse keeps the last key.
          throw new IpcProtocolError(`IPC frame of ${length} bytes announced '${large}' but is not one`, {
            details: { bytes: length },
          });
        }
        out.push({ value, bytes: length });
      }
    } catch (err) {
      this.#failed =
        err instanceof IpcProtocolError
          ? err
          : new IpcProtocolError('IPC frame decoding failed', { cause: err });
      this.#chunks = [];
      this.#buffered = 0;
      throw this.#failed;
    }
    return out;
  }

  /** The type a large frame announces in its first bytes; throws when it may not be large. */
  #largeType(body: Buffer): string {
    for (const p of this.#largePrefixes) {
      if (body.length > p.bytes.length && body.subarray(0, p.bytes.length).equals(p.bytes)) return p.type;
    }
    throw new IpcProtocolError(
      `IPC frame of ${body.length} bytes exceeds the ${this.#smallBytes}-byte limit of its message type`,
      { details: { bytes: body.length, maxFrameBytes: this.#smallBytes } },
    );
  }

  #peekLength(): number {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    const head = Buffer.concat(this.#chunks, FRAME_HEADER_BYTES);
    // Keep the merged head so later peeks do not re-concatenate tiny chunks.
    this.#chunks = [Buffer.concat(this.#chunks)];
    return head.readUInt32BE(0);
  }
}

function isOfType(value: unknown, type: string): boolean {
  return typeof value === 'object' && value !== null && 'type' in value && value.type === type;
}

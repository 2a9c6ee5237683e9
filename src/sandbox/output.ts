/**
 * Drains a child's stdout/stderr without ever buffering more than a small, fixed amount: a hostile
 * child printing gigabytes must not grow the parent's memory. Lines are forwarded (truncated)
 * while a per-stream byte budget lasts; the rest is read and dropped.
 */
import type { Readable } from 'node:stream';
import type { OutputLine } from './types.js';

const MAX_LINE_CHARS = 1024;
const TAIL_CHARS = 4096;

/** Reads `stream` to the end, forwarding lines within `budgetBytes` and keeping a short tail. */
export class OutputDrain {
  readonly #name: OutputLine['stream'];
  readonly #onLine: ((line: OutputLine) => void) | undefined;
  #budget: number;
  #partial = '';
  #tail = '';
  #bytes = 0;

  constructor(
    stream: Readable,
    name: OutputLine['stream'],
    budgetBytes: number,
    onLine: ((line: OutputLine) => void) | undefined,
  ) {
    this.#name = name;
    this.#onLine = onLine;
    this.#budget = budgetBytes;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.#onData(chunk);
    });
    stream.on('end', () => {
      this.#flushPartial();
    });
    stream.on('error', () => {
      // The child died mid-write; nothing to recover.
    });
  }

  /** Total bytes (UTF-16 units, approximately bytes) the child wrote to this stream. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The last ≤ 4 KiB written. */
  get tail(): string {
    return this.#tail;
  }

  #onData(chunk: string): void {
    this.#bytes += chunk.length;
    this.#tail = (this.#tail + chunk).slice(-TAIL_CHARS);
    if (this.#onLine === undefined || this.#budget <= 0) return;
    const take = chunk.slice(0, this.#budget);
    this.#budget -= take.length;
    const parts = (this.#partial + take).split('\n');
    this.#partial = (parts.pop() ?? '').slice(0, MAX_LINE_CHARS);
    for (const line of parts) this.#emit(line);
    if (this.#budget <= 0) {
      this.#flushPartial();
      this.#emit(`[output truncated after the ${this.#name} budget]`);
    }
  }

  #flushPartial(): void {
    if (this.#partial.length > 0) this.#emit(this.#partial);
    this.#partial = '';
  }

  #emit(line: string): void {
    if (this.#onLine === undefined) return;
    const text = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line;
    try {
      this.#onLine({ stream: this.#name, text });
    } catch {
      // A throwing listener must not break draining (the child would block on a full pipe).
    }
  }
}

import { ToolError } from '../errors.js';

interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
}

/**
 * Bytes one subagent's tool calls may hold in the parent at once. Reservations are granted in
 * arrival order (a large call is not starved by a stream of small ones); a waiting call gives up
 * when its signal aborts (its deadline or the subagent's end).
 */
export class ByteBudget {
  readonly limit: number;
  #used = 0;
  readonly #waiters: Waiter[] = [];

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes currently reserved. */
  get used(): number {
    return this.#used;
  }

  /**
   * Reserves `bytes` (at most the whole budget); resolves to the function that gives them back
   * (idempotent). Rejects with a ToolError when `signal` aborts first.
   */
  reserve(bytes: number, signal: AbortSignal, what: string): Promise<() => void> {
    const n = Math.min(Math.max(0, bytes), this.limit);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#used -= n;
      this.#grantWaiting();
    };
    if (this.#waiters.length === 0 && this.#used + n <= this.limit) {
      this.#used += n;
      return Promise.resolve(release);
    }
    return new Promise<() => void>((resolve, reject) => {
      const waiter: Waiter = {
        bytes: n,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        this.#grantWaiting();
        reject(
          new ToolError(
            'SG_TOOL_FAILED',
            `${what}: gave up waiting for ${n} bytes of this subagent's ${this.limit}-byte in-flight budget`,
          ),
        );
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #grantWaiting(): void {
    for (
      let w = this.#waiters[0];
      w !== undefined && this.#used + w.bytes <= this.limit;
      w = this.#waiters[0]
    ) {
      this.#waiters.shift();
      this.#used += w.bytes;
      w.grant();
    }
  }
}

/**
 * A token bucket of bytes per second for one subagent's built-in calls. A call waits until the
 * bucket is not in debt, then is charged what it processed (which may put the bucket in debt:
 * the next call pays for it). Waiting respects the call's signal.
 */
export class BytePace {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at = performance.now();

  constructor(bytesPerSecond: number, burst: number) {
    this.#rate = bytesPerSecond;
    this.#burst = burst;
    this.#tokens = burst;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
    this.#at = now;
  }

  /** Charges `bytes` processed. */
  charge(bytes: number): void {
    this.#refill();
    this.#tokens -= bytes;
  }

  /** Resolves once the bucket is out of debt; rejects with a ToolError when `signal` aborts first. */
  async ready(signal: AbortSignal, what: string): Promise<void> {
    for (;;) {
      this.#refill();
      if (this.#tokens >= 0) return;
      const waitMs = Math.ceil((-this.#tokens / this.#rate) * 1000);
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(
            new ToolError(
              'SG_TOOL_FAILED',
              `${what}: gave up waiting for this subagent's tool throughput budget`,
            ),
          );
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, waitMs);
        if (signal.aborted) {
          onAbort();
          return;
        }
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}

/**
 * Rate and concurrency limits of the gateway. Cheap enough for the hot path: a token bucket is
 * two numbers and a clock read.
 */

/** A token bucket: `rate` tokens per second, holding at most `burst`. */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  constructor(ratePerSecond: number, burst: number) {
    this.#rate = ratePerSecond;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = performance.now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until one token is available again (0 when one is). */
  waitMs(): number {
    const missing = 1 - this.#tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this.#rate) * 1000);
  }
}

/** A counter with a cap (open tunnels and in-flight requests). */
export class Slots {
  readonly #max: number;
  #used = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get used(): number {
    return this.#used;
  }

  tryAcquire(): boolean {
    if (this.#used >= this.#max) return false;
    this.#used++;
    return true;
  }

  release(): void {
    if (this.#used > 0) this.#used--;
  }
}

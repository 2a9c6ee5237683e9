/**
 * Rate and concurrency limits of the gateway. Cheap enough for the hot path: a token bucket is
 * two numbers and a clock read.
 */

/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. The clock can be passed in
 * (tests, and callers that read it once for several buckets). Also the spawner's log rate.
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  constructor(ratePerSecond: number, burst: number, now: number = performance.now()) {
    this.#rate = ratePerSecond;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes `n` tokens; false (nothing taken) when fewer are left. */
  take(n = 1, now: number = performance.now()): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + (Math.max(0, now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    if (this.#tokens < n) return false;
    this.#tokens -= n;
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

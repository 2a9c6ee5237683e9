/**
 * Waits for a state instead of sleeping for a guessed time: `check` is retried until it returns
 * without throwing (its return value is passed on) or `timeoutMs` passes, and then its last error
 * is thrown. A passing check costs no wait; a slow machine gets the whole timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** @default 5000 */
  readonly timeoutMs?: number;
  /** @default 10 */
  readonly intervalMs?: number;
}

/**
 * @example
 * await eventually(() => assert.equal(h.ends.length, 1));
 */
export async function eventually<T>(check: () => T | Promise<T>, opts: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (performance.now() >= deadline) {
        if (err instanceof Error) err.message = `still failing after ${timeoutMs} ms: ${err.message}`;
        throw err;
      }
    }
    await sleep(intervalMs);
  }
}

/**
 * Polls `check` until it returns true or `timeoutMs` pass; resolves whether it became true. For
 * waits whose failure the caller reports itself (`assert.ok(await waitUntil(...), 'why')`) or
 * tolerates (cleanup).
 */
export async function waitUntil(check: () => boolean, timeoutMs = 3000, intervalMs = 10): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (check()) return true;
    await sleep(intervalMs);
  }
  return check();
}

/**
 * The isolation levels of this machine, detected once per test process, and the reason a suite
 * for a level cannot run here: `describe(name, { skip: levelSkip(level) }, ...)` skips the whole
 * suite with that reason instead of every test skipping itself.
 */
import { detectIsolation } from '../../src/sandbox/index.js';
import type { IsolationLevel } from '../../src/spawner/types.js';

/** Every isolation level, strongest first. */
export const LEVELS: readonly IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];

/** What detection found on this machine. */
export const isolation = await detectIsolation();

/** Why a test at `level` cannot run here, or false when it can. */
export function levelSkip(level: IsolationLevel): string | false {
  if (isolation.available.includes(level)) return false;
  const detail = isolation.details[level === 'unshare' ? 'namespace' : level];
  return `isolation level '${level}' is not available here${detail === undefined ? '' : `: ${detail}`}`;
}

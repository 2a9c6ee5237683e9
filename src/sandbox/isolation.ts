/**
 * Choosing the isolation level from a request and what this machine offers.
 */
import { SpawnerError } from '../errors.js';
import type { IsolationLevel, IsolationRequest } from './types.js';

/** Chooses the level: asking for one that is not available is an error, never a silent downgrade. */
export function chooseIsolation(
  requested: IsolationRequest,
  available: readonly IsolationLevel[],
  best: IsolationLevel,
): IsolationLevel {
  if (requested === 'auto') return best;
  const level =
    requested === 'namespace'
      ? (['bubblewrap', 'unshare'] as const).find((l) => available.includes(l))
      : available.includes(requested)
        ? requested
        : undefined;
  if (level === undefined) {
    const need =
      requested === 'namespace'
        ? "bubblewrap or 'unshare -Urn'"
        : requested === 'unshare'
          ? "'unshare -Urn'"
          : requested;
    throw new SpawnerError(
      'SG_ISOLATION_UNAVAILABLE',
      `isolation '${requested}' needs ${need}; available here: ${available.join(', ')}`,
      { details: { requested, available: [...available] } },
    );
  }
  return level;
}

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
  // Opt-in only: gVisor costs about half a second per start, so plain `auto` never picks it.
  if (requested === 'auto+gvisor') return available.includes('gvisor') ? 'gvisor' : best;
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
          : requested === 'gvisor'
            ? 'runsc (gVisor) running as root'
            : requested;
    throw new SpawnerError(
      'SG_ISOLATION_UNAVAILABLE',
      `isolation '${requested}' needs ${need}; available here: ${available.join(', ')}`,
      { details: { requested, available: [...available] } },
    );
  }
  return level;
}

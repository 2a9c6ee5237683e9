/**
 * Whether another (unprivileged) identity can reach a path, from the mode bits alone: used before
 * a child is started under a uid other than ours, so an unreadable entry or runtime is a clear
 * launch error instead of a child that dies on EACCES while loading its code.
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { SpawnerError } from '../errors.js';
import type { RunAs } from './command.js';

/** Permission bits (r=4, w=2, x=1) `ids` has on a file with these stats (no ACLs, no capabilities). */
function bitsFor(st: Stats, ids: RunAs): number {
  if (st.uid === ids.uid) return (st.mode >> 6) & 7;
  if (st.gid === ids.gid) return (st.mode >> 3) & 7;
  return st.mode & 7;
}

/**
 * Throws unless `ids` can search every directory above `path` and has `need` (a mask of r=4, w=2,
 * x=1) on `path` itself; a directory being read also needs search (x).
 *
 * @throws SpawnerError `SG_SANDBOX_LAUNCH` naming the first path that is not reachable.
 */
export function assertAccessible(path: string, ids: RunAs, need: number): void {
  const real = realpathSync(path);
  const fail = (where: string, what: string): never => {
    throw new SpawnerError(
      'SG_SANDBOX_LAUNCH',
      `${where} is not ${what} by uid ${ids.uid}/gid ${ids.gid}, the unprivileged identity process-level children run as when the orchestrator is root; make ${path} readable to it (e.g. chmod o+rX) or pass another runAs`,
      { details: { path, blocking: where, uid: ids.uid, gid: ids.gid } },
    );
  };
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    if ((bitsFor(statSync(dir), ids) & 1) === 0) fail(dir, 'searchable');
    if (dir === dirname(dir)) break;
  }
  const st = statSync(real);
  const want = st.isDirectory() ? need | 1 : need;
  if ((bitsFor(st, ids) & want) !== want) fail(real, need & 2 ? 'writable' : 'readable');
}

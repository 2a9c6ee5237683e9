/**
 * Process-tree inspection through /proc: descendants of a pid and their resident memory. Used for
 * RSS polling (the universal memory backstop) and to SIGKILL every process of a sandbox, including
 * ones that left its process group.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** The errno code of a caught error, if it has one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}

function readResidentPages(pid: number): number | null {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'latin1');
    const resident = Number(statm.split(' ')[1]);
    return Number.isFinite(resident) ? resident : null;
  } catch {
    return null;
  }
}

/**
 * The kernel page size, derived once by comparing our own statm (pages) with VmRSS (KiB): Node
 * does not expose sysconf(_SC_PAGESIZE). Falls back to 4096.
 */
function detectPageSize(): number {
  try {
    const status = readFileSync('/proc/self/status', 'latin1');
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    const pages = readResidentPages(process.pid);
    if (m !== null && pages !== null && pages > 0) {
      const ratio = (Number(m[1]) * 1024) / pages;
      for (const size of [4096, 16384, 65536]) if (Math.abs(ratio - size) / size < 0.25) return size;
    }
  } catch {
    // Not Linux or /proc unavailable.
  }
  return 4096;
}

/** Bytes per page. */
export const PAGE_SIZE: number = detectPageSize();

/** Direct children of `pid` (every thread's children: a child may be forked from any thread). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').split(' ')) {
        const n = Number(c);
        if (c.length > 0 && Number.isSafeInteger(n) && n > 0) out.push(n);
      }
    } catch {
      // The thread exited meanwhile.
    }
  }
  return out;
}

/** `root` and all its live descendants (breadth first, bounded against pid-reuse loops). */
export function processTree(root: number): number[] {
  const seen = new Set<number>();
  const queue = [root];
  while (queue.length > 0 && seen.size < 4096) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...childrenOf(pid));
  }
  return [...seen];
}

/** Sum of resident memory of `pids`, bytes; null if none of them exists anymore. */
export function rssOf(pids: readonly number[]): number | null {
  let pages = 0;
  let found = false;
  for (const pid of pids) {
    const p = readResidentPages(pid);
    if (p !== null) {
      pages += p;
      found = true;
    }
  }
  return found ? pages * PAGE_SIZE : null;
}

/** Whether `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** SIGKILL, ignoring ESRCH (already gone) and EPERM (pid reused by someone else's process). */
export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone or not ours.
  }
}

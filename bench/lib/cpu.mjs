// CPU and memory of a process tree, read from /proc. CPU time per unit of work is the steadiest
// figure a benchmark on a shared 2-core machine can give (throughput drifts with the neighbours).
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 Hz is the Linux USER_HZ everywhere we run
}
const PAGE = 4096;

/** Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Direct children of a process (every thread's children). */
export function childrenOf(pid) {
  const out = [];
  let tasks;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const txt = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (txt !== '') for (const c of txt.split(' ')) out.push(Number(c));
    } catch {
      // thread gone
    }
  }
  return out;
}

/** `pid` and all its descendants. */
export function processTree(pid) {
  const seen = [];
  const stack = [pid];
  while (stack.length > 0 && seen.length < 100_000) {
    const p = stack.pop();
    seen.push(p);
    stack.push(...childrenOf(p));
  }
  return seen;
}

/**
 * CPU time (user + system, including reaped children) of a process and its descendants, in µs.
 * Resolution is one clock tick (10 ms): measure over seconds, not milliseconds.
 */
export function treeCpuMicros(pid) {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const f = statFields(p);
      // utime, stime, cutime, cstime are fields 14-17 of stat; index 0 here is field 3.
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // exited between listing and reading
    }
  }
  return (ticks * 1e6) / clkTck;
}

/** Resident set size of one process in bytes (0 when gone). */
export function rssBytes(pid) {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
    return Number(statm[1]) * PAGE;
  } catch {
    return 0;
  }
}

/** Proportional set size of one process in bytes (shared pages split among sharers; 0 when gone). */
export function pssBytes(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sum of RSS and PSS over the descendants of `pid` (excluding `pid` itself). */
export function descendantsMemory(pid) {
  const tree = processTree(pid).slice(1);
  let rss = 0;
  let pss = 0;
  for (const p of tree) {
    rss += rssBytes(p);
    pss += pssBytes(p);
  }
  return { processes: tree.length, rss, pss };
}

/** Command name of a process ('' when gone). */
export function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

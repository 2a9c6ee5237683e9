// How a proxy writes its log: attaches strace to a running process (all threads) for the length of
// a load run and counts fsync-family calls and write calls on the log file's descriptors. Used to
// check "the audit log never fsyncs per event" on our gateway. Needs strace and ptrace rights;
// returns null otherwise. Never part of a timed run (ptrace slows the traced process).
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, which, sleep } from './procs.mjs';

/**
 * @param {number} pid process to trace
 * @param {string} logPath the log file whose writes are counted
 * @param {string} dir scratch dir for the trace
 * @param {() => Promise<{ requests: number }>} load run while traced
 */
export async function traceLogWrites(pid, logPath, dir, load) {
  const strace = await which('strace');
  if (strace === null) return null;
  const fds = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === logPath) fds.add(fd);
    } catch {
      // closed meanwhile
    }
  }
  const out = join(dir, `strace-${pid}.txt`);
  const tracer = startProcess(strace, [
    '-f',
    '-qq',
    '-s',
    '0',
    '-e',
    'trace=write,writev,pwrite64,fsync,fdatasync,sync_file_range',
    '-o',
    out,
    '-p',
    String(pid),
  ]);
  await sleep(500);
  let requests = 0;
  try {
    requests = (await load()).requests;
  } finally {
    await tracer.stop(3000);
  }
  let text = '';
  try {
    text = readFileSync(out, 'utf8');
  } catch {
    return null;
  }
  let syncs = 0;
  let logWrites = 0;
  let logBytes = 0;
  for (const line of text.split('\n')) {
    const m = /^\d+\s+(\w+)\((\d+)/.exec(line);
    if (m === null) continue;
    if (m[1] === 'fsync' || m[1] === 'fdatasync' || m[1] === 'sync_file_range') syncs++;
    else if (fds.has(m[2])) {
      logWrites++;
      const r = /= (\d+)$/.exec(line);
      if (r) logBytes += Number(r[1]);
    }
  }
  return { requests, syncCalls: syncs, logWrites, logBytes, logFds: [...fds].length };
}

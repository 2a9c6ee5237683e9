/**
 * Resource monitors of one sandbox and the reading of how it died. Memory is enforced in layers:
 * the kernel cgroup limit and the V8 heap cap where the launcher sets them, and here the
 * universal backstop — RSS of the whole sandbox tree from /proc, polled at <= 20 ms — because
 * Buffers live outside the V8 heap and a cgroup is not always available.
 */
import type { Meter } from './meter.js';
import type { Sandbox } from '../sandbox/index.js';
import type { TerminationReason } from './types.js';

/** Memory polling period: fast enough that a Buffer bomb overshoots by tens of MiB, not hundreds. */
const RSS_POLL_MS = 15;

/**
 * Watches the sandbox tree's resident memory against `maxMemoryMb` (the sandbox polls /proc and
 * watches its cgroup); records the peak in `meter`. Returns a stop function.
 */
export function watchMemory(
  sandbox: Sandbox,
  maxMemoryMb: number,
  meter: Meter,
  onExceeded: (rssBytes: number) => void,
): () => void {
  const limitBytes = maxMemoryMb * 1024 * 1024;
  const exceeded = (rss: number): void => {
    meter.observeRss(rss);
    onExceeded(rss);
  };
  const stop = sandbox.watchMemory(limitBytes, exceeded, RSS_POLL_MS);
  return () => {
    stop();
    meter.observeRss(sandbox.peakRssBytes);
  };
}

/** How a sandbox that exited without sending a result ended. */
export type ExitVerdict =
  | { status: 'terminated'; reason: TerminationReason; detail: string }
  | { status: 'failed'; error: { code: string; message: string } };

/** Reads an exit without a result: a kernel OOM kill or V8's heap abort is `memory_exceeded`. */
export function classifyExit(
  sandbox: Sandbox,
  exit: { code: number | null; signal: string | null },
  maxMemoryMb: number,
): ExitVerdict {
  if (sandbox.memoryEvents().oomKilled) {
    return {
      status: 'terminated',
      reason: 'memory_exceeded',
      detail: `the kernel memory limit (max_memory_mb ${maxMemoryMb}) killed the subagent`,
    };
  }
  // V8's fatal heap-limit error aborts the process (SIGABRT; 134 when reported through a wrapper
  // such as bwrap) after printing "heap out of memory". Nothing else in Node aborts in practice.
  if (exit.signal === 'SIGABRT' || exit.code === 134 || /heap out of memory/i.test(sandbox.stderrTail())) {
    return {
      status: 'terminated',
      reason: 'memory_exceeded',
      detail: `the V8 heap limit derived from max_memory_mb ${maxMemoryMb} was reached`,
    };
  }
  const how = exit.signal === null ? `code ${exit.code ?? 'unknown'}` : `signal ${exit.signal}`;
  return {
    status: 'failed',
    error: { code: 'SG_SUBAGENT_FAILED', message: `the subagent exited with ${how} without a result` },
  };
}

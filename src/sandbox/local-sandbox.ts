/**
 * A running local sandbox: kill switch, memory sampling and teardown. Killing is thorough on
 * purpose: the process group, every live process of the tree, every process of the cgroup, and
 * every process seen in the tree earlier that is still the same process (pid + start time), so a
 * descendant that left the group with setsid() does not survive.
 */
import { type ChildProcess } from 'node:child_process';
import { readFileSync, rmdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { dirname, relative, isAbsolute } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import type { MemoryCgroup } from './cgroup.js';
import type { OutputDrain } from './output.js';
import { isAlive, killQuietly, processTree, rssOf } from './proc.js';
import type { IsolationLevel, MemoryEnforcement, Sandbox } from './types.js';

/** Construction parameters (internal to the launcher). */
export interface LocalSandboxInit {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly level: IsolationLevel;
  readonly channel: Duplex;
  readonly cgroup: MemoryCgroup | null;
  readonly stdout: OutputDrain;
  readonly stderr: OutputDrain;
  readonly scratchDir: string;
  readonly gatewaySocketPath: string | undefined;
  readonly hostSocketPath: string | undefined;
  readonly ownedDir: string | undefined;
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 22 (starttime), counted after the parenthesised command name (which may contain spaces).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Whether `path` lies strictly below `dir` (lexically; both are paths this process created). */
function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** Settles when a readable stream has ended or closed (never rejects). */
function streamDone(stream: Readable | null): Promise<void> {
  if (stream === null || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', resolve);
    stream.once('end', resolve);
  });
}

/** The local {@link Sandbox} implementation. */
export class LocalSandbox implements Sandbox {
  readonly pid: number;
  readonly level: IsolationLevel;
  readonly channel: Duplex;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  readonly gatewaySocketPath: string | undefined;
  readonly memoryEnforcement: MemoryEnforcement;
  readonly #init: LocalSandboxInit;
  readonly #known = new Map<number, string>();
  readonly #watchers = new Set<() => void>();
  #exited = false;
  #peak = 0;
  #oomKilled = false;
  #disposing: Promise<void> | undefined;
  #goneAt: number | undefined;

  constructor(init: LocalSandboxInit) {
    this.#init = init;
    this.pid = init.pid;
    this.level = init.level;
    this.channel = init.channel;
    this.gatewaySocketPath = init.gatewaySocketPath;
    this.memoryEnforcement =
      init.cgroup === null ? 'polling' : init.cgroup.version === 'v2' ? 'cgroup-v2' : 'cgroup-v1';
    this.#remember([init.pid]);
    // A broken IPC socket must never surface as an uncaught 'error' in the parent.
    init.channel.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: string | null): void => {
        if (this.#exited) return;
        this.#exited = true;
        // Whatever is left once the sandbox's main process is gone is an orphan: kill it now,
        // while the process group id cannot yet have been reused.
        this.#killAll(true);
        for (const stop of [...this.#watchers]) stop();
        resolve({ code, signal });
      };
      init.child.once('exit', (code, signal) => {
        done(code, signal);
      });
      init.child.once('error', () => {
        done(init.child.exitCode, init.child.signalCode);
      });
    });
  }

  get goneAt(): number | undefined {
    return this.#goneAt;
  }

  /** Whether its main process has exited. */
  get hasExited(): boolean {
    return this.#exited || this.#init.child.exitCode !== null || this.#init.child.signalCode !== null;
  }

  /**
   * Renames its cgroup (a pre-started sandbox claimed by a subagent takes the subagent's id, which
   * audits and leak checks look for). Best effort: the limit stays whatever the name.
   */
  renameCgroup(name: string): void {
    this.#init.cgroup?.rename(name);
  }

  /** Whether the sandbox keeps the host process alive (an idle pre-started one does not). */
  setRef(on: boolean): void {
    const child = this.#init.child;
    if (on) child.ref();
    else child.unref();
    for (const s of [this.channel, child.stdout, child.stderr]) {
      if (s instanceof Socket) {
        if (on) s.ref();
        else s.unref();
      }
    }
  }

  get peakRssBytes(): number {
    return this.#peak;
  }

  kill(): void {
    this.#killAll(!this.#exited);
  }

  sampleRssBytes(): number | null {
    const cg = this.#init.cgroup;
    if (this.level === 'gvisor' && cg !== null && !this.#exited) {
      // Under gVisor the subagent's memory is the Sentry's memory file (shared memory, in no
      // process's RSS), while runsc, the gofer and the Sentry's own mappings of it inflate the sum
      // of RSS: the cgroup's charge of anonymous plus shared memory is what the sandbox holds.
      const bytes = cg.residentBytes();
      if (bytes !== null) {
        if (bytes > this.#peak) this.#peak = bytes;
        return bytes;
      }
    }
    let pids: number[];
    if (cg !== null) {
      pids = cg.pids();
    } else if (!this.#exited) {
      pids = processTree(this.pid);
      this.#remember(pids);
    } else {
      pids = [];
    }
    const rss = rssOf(pids);
    if (rss !== null && rss > this.#peak) this.#peak = rss;
    return rss;
  }

  memoryEvents(): { oomKilled: boolean } {
    if (!this.#oomKilled && this.#init.cgroup !== null) this.#oomKilled = this.#init.cgroup.oomKilled();
    return { oomKilled: this.#oomKilled };
  }

  watchMemory(limitBytes: number, onExceeded: (rssBytes: number) => void, intervalMs = 15): () => void {
    if (this.#exited) return () => undefined;
    const timer = setInterval(
      () => {
        const rss = this.sampleRssBytes();
        if (rss !== null && rss > limitBytes) {
          stop();
          onExceeded(rss);
        }
      },
      Math.max(5, intervalMs),
    );
    timer.unref();
    const stop = (): void => {
      clearInterval(timer);
      this.#watchers.delete(stop);
    };
    this.#watchers.add(stop);
    return stop;
  }

  stderrTail(): string {
    return this.#init.stderr.tail;
  }

  dispose(): Promise<void> {
    this.#disposing ??= this.#teardown();
    return this.#disposing;
  }

  async #teardown(): Promise<void> {
    this.kill();
    await Promise.race([this.exited, sleep(5000)]);
    const cg = this.#init.cgroup;
    // The outermost process is reaped; its descendants (under bubblewrap: the subagent's Node) may
    // still be dying. Wait until every one is gone: with a cgroup, until it is empty (SIGKILLed
    // processes leave it asynchronously, and rmdir fails before); without, until no process seen
    // in the tree is alive. Bounded: ~2 s in all.
    // Same pid AND same start time: a pid reused by an unrelated process is never waited for or killed.
    const left = (): number[] =>
      cg !== null
        ? cg.pids()
        : [...this.#known].filter(([pid, st]) => startTime(pid) === st && isAlive(pid)).map(([pid]) => pid);
    for (let i = 0; i < 205; i++) {
      const pids = left();
      if (pids.length === 0) break;
      for (const pid of pids) if (pid !== process.pid) killQuietly(pid);
      // 1 ms steps for the first 10 ms (the usual case), then 2, 4, 8 and 10 ms steps.
      await sleep(Math.min(10, i < 10 ? 1 : 1 << (i - 9)));
    }
    this.#goneAt = performance.now();
    if (cg !== null) {
      this.memoryEvents();
      await cg.removeAsync();
    }
    this.channel.destroy();
    // What the child wrote just before it died is still in the pipes: read it to the end (the
    // drains forward it), bounded, rather than dropping it.
    await Promise.race([
      Promise.all([streamDone(this.#init.child.stdout), streamDone(this.#init.child.stderr)]),
      sleep(250),
    ]);
    this.#init.child.stdout?.destroy();
    this.#init.child.stderr?.destroy();
    const sock = this.#init.hostSocketPath;
    const owned = this.#init.ownedDir;
    // One recursive removal when the owned directory holds the scratch dir (the usual layout);
    // asynchronous, so a scratch dir full of files never stalls the event loop (other kills).
    if (owned === undefined || !isInside(this.#init.scratchDir, owned)) {
      await rm(this.#init.scratchDir, { recursive: true, force: true, maxRetries: 3 });
    }
    if (sock !== undefined && (owned === undefined || !isInside(sock, owned)))
      await rm(sock, { force: true });
    if (owned !== undefined) {
      await rm(owned, { recursive: true, force: true, maxRetries: 3 });
    } else if (sock !== undefined && dirname(sock) === dirname(this.#init.scratchDir)) {
      try {
        rmdirSync(dirname(sock));
      } catch {
        // Not empty or not ours to remove.
      }
    }
  }

  #remember(pids: readonly number[]): void {
    for (const pid of pids) {
      if (this.#known.has(pid)) continue;
      const st = startTime(pid);
      if (st !== null) this.#known.set(pid, st);
    }
  }

  #killAll(includeGroup: boolean): void {
    // Snapshot the tree before signalling: once the parents die, children are re-parented and the
    // tree can no longer be walked from our pid.
    if (!this.#exited) this.#remember(processTree(this.pid));
    const targets = new Set<number>(this.#init.cgroup?.pids() ?? []);
    for (const [pid, st] of this.#known) {
      if (startTime(pid) === st) targets.add(pid);
      else this.#known.delete(pid);
    }
    if (includeGroup) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // The group is already empty.
      }
    }
    for (const pid of targets) if (pid !== process.pid && isAlive(pid)) killQuietly(pid);
  }
}

/**
 * One pre-attached ("parked") launcher per orchestrator. Entering a cgroup v1 memory cgroup costs
 * an RCU grace period (10–20 ms of wall time, no CPU) when the write to `cgroup.procs` is not
 * preceded by another one; a shell that made that write before the spawn was requested takes it
 * off the spawn path. The parked shell has run nothing but the attach: the claimer sets the
 * limit, then sends it the one line it execs, so the child is in its limited cgroup before any of
 * its own code runs, exactly as with the cgroup shim of an unparked launch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, rmdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { Duplex, type Readable, type Writable } from 'node:stream';
import { nanoid } from 'nanoid';
import { InternalError } from '../errors.js';
import { MemoryCgroup, type CgroupBase } from './cgroup.js';
import { childEnv, parkShim } from './command.js';
import { hostCapabilities } from './detect.js';
import { ownerTag, ownerToken } from './dirs.js';
import { isAlive, killQuietly } from './proc.js';
import { spawnTurn } from './turns.js';

const PARK_PREFIX = 'sg-park-';
const PARK_NAME = /^sg-park-(\d+)-(\d+)-[A-Za-z0-9_-]+$/;
/** A sandbox's cgroup: `<sandbox id>.<owner pid>-<owner start time>` (an id never holds a '.'). */
const SANDBOX_NAME = /^[A-Za-z0-9_-]{1,64}\.(\d+)-(\d+)$/;

/**
 * The cgroup name of sandbox `id`: the id (what audits and leak checks look for) plus this
 * process's owner marker, so cgroups left by an orchestrator that was killed outright can be
 * told apart from a live orchestrator's and swept.
 */
export function sandboxCgroupName(id: string): string {
  return `${id}.${ownerTag()}`;
}
/** Parked launchers that died unclaimed in a row before parking is given up for this orchestrator. */
const MAX_FAILURES = 3;
/** At most this many directory entries are examined per sweep (bounded start-up cost). */
const SWEEP_LIMIT = 256;

/** A parked launcher handed to exactly one launch. */
export interface ClaimedShim {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly cgroup: MemoryCgroup;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly channel: Duplex;
}

interface Parked extends ClaimedShim {
  claimed: boolean;
}

/** Referenced on purpose: a close() in progress keeps the process alive until it is done (bounded). */
const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

function setRef(p: ClaimedShim, on: boolean): void {
  if (on) p.child.ref();
  else p.child.unref();
  for (const s of [p.stdin, p.stdout, p.stderr, p.channel]) {
    if (s instanceof Socket) {
      if (on) s.ref();
      else s.unref();
    }
  }
}

/**
 * Removes empty sandbox and parked-launcher cgroups whose orchestrator no longer runs (killed
 * outright, so its teardown or close() never ran). The owner's pid and start time are in the name;
 * a live owner's cgroups and any non-empty cgroup (rmdir refuses those) are left alone. Returns
 * the names removed.
 */
export function sweepStaleCgroups(base: CgroupBase): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(base.dir).slice(0, 4096);
  } catch {
    return removed;
  }
  let examined = 0;
  for (const name of names) {
    const m = PARK_NAME.exec(name) ?? SANDBOX_NAME.exec(name);
    if (m === null) continue;
    if (++examined > SWEEP_LIMIT) break;
    if (ownerToken(Number(m[1])) === `${m[1]}:${m[2]}`) continue; // its orchestrator still runs
    try {
      rmdirSync(join(base.dir, name));
      removed.push(name);
    } catch {
      // Not empty (a process is still in it) or already gone.
    }
  }
  return removed;
}

/**
 * Keeps one parked launcher ready for the next launch and replaces it in the background once it is
 * claimed. Never makes a launch wait: without a ready launcher the launch takes the ordinary path.
 */
export class LaunchPark {
  #base: CgroupBase | null = null;
  #sh: string | null = null;
  #owner = '';
  #parked: Parked | null = null;
  #closed = false;
  #failures = 0;
  /** Cancels the scheduled refill, if one is scheduled. */
  #refill: (() => void) | undefined;
  readonly #dying = new Set<Promise<void>>();

  /**
   * Probes the host (cached), sweeps stale parked cgroups and parks the first launcher. Without a
   * usable cgroup or shell it parks nothing and every launch takes the ordinary path.
   */
  async start(): Promise<void> {
    const caps = await hostCapabilities();
    if (caps.cgroup === null || caps.sh === null || this.#closed) return;
    this.#base = caps.cgroup;
    this.#sh = caps.sh;
    this.#owner = ownerTag();
    sweepStaleCgroups(caps.cgroup);
    this.#park();
  }

  /** Pid of the launcher parked now, if any (tests, diagnostics). */
  get parkedPid(): number | undefined {
    return this.#parked?.pid;
  }

  /** Whether the parked launcher is in its cgroup, so the next launch would claim it. */
  get ready(): boolean {
    const p = this.#parked;
    return p !== null && p.cgroup.pids().includes(p.pid);
  }

  /**
   * Hands the parked launcher to one launch (synchronously: two launches can never both get it),
   * or null if none is alive and already in its cgroup; once it is handed out (or found dead) a
   * replacement is parked in the background. The caller must set the cgroup limit before it
   * writes the line, and hand the launcher back with {@link abandon} if it cannot use it.
   */
  take(): ClaimedShim | null {
    const p = this.#parked;
    if (p === null) {
      this.#scheduleRefill(0);
      return null;
    }
    if (!isAlive(p.pid) || p.child.exitCode !== null || p.child.signalCode !== null) {
      this.#parked = null;
      this.#failures += 1;
      this.#discard(p);
      this.#scheduleRefill(0);
      return null;
    }
    // Not in its cgroup yet (parked moments ago): it stays parked for the next launch. Claiming
    // it now would save nothing (the launch would wait for the same attach), and the cgroup must
    // keep its path until the shell has written to it.
    if (!p.cgroup.pids().includes(p.pid)) return null;
    this.#parked = null;
    this.#scheduleRefill(0);
    p.claimed = true;
    this.#failures = 0;
    setRef(p, true);
    return p;
  }

  /** SIGKILLs the parked launcher now (process exit without close()). Synchronous, never throws. */
  killNow(): void {
    this.#closed = true;
    this.#clearRefill();
    const p = this.#parked;
    if (p !== null) {
      killQuietly(-p.pid);
      killQuietly(p.pid);
    }
  }

  /** Stops parking; kills the parked launcher and removes its cgroup. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#clearRefill();
    const p = this.#parked;
    this.#parked = null;
    if (p !== null) this.#discard(p);
    await Promise.all([...this.#dying]);
  }

  #clearRefill(): void {
    this.#refill?.();
    this.#refill = undefined;
  }

  #scheduleRefill(delayMs: number): void {
    if (this.#closed || this.#base === null || this.#refill !== undefined) return;
    if (this.#failures >= MAX_FAILURES) return;
    // After the claimer's own spawn, not inside it: the fork of this process costs a few ms.
    const run = (): void => {
      this.#refill = undefined;
      // In the queue of process creations, one per event-loop turn, like every launch.
      spawnTurn(() => {
        if (this.#parked === null) this.#park();
      }).catch(() => {
        // #park reports nothing and handles its own failures; never an unhandled rejection.
      });
    };
    if (delayMs === 0) {
      const handle = setImmediate(run).unref();
      this.#refill = () => {
        clearImmediate(handle);
      };
    } else {
      const handle = setTimeout(run, delayMs).unref();
      this.#refill = () => {
        clearTimeout(handle);
      };
    }
  }

  #park(): void {
    const base = this.#base;
    const sh = this.#sh;
    if (this.#closed || base === null || sh === null) return;
    let cgroup: MemoryCgroup;
    try {
      cgroup = MemoryCgroup.create(base, `${PARK_PREFIX}${this.#owner}-${nanoid(10)}`, null);
    } catch {
      this.#failures = MAX_FAILURES; // the base stopped being usable: launches create their own
      return;
    }
    let child: ChildProcess;
    try {
      const [file, ...args] = parkShim(sh, cgroup.procsFile);
      if (file === undefined) throw new InternalError('the park shim command is empty');
      // The same start as an unparked launch: own session and process group, fd 3 the IPC socket;
      // the generic environment (the claim line sets HOME/TMPDIR; nothing secret ever goes here).
      child = spawn(file, args, {
        cwd: '/',
        env: childEnv('/'),
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      });
    } catch {
      cgroup.remove();
      this.#failures += 1;
      return;
    }
    const [stdin, stdout, stderr, channel] = [child.stdin, child.stdout, child.stderr, child.stdio[3]];
    const pid = child.pid;
    // Never an uncaught 'error' from a launcher that died or a pipe that broke.
    child.on('error', () => undefined);
    for (const s of [stdin, stdout, stderr, channel]) s?.on('error', () => undefined);
    if (
      pid === undefined ||
      stdin === null ||
      stdout === null ||
      stderr === null ||
      !(channel instanceof Duplex)
    ) {
      const gone = this.#reap(child, cgroup, [stdin, stdout, stderr, channel]);
      this.#track(gone);
      this.#failures += 1;
      return;
    }
    const p: Parked = { child, pid, cgroup, stdin, stdout, stderr, channel, claimed: false };
    setRef(p, false);
    child.once('exit', () => {
      if (p.claimed) return; // the sandbox that claimed it owns it now
      if (this.#parked === p) {
        this.#parked = null;
        this.#failures += 1;
        this.#track(this.#reap(child, cgroup, [stdin, stdout, stderr, channel]));
        this.#scheduleRefill(50);
      }
    });
    this.#parked = p;
  }

  /**
   * Gives back a launcher taken with {@link take} that its claimer could not use (the limit could
   * not be set): it is killed, its pipes closed and its cgroup removed, in the background.
   */
  abandon(p: ClaimedShim): void {
    this.#track(this.#reap(p.child, p.cgroup, [p.stdin, p.stdout, p.stderr, p.channel]));
  }

  /** Kills an unclaimed launcher and removes its cgroup once empty (bounded), in the background. */
  #discard(p: Parked): void {
    this.#track(this.#reap(p.child, p.cgroup, [p.stdin, p.stdout, p.stderr, p.channel]));
  }

  #track(done: Promise<void>): void {
    this.#dying.add(done);
    void done.finally(() => this.#dying.delete(done));
  }

  async #reap(
    child: ChildProcess,
    cgroup: MemoryCgroup,
    streams: readonly (Readable | Writable | Duplex | null | undefined)[],
  ): Promise<void> {
    const pid = child.pid;
    child.ref();
    if (pid !== undefined) {
      killQuietly(-pid);
      killQuietly(pid);
    }
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // A SIGKILLed process leaves its cgroup asynchronously; rmdir fails until it has.
    for (let i = 0; i < 100 && cgroup.pids().length > 0; i++) await sleep(Math.min(10, 1 + i));
    cgroup.remove();
    for (const s of streams) s?.destroy();
  }
}

/**
 * A second implementation of the launcher seam, for tests of the spawner's state machine: every
 * entry runs in a real child process (the real runtime bootstrap, the real IPC stream on fd 3),
 * but without any sandbox — no namespaces, no permission model, no cgroup, no parked shim. It
 * proves that the orchestrator and `SubagentRun` need nothing beyond the `Launcher` interface,
 * and its hooks let a test stop a run at any point of its startup.
 *
 * Not an isolation level: it runs fixtures we wrote, never untrusted code.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, type Readable } from 'node:stream';
import type { LaunchRequest, Launcher, PreparedLaunch, Sandbox } from '../../src/sandbox/launcher.js';
import { childEnv } from '../../src/sandbox/command.js';
import { runtimeBootstrapPath } from '../../src/sandbox/paths.js';
import { isAlive, rssOf } from '../../src/sandbox/proc.js';

/** Points where a test can hold a launch (each awaited) or make it fail. */
export interface InlineLauncherHooks {
  /** Awaited at the start of `prepare()`, before anything exists. */
  beforePrepare?(req: LaunchRequest): Promise<void> | void;
  /** Thrown by `prepare()` (after the hook) instead of creating anything. */
  prepareError?(req: LaunchRequest): Error | undefined;
  /** Thrown by `launch()` instead of starting a child. */
  launchError?(req: LaunchRequest): Error | undefined;
  /** Awaited in `launch()` after the child was started, before the handle is returned. */
  afterSpawn?(req: LaunchRequest, pid: number): Promise<void> | void;
}

/** The inline launcher plus what a test inspects. */
export interface InlineLauncher extends Launcher {
  /** `prepare <id>`, `launch <id>`, `discard <id>`, `dispose <id>`, `killAll`, `close`, in order. */
  readonly calls: string[];
  /** Pid of each launched child, by subagent id. */
  readonly pids: Map<string, number>;
  /** The directory prepared for each subagent. */
  readonly dirs: Map<string, string>;
  /** Pids of launched children still alive. */
  alive(): number[];
}

const PREFIX = 'sg-inline-';
const TAIL_BYTES = 4096;

class InlineChild implements Sandbox {
  readonly pid: number;
  readonly level = 'process' as const;
  readonly channel: Duplex;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  readonly gatewaySocketPath = undefined;
  readonly memoryEnforcement = 'polling' as const;
  #peak = 0;
  #tail = '';
  #goneAt: number | undefined;
  #disposing: Promise<void> | undefined;
  readonly #dir: string;
  readonly #onDispose: () => void;

  constructor(
    pid: number,
    channel: Duplex,
    exited: InlineChild['exited'],
    dir: string,
    onDispose: () => void,
  ) {
    this.pid = pid;
    this.channel = channel;
    this.exited = exited;
    this.#dir = dir;
    this.#onDispose = onDispose;
    channel.on('error', () => undefined);
  }

  get peakRssBytes(): number {
    return this.#peak;
  }

  get goneAt(): number | undefined {
    return this.#goneAt;
  }

  kill(): void {
    for (const target of [-this.pid, this.pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  sampleRssBytes(): number | null {
    const rss = rssOf([this.pid]);
    if (rss !== null) this.#peak = Math.max(this.#peak, rss);
    return rss;
  }

  memoryEvents(): { oomKilled: boolean } {
    return { oomKilled: false };
  }

  watchMemory(limitBytes: number, onExceeded: (rssBytes: number) => void, intervalMs = 15): () => void {
    let fired = false;
    const timer = setInterval(() => {
      const rss = this.sampleRssBytes();
      if (!fired && rss !== null && rss > limitBytes) {
        fired = true;
        onExceeded(rss);
      }
    }, intervalMs);
    timer.unref();
    const stop = (): void => {
      clearInterval(timer);
    };
    void this.exited.then(stop);
    return stop;
  }

  addStderr(chunk: string): void {
    this.#tail = (this.#tail + chunk).slice(-TAIL_BYTES);
  }

  stderrTail(): string {
    return this.#tail;
  }

  dispose(): Promise<void> {
    this.#disposing ??= (async () => {
      this.kill();
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      this.#goneAt = performance.now();
      this.channel.destroy();
      rmSync(this.#dir, { recursive: true, force: true });
      this.#onDispose();
    })();
    return this.#disposing;
  }
}

/** Forwards a child stream to `onOutput` line by line, within `budget` bytes. */
function forward(
  stream: Readable,
  name: 'stdout' | 'stderr',
  req: LaunchRequest,
  onChunk: (text: string) => void,
): void {
  let left = req.maxOutputBytes ?? 65536;
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    onChunk(text);
    if (left <= 0 || req.onOutput === undefined) return;
    const cut = text.slice(0, left);
    left -= Buffer.byteLength(cut);
    for (const line of cut.split('\n')) if (line !== '') req.onOutput({ stream: name, text: line });
  });
}

/** Creates an inline launcher; `hooks` hold or fail launches at chosen points. */
export function createInlineLauncher(hooks: InlineLauncherHooks = {}): InlineLauncher {
  const calls: string[] = [];
  const pids = new Map<string, number>();
  const dirs = new Map<string, string>();
  const live = new Set<InlineChild>();

  const prepare = async (req: LaunchRequest): Promise<PreparedLaunch> => {
    calls.push(`prepare ${req.id}`);
    await hooks.beforePrepare?.(req);
    const failure = hooks.prepareError?.(req);
    if (failure !== undefined) throw failure;
    const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${req.id.slice(0, 24)}-`));
    const scratch = join(dir, 'scratch');
    mkdirSync(scratch, { mode: 0o700 });
    dirs.set(req.id, dir);
    let launched = false;
    let discarded = false;
    return {
      discard: () => {
        if (!launched && !discarded) {
          discarded = true;
          calls.push(`discard ${req.id}`);
          rmSync(dir, { recursive: true, force: true });
        }
        return Promise.resolve();
      },
      launch: async () => {
        calls.push(`launch ${req.id}`);
        const error = hooks.launchError?.(req);
        if (error !== undefined) throw error;
        const child = spawn(process.execPath, [runtimeBootstrapPath, req.entry], {
          cwd: scratch,
          env: childEnv(scratch),
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        });
        const pid = child.pid;
        const channel = child.stdio[3];
        if (
          pid === undefined ||
          !(channel instanceof Duplex) ||
          child.stdout === null ||
          child.stderr === null
        ) {
          throw new Error(`inline launcher: cannot start a child for ${req.id}`);
        }
        pids.set(req.id, pid);
        const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
          child.once('exit', (code, signal) => {
            resolve({ code, signal });
          });
        });
        const handle: InlineChild = new InlineChild(pid, channel, exited, dir, () => {
          calls.push(`dispose ${req.id}`);
          live.delete(handle);
        });
        forward(child.stdout, 'stdout', req, () => undefined);
        forward(child.stderr, 'stderr', req, (text) => {
          handle.addStderr(text);
        });
        live.add(handle);
        launched = true;
        await hooks.afterSpawn?.(req, pid);
        return handle;
      },
    };
  };

  return {
    isolation: 'process',
    report: {
      available: ['process'],
      cgroup: null,
      staleDirsRemoved: 0,
      weaker: 'inline test launcher: no sandbox',
    },
    calls,
    pids,
    dirs,
    start: () => Promise.resolve(),
    prepare,
    killAll: () => {
      calls.push('killAll');
      for (const child of live) child.kill();
    },
    close: () => {
      calls.push('close');
      return Promise.resolve();
    },
    alive: () => [...pids.values()].filter((pid) => isAlive(pid)),
  };
}

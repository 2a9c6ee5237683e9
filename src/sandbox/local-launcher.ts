/**
 * The local launcher: children on this machine, at the strongest isolation level available
 * (bubblewrap, `unshare -Urn`, or a plain process), one private directory each, a parked launch
 * shim so the slow cgroup attach stays off the spawn path, and the gateway reached over a
 * per-subagent Unix socket wherever the child has no network route to its TCP listener.
 */
import { rm } from 'node:fs/promises';
import type { GuardConfig } from '../config/types.js';
import { SpawnerError } from '../errors.js';
import { detectIsolation } from './detect.js';
import { createSandboxDirs, sweepStaleSandboxDirs } from './dirs.js';
import { chooseIsolation } from './isolation.js';
import { launch } from './launch.js';
import type { LaunchRequest, Launcher, LauncherReport, PreparedLaunch } from './launcher.js';
import { LaunchPark } from './park.js';
import { configProtectedPaths } from './paths.js';
import type { IsolationLevel, IsolationRequest, Sandbox } from './types.js';

/** Options of {@link createLocalLauncher}. */
export interface LocalLauncherOptions {
  /** The configuration: its file and audit log are never readable through a read grant. */
  readonly config: GuardConfig;
  /** @default 'auto' */
  readonly isolation?: IsolationRequest;
  /** Identity of `process`-level children when running as root (see `LaunchSpec.runAs`). */
  readonly runAs?: { readonly uid: number; readonly gid: number } | undefined;
  /**
   * Replaces `node [flags] bootstrap.js` in every child (tests only: raw programs in the sandbox).
   * @internal
   */
  readonly command?: readonly string[];
}

/**
 * Probes the host, chooses the level (an unavailable level is an error, never a downgrade) and
 * removes the directories of sandboxes whose orchestrator was killed outright.
 *
 * @throws SpawnerError SG_ISOLATION_UNAVAILABLE
 */
export async function createLocalLauncher(opts: LocalLauncherOptions): Promise<Launcher> {
  const requested = opts.isolation ?? 'auto';
  // runsc is probed (a real container, about a second) only when it may be chosen.
  const detected = await detectIsolation({ gvisor: requested === 'gvisor' || requested === 'auto+gvisor' });
  const level = chooseIsolation(requested, detected.available, detected.best);
  // Directories of sandboxes whose orchestrator was killed outright (no teardown ran).
  const staleDirsRemoved = sweepStaleSandboxDirs().length;
  return new LocalLauncher(level, opts, {
    available: detected.available,
    cgroup: detected.cgroup,
    staleDirsRemoved,
    // Process level is much weaker (no network or PID namespace): the orchestrator says so loudly.
    weaker: level === 'process' ? 'process-level isolation only: no network or PID namespace' : undefined,
  });
}

class LocalLauncher implements Launcher {
  readonly isolation: IsolationLevel;
  readonly report: LauncherReport;
  readonly #park = new LaunchPark();
  readonly #protectedPaths: readonly string[];
  readonly #opts: LocalLauncherOptions;
  /** Launched sandboxes whose dispose() has not completed (for killAll at process exit). */
  readonly #live = new Set<Sandbox>();

  constructor(level: IsolationLevel, opts: LocalLauncherOptions, report: LauncherReport) {
    this.isolation = level;
    this.report = report;
    this.#opts = opts;
    this.#protectedPaths = configProtectedPaths(opts.config);
  }

  start(): Promise<void> {
    return this.#park.start();
  }

  async prepare(req: LaunchRequest): Promise<PreparedLaunch> {
    // One private 0700 directory per subagent holds its scratch dir and its gateway socket:
    // the socket is reachable only by path, and teardown is a single recursive removal.
    const dirs = createSandboxDirs(req.id);
    // Namespaced children have no route to the TCP listener: their only way out is this socket.
    const unixSocketPath = this.isolation === 'process' ? undefined : dirs.gatewaySocketPath;
    let launched = false;
    let discarded: Promise<void> | undefined;
    const discard = (): Promise<void> => {
      if (launched) return Promise.resolve();
      discarded ??= rm(dirs.root, { recursive: true, force: true });
      return discarded;
    };
    try {
      if (unixSocketPath !== undefined) await req.gateway.listenUnix(unixSocketPath);
    } catch (err) {
      await discard().catch(() => undefined);
      throw err;
    }
    const addr = req.gateway.address;
    return {
      discard,
      launch: async () => {
        if (discarded !== undefined)
          throw new SpawnerError('SG_SANDBOX_LAUNCH', `launch() of ${req.id} after discard()`);
        this.#prune();
        const sandbox = await launch(
          {
            id: req.id,
            level: this.isolation,
            entry: req.entry,
            scratchDir: dirs.scratchDir,
            maxMemoryMb: req.maxMemoryMb,
            ownedDir: dirs.root,
            ...(req.onOutput === undefined ? {} : { onOutput: req.onOutput }),
            ...(req.maxOutputBytes === undefined ? {} : { maxOutputBytes: req.maxOutputBytes }),
            gateway: {
              host: addr.host,
              port: addr.port,
              ...(unixSocketPath === undefined ? {} : { unixSocketPath }),
            },
            protectedPaths: this.#protectedPaths,
            readGrants: req.readGrants,
            ...(this.#opts.runAs === undefined ? {} : { runAs: this.#opts.runAs }),
            ...(this.#opts.command === undefined ? {} : { command: this.#opts.command }),
          },
          this.#park,
        );
        launched = true;
        this.#live.add(sandbox);
        return sandbox;
      },
    };
  }

  killAll(): void {
    for (const sandbox of this.#live) sandbox.kill();
    this.#park.killNow();
  }

  close(): Promise<void> {
    this.#prune();
    return this.#park.close();
  }

  /** Forgets sandboxes that are fully gone (dispose() finished). */
  #prune(): void {
    for (const sandbox of this.#live) if (sandbox.goneAt !== undefined) this.#live.delete(sandbox);
  }
}

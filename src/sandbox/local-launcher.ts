/**
 * The local launcher: children on this machine, at the strongest isolation level available
 * (bubblewrap, `unshare -Urn`, or a plain process), one private directory each, a parked launch
 * shim so the slow cgroup attach stays off the spawn path, and the gateway reached over a
 * per-subagent Unix socket wherever the child has no network route to its TCP listener.
 */
import { chown, mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { nanoid } from 'nanoid';
import type { GuardConfig } from '../config/types.js';
import { SpawnerError } from '../errors.js';
import { detectIsolation } from './detect.js';
import { createSandboxDirsAsync, sweepStaleSandboxDirs } from './dirs.js';
import { chooseIsolation } from './isolation.js';
import { launch } from './launch.js';
import type {
  LaunchRequest,
  Launcher,
  LauncherReport,
  PreparedLaunch,
  WarmRequest,
  WarmSandbox,
} from './launcher.js';
import { NOBODY, SANDBOX_GATEWAY_SOCKET } from './command.js';
import type { LocalSandbox } from './local-sandbox.js';
import { LaunchPark, sandboxCgroupName } from './park.js';
import { configProtectedPaths } from './paths.js';
import type { IsolationLevel, IsolationRequest, OutputLine, Sandbox } from './types.js';

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
    const dirs = await createSandboxDirsAsync(req.id);
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

  async prestart(req: WarmRequest): Promise<WarmSandbox> {
    // Its own id until claimed (directory and cgroup names; the start-up sweep finds it like any
    // sandbox of a dead orchestrator): a warm sandbox never learns which subagent it will serve.
    const warmId = `warm-${nanoid(16)}`;
    const dirs = await createSandboxDirsAsync(warmId);
    // The socket comes at claim, when the gateway knows the subagent: its directory exists now.
    const socketDir = join(dirs.root, 'gw');
    const hostSocket =
      this.isolation === 'process' ? undefined : join(socketDir, basename(SANDBOX_GATEWAY_SOCKET));
    let sink: ((line: OutputLine) => void) | undefined;
    let sandbox: LocalSandbox;
    try {
      if (hostSocket !== undefined) await mkdir(socketDir, { mode: 0o700 });
      sandbox = await launch(
        {
          id: warmId,
          level: this.isolation,
          entry: req.entry,
          scratchDir: dirs.scratchDir,
          maxMemoryMb: req.maxMemoryMb,
          ownedDir: dirs.root,
          onOutput: (line) => sink?.(line),
          ...(req.maxOutputBytes === undefined ? {} : { maxOutputBytes: req.maxOutputBytes }),
          gateway: {
            ...req.gatewayAddress,
            ...(hostSocket === undefined ? {} : { unixSocketPath: hostSocket, socketLater: true }),
          },
          protectedPaths: this.#protectedPaths,
          readGrants: req.readGrants,
          ...(this.#opts.runAs === undefined ? {} : { runAs: this.#opts.runAs }),
          ...(this.#opts.command === undefined ? {} : { command: this.#opts.command }),
        },
        this.#park,
      );
    } catch (err) {
      await rm(dirs.root, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
    this.#prune();
    this.#live.add(sandbox);
    // Idle, it must not keep the host process alive (the orchestrator's close() ends it anyway).
    sandbox.setRef(false);
    try {
      await runtimeBooted(sandbox, WARM_READY_TIMEOUT_MS);
    } catch (err) {
      await sandbox.dispose();
      throw err;
    }
    let state: 'idle' | 'claimed' | 'discarded' = 'idle';
    const level = this.isolation;
    const runAs = this.#opts.runAs ?? NOBODY;
    return {
      pid: sandbox.pid,
      get usable() {
        return state === 'idle' && !sandbox.hasExited;
      },
      claim: async (c) => {
        if (state !== 'idle') {
          // Never touched again: it belongs to its one claimer, or is gone.
          throw new SpawnerError('SG_SANDBOX_LAUNCH', `warm sandbox ${sandbox.pid} was already ${state}`);
        }
        if (sandbox.hasExited) {
          state = 'discarded';
          await sandbox.dispose();
          throw new SpawnerError('SG_SANDBOX_LAUNCH', `warm sandbox ${sandbox.pid} exited before its claim`);
        }
        state = 'claimed';
        sandbox.setRef(true);
        // A sandbox that dies from here on is the claiming subagent's failed start, reported by its
        // run like any exit without a result.
        try {
          if (hostSocket !== undefined) {
            await c.gateway.listenUnix(hostSocket);
            // The Sentry checks the socket's owner as the subagent's uid sees it (as a cold
            // gVisor launch hands it over before runsc starts).
            if (level === 'gvisor') await chown(hostSocket, runAs.uid, runAs.gid);
          }
        } catch (err) {
          await sandbox.dispose();
          throw err;
        }
        sandbox.renameCgroup(sandboxCgroupName(c.id));
        sink = c.onOutput;
        return sandbox;
      },
      discard: async () => {
        if (state === 'claimed') return;
        state = 'discarded';
        await sandbox.dispose();
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

/** How long a pre-started sandbox may take to boot its runtime before the start counts as failed. */
const WARM_READY_TIMEOUT_MS = 15_000;

/**
 * Resolves once the runtime in `sandbox` has written its first frame (its `ready`), which stays
 * unread in the socket for the run that claims the sandbox: a pooled sandbox is idle only once
 * its Node is up (under gVisor that is about a second after runsc starts). Rejects if the sandbox
 * exits first or stays silent for `timeoutMs`.
 */
function runtimeBooted(sandbox: LocalSandbox, timeoutMs: number): Promise<void> {
  const channel = sandbox.channel;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // With no 'readable' listener left, the channel flows again once the run reads it.
      channel.off('readable', onReadable);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onReadable = (): void => {
      if (channel.readableLength > 0) settle();
      else
        settle(
          new SpawnerError(
            'SG_SANDBOX_LAUNCH',
            `warm sandbox ${sandbox.pid} closed its channel before it was ready`,
          ),
        );
    };
    const timer = setTimeout(() => {
      settle(
        new SpawnerError(
          'SG_SANDBOX_LAUNCH',
          `warm sandbox ${sandbox.pid} was not ready within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    timer.unref();
    channel.on('readable', onReadable);
    void sandbox.exited.then(() => {
      settle(new SpawnerError('SG_SANDBOX_LAUNCH', `warm sandbox ${sandbox.pid} exited before it was ready`));
    });
  });
}

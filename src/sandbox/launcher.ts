/**
 * The launcher seam: everything the spawner may know about how a subagent's child is started.
 * The orchestrator and `SubagentRun` see only this interface; the local launcher (bubblewrap /
 * unshare / plain process, see `local-launcher.ts`) is one implementation, and a gVisor level, a
 * container or a Job-per-subagent launcher would be others. Who owns what:
 *
 * - the launcher: the isolation level, host probing, per-subagent directories (creation and
 *   removal, and sweeping those of orchestrators killed outright), whether and where the child
 *   reaches the gateway over a Unix socket, pre-started launch helpers, cgroups, read grants;
 * - the spawner: credentials, quotas, the IPC conversation, monitors, outcomes, the audit trail.
 *
 * Nothing under `src/sandbox/` imports `src/spawner/` (enforced by lint).
 */
import type { CgroupVersion, IsolationLevel, OutputLine, Sandbox } from './types.js';

export type { CgroupVersion, IsolationLevel, MemoryEnforcement, OutputLine, Sandbox } from './types.js';

/**
 * The egress gateway as one subagent's launch sees it: its TCP address, and a way to open a
 * listener on a Unix socket path for this subagent only (the gateway binds the credential to it).
 */
export interface GatewayPort {
  readonly address: { readonly host: string; readonly port: number };
  /** Listens for this subagent on `path` (a socket file the launcher chose); resolves once bound. */
  listenUnix(path: string): Promise<void>;
}

/** What the spawner asks for one subagent. */
export interface LaunchRequest {
  /** Subagent id, `[A-Za-z0-9_-]{1,64}`. */
  readonly id: string;
  /** Absolute path of the user program. */
  readonly entry: string;
  /** Memory cap of the whole child, MiB. */
  readonly maxMemoryMb: number;
  /** The agent's extra read grants (absolute paths), checked by the launcher. */
  readonly readGrants: readonly string[];
  readonly gateway: GatewayPort;
  /** Receives child stdout/stderr lines while the per-stream budget lasts. */
  readonly onOutput?: (line: OutputLine) => void;
  /** Bytes of stdout and of stderr forwarded to `onOutput` per stream. */
  readonly maxOutputBytes?: number;
}

/**
 * A launch whose resources exist (directories, gateway listener) but whose child does not run yet.
 * Exactly one of `launch()` (success: the returned handle owns the resources, `dispose()` frees
 * them) or `discard()` (never launched, or the launch threw) must end it.
 */
export interface PreparedLaunch {
  /** Starts the child. On rejection nothing runs; the caller still calls `discard()`. */
  launch(): Promise<Sandbox>;
  /** Removes what `prepare` created. Idempotent; a no-op once `launch()` has succeeded. */
  discard(): Promise<void>;
}

/**
 * What a pre-started ("warm") sandbox is started with: everything of a {@link LaunchRequest} that
 * is known before a subagent exists. The subagent's id, its credential, its gateway listener and
 * its task come at claim time.
 */
export interface WarmRequest {
  /** Absolute path of the user program (passed to the runtime, which loads it only at `start`). */
  readonly entry: string;
  readonly maxMemoryMb: number;
  readonly readGrants: readonly string[];
  /** The gateway's TCP address (a `process`-level child reaches the gateway there). */
  readonly gatewayAddress: { readonly host: string; readonly port: number };
  readonly maxOutputBytes?: number;
}

/** What a claim gives a warm sandbox: the subagent it now belongs to. */
export interface WarmClaim {
  /** Subagent id, `[A-Za-z0-9_-]{1,64}`. */
  readonly id: string;
  /** The gateway, with this subagent's credential already registered. */
  readonly gateway: GatewayPort;
  readonly onOutput?: (line: OutputLine) => void;
}

/**
 * A sandbox started up to the point where only the task, the credential and the entry's load
 * remain: its directories, cgroup (with the memory limit), namespaces and the runtime are up, the
 * runtime waits for `start`. Exactly one of `claim()` or `discard()` ends it; it serves one
 * subagent at most and is never reused.
 */
export interface WarmSandbox {
  /** Pid of its outermost process. */
  readonly pid: number;
  /** Whether it can still be claimed (its process runs and it was neither claimed nor discarded). */
  readonly usable: boolean;
  /**
   * Hands it to one subagent: opens the gateway listener, names it after the subagent. On
   * rejection it is discarded (the caller falls back to a cold launch).
   */
  claim(c: WarmClaim): Promise<Sandbox>;
  /** Kills it and removes everything it had. Idempotent; a no-op once claimed. */
  discard(): Promise<void>;
}

/** What a launcher reports at start (logged in `orchestrator.start`). */
export interface LauncherReport {
  /** Levels this launcher could run here, strongest first. */
  readonly available: readonly IsolationLevel[];
  /** Cgroup version used for kernel memory limits, or null (polling only). */
  readonly cgroup: CgroupVersion | null;
  /** Leftovers of earlier, killed orchestrators removed at creation. */
  readonly staleDirsRemoved: number;
  /** Set when the chosen level is weaker than a sandbox: logged at warn level. */
  readonly weaker: string | undefined;
}

/** Starts isolated children. One per orchestrator; instances never share state. */
export interface Launcher {
  /** The level every child of this launcher runs at (reported in every spawn event). */
  readonly isolation: IsolationLevel;
  readonly report: LauncherReport;
  /** Starts background helpers (e.g. a pre-started launch shim); called once, last in startup. */
  start(): Promise<void>;
  /**
   * Creates what one child needs before it runs (directories, the gateway socket).
   * @throws GuardError (coded) if they cannot be created; nothing is left behind then.
   */
  prepare(req: LaunchRequest): Promise<PreparedLaunch>;
  /**
   * Starts a sandbox ahead of any spawn (a warm pool) and resolves once its runtime waits for
   * `start`. Optional: a launcher without it has cold launches only.
   * @throws GuardError (coded) if it cannot be started; nothing is left behind then.
   */
  prestart?(req: WarmRequest): Promise<WarmSandbox>;
  /** SIGKILLs every child and helper now, synchronously (the host process is exiting). Never throws. */
  killAll(): void;
  /** Stops helpers and frees the launcher's own resources (children are the spawner's to end first). */
  close(): Promise<void>;
}

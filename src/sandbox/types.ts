/**
 * Types of the local sandbox: isolation levels, what one launch is given (`LaunchSpec`) and the
 * handle of a running child (`Sandbox`), which every launcher returns (see launcher.ts). The
 * handle exposes no more than a pid, a duplex stream, an exit promise, a kill switch and memory
 * readings, so a remote launcher (a Job per subagent) can implement it too.
 */
import type { Duplex } from 'node:stream';

/**
 * Isolation levels, strongest first.
 * - `gvisor`: `runsc` (gVisor): a user-space kernel between the subagent and the host, in an OCI
 *   container with no network, read-only binds, tmpfs scratch. About half a second per start.
 * - `bubblewrap`: new network, PID, IPC and UTS namespaces, read-only binds, tmpfs, cleared env.
 * - `unshare`: `unshare -Urn` (plus a PID namespace where possible): no network but the gateway's
 *   Unix socket; the filesystem (and every filesystem Unix socket) stays visible.
 * - `process`: a plain child process; only the Node permission model and the proxy settings.
 */
export type IsolationLevel = 'gvisor' | 'bubblewrap' | 'unshare' | 'process';

/**
 * What a caller may ask for: `auto` = the strongest level available except `gvisor` (its start
 * cost is the operator's call); `auto+gvisor` = `gvisor` where runsc works here, else as `auto`;
 * `namespace` = at least a network namespace (bubblewrap, else unshare); an exact level
 * (`gvisor`, `bubblewrap`, `unshare`, `process`) = exactly that one. A level that is not available
 * is an error, never a downgrade.
 */
export type IsolationRequest = 'auto' | 'auto+gvisor' | 'namespace' | IsolationLevel;

/** Every level, strongest first. */
export const ISOLATION_LEVELS: readonly IsolationLevel[] = ['gvisor', 'bubblewrap', 'unshare', 'process'];

/** Every value of {@link IsolationRequest}. */
export const ISOLATION_REQUESTS: readonly IsolationRequest[] = [
  'auto',
  'auto+gvisor',
  'namespace',
  ...ISOLATION_LEVELS,
];

/** Which cgroup version the launcher can use for a kernel memory limit. */
export type CgroupVersion = 'v2' | 'v1';

/** What this machine supports, as found by actually trying (see `detectIsolation`). */
export interface IsolationReport {
  /** Levels that work here, strongest first; always contains `process`. */
  readonly available: IsolationLevel[];
  /** The strongest available level `auto` chooses (never `gvisor`: see `auto+gvisor`). */
  readonly best: IsolationLevel;
  /** The cgroup version usable for memory limits, or null (RSS polling only). */
  readonly cgroup: CgroupVersion | null;
  /** Human-readable findings per probe (why a level is missing, which binary is used). */
  readonly details: Record<string, string>;
}

/** How memory is enforced for one sandbox. Polling always runs as the backstop. */
export type MemoryEnforcement = 'cgroup-v2' | 'cgroup-v1' | 'polling';

/** One line (or chunk) written by the child to stdout/stderr, truncated. */
export interface OutputLine {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/** What to launch. */
export interface LaunchSpec {
  /** Subagent id (used for the cgroup name and in error messages). `[A-Za-z0-9_-]{1,64}`. */
  readonly id: string;
  /** Requested level; an unavailable level is an error, never a silent downgrade. */
  readonly level: IsolationLevel;
  /** Absolute path of the user program (ESM module with a default-export function). */
  readonly entry: string;
  /** Created by the launcher (mode 0700), the child's cwd/HOME/TMPDIR; removed by `dispose()`. */
  readonly scratchDir: string;
  /** Memory cap of the whole sandbox, MiB (cgroup limit, V8 heap cap derived from it). */
  readonly maxMemoryMb: number;
  readonly gateway: {
    readonly host: string;
    readonly port: number;
    /**
     * Host path of this subagent's own gateway Unix socket (the caller has the gateway
     * `listenUnix(id, path)` on it before launch). Required for `bubblewrap` and `namespace`:
     * the child has no network route to the TCP listener there. Removed by `dispose()`.
     */
    readonly unixSocketPath?: string;
    /**
     * The socket does not exist yet: the gateway listens on it only after the child started (a
     * pre-started sandbox whose subagent id, and so its gateway listener, is known only at claim).
     * Its directory must hold nothing else and exist; bubblewrap binds that directory read-only
     * (a socket on a read-only mount can still be connected to) and the socket file must be named
     * like {@link SANDBOX_GATEWAY_SOCKET}'s.
     */
    readonly socketLater?: boolean;
  };
  /**
   * A directory created for this sandbox only (e.g. by `createSandboxDirs`) that `dispose()` removes
   * recursively after everything else; typically the parent of `scratchDir` and the gateway socket.
   */
  readonly ownedDir?: string;
  /** Called for child stdout/stderr lines while the per-stream budget lasts (the rest is drained). */
  readonly onOutput?: (line: OutputLine) => void;
  /** Bytes of stdout and of stderr forwarded to `onOutput` per stream. @default 65536 */
  readonly maxOutputBytes?: number;
  /**
   * RLIMIT_NOFILE of every process of the sandbox (soft = hard). Needs `prlimit` on the host
   * (reported by `detectIsolation().details.rlimit`). @default 256
   */
  readonly maxOpenFiles?: number;
  /**
   * Identity of a `process`-level child when the orchestrator runs as root (ignored otherwise: a
   * non-root orchestrator cannot switch uid), and of the subagent inside a `gvisor` sandbox. The entry, the runtime and node must be readable to
   * it. @default { uid: 65534, gid: 65534 }
   */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /**
   * Extra paths (files or directories, absolute) the child may read, besides its entry's own
   * directory and the runtime. Each is checked like the entry's directory (no secrets, no config
   * file or audit log below it).
   */
  readonly readGrants?: readonly string[];
  /**
   * Files no grant may contain (the config file and the audit log): a grant that does is refused.
   */
  readonly protectedPaths?: readonly string[];
  /**
   * Override the program run inside the sandbox (tests only: e.g. a shell that forks grandchildren).
   * The argv replaces `node [flags] bootstrap.js`; it gets the same wrappers, env and cgroup.
   * @internal
   */
  readonly command?: readonly string[];
}

/** A running sandbox. */
export interface Sandbox {
  /** Pid of the outermost process (the shim/bwrap/unshare/node); its process group is the sandbox's. */
  readonly pid: number;
  readonly level: IsolationLevel;
  /** The IPC byte stream (fd 3 of the child, a socketpair). Wrap it with `createParentChannel`. */
  readonly channel: Duplex;
  /** Settles once when the outermost process exits. Never rejects. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /**
   * Path of the gateway Unix socket as seen INSIDE the sandbox (`/run/sg/gateway.sock` under
   * bubblewrap, the host path under `namespace`), or undefined in `process` mode, where the child
   * uses the gateway's TCP address. Put it in the `start` message's `egress.socketPath`.
   */
  readonly gatewaySocketPath: string | undefined;
  /** SIGKILL every process of the sandbox now. Idempotent, synchronous, never throws. */
  kill(): void;
  /** Resident memory of the whole sandbox process tree, bytes, from /proc; null once gone. */
  sampleRssBytes(): number | null;
  /** Highest RSS seen by `sampleRssBytes` or `watchMemory`, bytes. */
  readonly peakRssBytes: number;
  readonly memoryEnforcement: MemoryEnforcement;
  /** Whether the kernel (cgroup) OOM-killed something in this sandbox. */
  memoryEvents(): { oomKilled: boolean };
  /**
   * Polls the tree's RSS every `intervalMs` (default 15) and calls `onExceeded` once when it is
   * above `limitBytes`. Runs alongside any cgroup limit (Buffers bypass the V8 cap, and a cgroup
   * may be unavailable). Returns a stop function; it also stops when the sandbox exits.
   */
  watchMemory(limitBytes: number, onExceeded: (rssBytes: number) => void, intervalMs?: number): () => void;
  /** The last ≤ 4 KiB the child wrote to stderr (for failure messages; may contain anything the child printed). */
  stderrTail(): string;
  /** Removes scratch dir, cgroup and gateway socket. Kills first if still running. Idempotent. */
  dispose(): Promise<void>;
  /**
   * `performance.now()` at which `dispose()` saw every process of the sandbox gone (not just the
   * outermost one: under bubblewrap the subagent's own Node process dies a little later); undefined
   * before that.
   */
  readonly goneAt?: number | undefined;
}

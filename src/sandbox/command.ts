/**
 * Builds the argv and environment of a sandboxed child, per isolation level. Pure functions of
 * their inputs (plus a few lstat calls), so every wrapper can be inspected in tests.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { SpawnerError } from '../errors.js';

/** The child's own view of where its writable scratch directory is, under bubblewrap. */
export const SANDBOX_SCRATCH = '/scratch';
/** Where the subagent's gateway socket appears inside bubblewrap. */
export const SANDBOX_GATEWAY_SOCKET = '/run/sg/gateway.sock';

/** `pid` = user+net+pid namespaces (tree dies with its init); `net-only` = plain `unshare -Urn`. */
export type UnshareVariant = 'pid' | 'net-only';

/** Minimal environment: nothing from the parent (no secrets, no NODE_OPTIONS, no proxies, no CA overrides). */
export function childEnv(home: string): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    TMPDIR: home,
    LANG: 'C.UTF-8',
    TZ: 'UTC',
  };
}

const allowed = process.allowedNodeEnvironmentFlags;
/** `--permission` since Node 22.13/23.5; Node 20 only knows the experimental spelling. */
export const PERMISSION_FLAG: string = allowed.has('--permission')
  ? '--permission'
  : '--experimental-permission';

/**
 * Whether a V8 heap flag costs startup time on this Node: Node 20's V8 rejects Node's built-in
 * code cache when any V8 flag differs from the default, so every internal module then compiles
 * from source (measured: +15 ms CPU per spawn, about a third of a bare Node boot, plus more for
 * each builtin loaded later). Node 24's V8 leaves heap-size flags out of that check.
 */
export const HEAP_FLAG_COSTS_STARTUP: boolean = process.versions.node.startsWith('20.');

/**
 * Node flags for the child: the permission model with one `--allow-fs-read` per path and nothing
 * else allowed (no writes, child processes, workers, addons, WASI, inspector), and (unless
 * `heapCap` is false) a V8 heap cap below the sandbox's memory limit so heap hogs fail fast.
 */
export function nodeFlags(
  readPaths: readonly string[],
  maxMemoryMb: number,
  opts: { readonly heapCap?: boolean } = {},
): string[] {
  const flags = [PERMISSION_FLAG, ...readPaths.map((p) => `--allow-fs-read=${p}`)];
  if (opts.heapCap !== false) {
    flags.push(`--max-old-space-size=${Math.max(16, Math.floor(maxMemoryMb * 0.75))}`);
  }
  flags.push('--no-addons');
  if (allowed.has('--disable-warning')) flags.push('--disable-warning=ExperimentalWarning');
  // Node 20 has WebSocket only behind a flag; 22+ by default. Parity for agents that use it.
  if (process.versions.node.startsWith('20.') && allowed.has('--experimental-websocket')) {
    flags.push('--experimental-websocket');
  }
  return flags;
}

/** The wrapper that makes the first process enter its cgroup before it execs anything else. */
export function cgroupShim(sh: string, procsFile: string): string[] {
  // "$0" is the procs file: passing it as an argument (not interpolated) avoids any quoting issue.
  return [sh, '-c', 'echo $$ > "$0" || exit 70; exec "$@"', procsFile];
}

/**
 * A parked launcher: it enters its cgroup at once (the slow part, an RCU grace period in the
 * kernel on cgroup v1), then waits for ONE line on stdin and runs it (see {@link claimLine}).
 * EOF before a line (the parent died or gave up on it) exits 71 without running anything.
 */
export function parkShim(sh: string, procsFile: string): string[] {
  return [sh, '-c', 'echo $$ > "$0" || exit 70; IFS= read -r line || exit 71; eval "$line"', procsFile];
}

/** POSIX single quoting: the shell takes every byte between the quotes literally. */
export function shQuote(arg: string): string {
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

/**
 * The one line a parked launcher runs when claimed: change to the sandbox's directory, set its
 * HOME and TMPDIR (the rest of the environment is the generic {@link childEnv}; `cd` would add
 * OLDPWD/PWD, so they are unset: the child's environment is exactly an unparked one's), and exec the argv
 * with stdin from /dev/null (as an unclaimed launch has). Every argument is quoted, never
 * interpolated; one with a newline (it would end the line early) or a NUL is refused.
 *
 * @throws SpawnerError `SG_SANDBOX_LAUNCH` for a newline or NUL in any argument or path.
 */
export function claimLine(cwd: string, home: string, argv: readonly string[]): string {
  for (const a of [cwd, home, ...argv]) {
    if (a.includes('\n') || a.includes('\0')) {
      throw new SpawnerError(
        'SG_SANDBOX_LAUNCH',
        `launch argument ${JSON.stringify(a.slice(0, 80))} contains a newline or NUL`,
      );
    }
  }
  if (argv.length === 0) throw new SpawnerError('SG_SANDBOX_LAUNCH', 'empty command');
  const h = shQuote(home);
  return `cd -- ${shQuote(cwd)} || exit 72; unset OLDPWD PWD; export HOME=${h} TMPDIR=${h}; exec ${argv.map(shQuote).join(' ')} </dev/null`;
}

/** An unprivileged identity for a child (no supplementary groups). */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** `nobody:nogroup`: who a child runs as when the orchestrator is root. */
export const NOBODY: RunAs = Object.freeze({ uid: 65534, gid: 65534 });

/**
 * Parent-death SIGKILL and no_new_privs for the levels where bubblewrap does not provide them,
 * and (with `runAs`) a switch to that uid/gid with no supplementary groups. setpriv sets the
 * parent-death signal after the identity change (which would otherwise clear it).
 */
export function setprivShim(setpriv: string, runAs?: RunAs): string[] {
  const ids = runAs === undefined ? [] : [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups'];
  return [setpriv, ...ids, '--pdeathsig', 'KILL', '--no-new-privs', '--'];
}

/** Open files a child may hold unless the launch says otherwise. */
export const DEFAULT_MAX_OPEN_FILES = 256;

/**
 * Gives the sandbox its own RLIMIT_NOFILE (soft = hard, so the child cannot raise it): a runaway
 * that opens files or sockets in a loop stops at EMFILE in its own process, with the parent's
 * limit untouched. RLIMIT_NPROC is left alone on purpose: it counts every process of a real uid
 * (all siblings share one), is ignored for uid 0, and a child cannot create processes anyway.
 */
/**
 * The niceness every sandboxed child runs at. The orchestrator's event loop carries the gateway
 * (every subagent's egress), the tool broker and every timeout timer, and each launch blocks it
 * until the new process has exec'd: when a burst of starting subagents saturates the cores, a
 * child at the orchestrator's own priority delays all of that. At +10 a busy subagent gets about a
 * tenth of a contended core's time against the orchestrator (it still gets every idle cycle).
 */
export const SANDBOX_NICE = 10;

/** Runs the rest of the argv at {@link SANDBOX_NICE} (inherited by every process it starts). */
export function niceShim(nice: string): string[] {
  return [nice, '-n', String(SANDBOX_NICE), '--'];
}

export function rlimitShim(prlimit: string, maxOpenFiles: number): string[] {
  return [prlimit, `--nofile=${maxOpenFiles}:${maxOpenFiles}`, '--'];
}

/** `unshare` options (after the binary), for a variant. */
export function unshareArgs(variant: UnshareVariant): string[] {
  return variant === 'pid'
    ? ['--user', '--map-root-user', '--net', '--pid', '--fork', '--kill-child', '--mount-proc', '--']
    : ['--user', '--map-root-user', '--net', '--'];
}

/** A network namespace made by unshare starts with loopback down; the in-sandbox forwarder needs it. */
export function loopbackUpShim(sh: string, ip: string): string[] {
  return [sh, '-c', '"$0" link set lo up 2>/dev/null; exec "$@"', ip];
}

/** The host's system directory layout (usrmerge links or real directories): read once per process. */
let cachedSystemBinds: readonly string[] | undefined;

function systemBinds(): readonly string[] {
  if (cachedSystemBinds !== undefined) return cachedSystemBinds;
  const out: string[] = [];
  for (const p of ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32']) {
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push('--symlink', readlinkSync(p), p);
      else if (st.isDirectory()) out.push('--ro-bind', p, p);
    } catch {
      // Absent on this distribution.
    }
  }
  // The dynamic linker's cache: without it multiarch library directories are not searched.
  out.push('--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache');
  cachedSystemBinds = Object.freeze(out);
  return cachedSystemBinds;
}

/** Inputs of {@link bubblewrapArgs}. */
export interface BubblewrapOptions {
  /** Realpath of the node binary (bound read-only if outside /usr). */
  readonly node: string;
  /** Read-only binds at the same path inside. */
  readonly readPaths: readonly string[];
  /** Symlinks recreated inside (pnpm's layout), after the binds: `link` → `target`. */
  readonly links?: readonly { readonly link: string; readonly target: string }[];
  readonly env: Readonly<Record<string, string>>;
  /** Host scratch dir, bound writable at /scratch; null = a tmpfs there (probe runs). */
  readonly scratchDir: string | null;
  /** Host path of the gateway Unix socket, bound at {@link SANDBOX_GATEWAY_SOCKET}. */
  readonly gatewaySocket?: string;
  /**
   * Bind the socket's directory (holding nothing else) at the socket's directory inside instead of
   * the socket itself, so the socket may be created after the sandbox started.
   */
  readonly gatewaySocketLater?: boolean;
  /**
   * Uid/gid the child has inside its own user namespace (both mapped to the caller's uid outside).
   * Used when the caller is root: without it the child would run as uid 0 (capabilities dropped).
   */
  readonly sandboxIds?: RunAs;
}

/**
 * bubblewrap options (after the binary, before the command): new network, PID, IPC, UTS and
 * cgroup namespaces; no capabilities; dies with the parent; own session (no TIOCSTI, no signals to
 * our group); empty environment; only system libraries, node, the runtime, the entry's own directory and explicit read grants
 * visible, read-only; a private /tmp; the gateway socket as the only way out.
 */
export function bubblewrapArgs(o: BubblewrapOptions): string[] {
  const args = [
    '--unshare-net',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    'subagent',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--clearenv',
  ];
  if (o.sandboxIds !== undefined) {
    args.push('--unshare-user', '--uid', String(o.sandboxIds.uid), '--gid', String(o.sandboxIds.gid));
  }
  for (const [k, v] of Object.entries(o.env)) args.push('--setenv', k, v);
  args.push(...systemBinds());
  if (!o.node.startsWith('/usr/')) args.push('--ro-bind', o.node, o.node);
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/run');
  for (const p of o.readPaths) args.push('--ro-bind', p, p);
  // A link, not a bind: inside, the resolver then realpaths to the same file URL as outside, so a
  // module reached both ways (the entry's `subagent-guard/runtime`, the runtime's own import) is
  // one instance.
  for (const l of o.links ?? []) args.push('--symlink', l.target, l.link);
  if (o.scratchDir === null) args.push('--tmpfs', SANDBOX_SCRATCH);
  else args.push('--bind', o.scratchDir, SANDBOX_SCRATCH);
  if (o.gatewaySocket !== undefined) {
    if (o.gatewaySocketLater === true)
      args.push('--ro-bind', dirname(o.gatewaySocket), dirname(SANDBOX_GATEWAY_SOCKET));
    else args.push('--ro-bind', o.gatewaySocket, SANDBOX_GATEWAY_SOCKET);
  }
  args.push('--chdir', SANDBOX_SCRATCH);
  return args;
}

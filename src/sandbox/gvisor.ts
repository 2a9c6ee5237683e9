/**
 * The gVisor level: the subagent runs under `runsc` (a user-space kernel), so its syscalls are
 * served by the gVisor Sentry and never reach the host kernel directly. One OCI bundle per
 * sandbox (an empty read-only root, read-only binds of the system libraries, node, the runtime
 * and the entry, tmpfs `/tmp` and `/scratch`, the gateway socket as the only way out), one
 * `runsc --root` state directory per sandbox (both inside the sandbox's own directory, so teardown
 * and the start-up sweep remove them with it), started with `runsc run` in the foreground.
 *
 * IPC: runsc hands a container only stdin, stdout and stderr. The launcher's fd-3 socketpair
 * becomes runsc's stdin (see {@link runscStdinShim}), and a shell inside the sandbox moves it back
 * to fd 3 with stdin from /dev/null (see {@link gvisorInnerShim}): the runtime is unchanged.
 */
import { lstatSync, mkdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SANDBOX_GATEWAY_SOCKET, SANDBOX_SCRATCH, type RunAs } from './command.js';

/**
 * runsc's TMPDIR: its sandbox process mounts a private tmpfs over it as its chroot (inside its own
 * mount namespace, so nothing is left on the host), running as an unprivileged uid that must be
 * able to reach it.
 */
export const RUNSC_TMPDIR = '/tmp';

/** Host directories bound read-only at the same path (symlinked ones become symlinks in the root). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32'];

/** Inputs of {@link ociSpec}. */
export interface OciSpecOptions {
  /** argv of the container's first process (absolute paths as seen inside). */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Realpath of node (bound read-only unless under /usr). */
  readonly node: string;
  /** Read-only binds at the same path inside (runtime, entry directory, grants). */
  readonly readPaths: readonly string[];
  /** Host path of the gateway Unix socket, bound at {@link SANDBOX_GATEWAY_SOCKET}. */
  readonly gatewaySocket?: string;
  /**
   * Bind the socket's directory (holding nothing else) at the socket's directory inside instead of
   * the socket itself: a pre-started sandbox, whose socket is created when it is claimed.
   */
  readonly gatewaySocketLater?: boolean;
  /** Who the subagent runs as inside. */
  readonly user: RunAs;
  /** RLIMIT_NOFILE inside (soft = hard). */
  readonly maxOpenFiles: number;
  /** Memory of the sandbox, bytes (what the Sentry reports and accounts against). */
  readonly memoryBytes: number;
}

/** One OCI mount. */
interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options?: readonly string[];
}

function roBind(path: string, dest: string = path): OciMount {
  return { destination: dest, type: 'bind', source: path, options: ['rbind', 'ro', 'nosuid', 'nodev'] };
}

/** System directories: real ones bound read-only, symlinked ones (usrmerge) listed as links. */
export function systemLayout(): { binds: string[]; links: [string, string][] } {
  const binds: string[] = [];
  const links: [string, string][] = [];
  for (const p of SYSTEM_DIRS) {
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) links.push([p, readlinkSync(p)]);
      else if (st.isDirectory()) binds.push(p);
    } catch {
      // Absent on this distribution.
    }
  }
  return { binds, links };
}

/**
 * The OCI runtime spec (config.json) of one sandbox: fresh PID, IPC, UTS, mount and network
 * namespaces (gVisor's own, inside the Sentry), no capabilities, no_new_privs, an unprivileged
 * uid, a read-only empty root with only the listed paths bound read-only, tmpfs scratch.
 */
export function ociSpec(o: OciSpecOptions): Record<string, unknown> {
  const layout = systemLayout();
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
    {
      destination: SANDBOX_SCRATCH,
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'mode=700', `uid=${o.user.uid}`, `gid=${o.user.gid}`],
    },
    ...layout.binds.map((p) => roBind(p)),
  ];
  try {
    // The dynamic linker's cache: without it multiarch library directories are not searched.
    if (lstatSync('/etc/ld.so.cache').isFile()) mounts.push(roBind('/etc/ld.so.cache'));
  } catch {
    // No cache on this distribution.
  }
  if (!o.node.startsWith('/usr/')) mounts.push(roBind(o.node));
  for (const p of o.readPaths) mounts.push(roBind(p));
  if (o.gatewaySocket !== undefined) {
    mounts.push(
      o.gatewaySocketLater === true
        ? roBind(dirname(o.gatewaySocket), dirname(SANDBOX_GATEWAY_SOCKET))
        : roBind(o.gatewaySocket, SANDBOX_GATEWAY_SOCKET),
    );
  }
  const none: string[] = [];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: o.user.uid, gid: o.user.gid, additionalGids: none },
      args: [...o.args],
      env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
      cwd: SANDBOX_SCRATCH,
      capabilities: { bounding: none, effective: none, inheritable: none, permitted: none, ambient: none },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: o.maxOpenFiles, soft: o.maxOpenFiles }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'subagent',
    mounts,
    linux: {
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })),
      resources: { memory: { limit: o.memoryBytes } },
    },
  };
}

/**
 * Writes `<dir>/config.json` and an empty `<dir>/rootfs` (with the usrmerge symlinks, e.g.
 * `lib -> usr/lib`, and the mount points runsc would otherwise have to create).
 */
export function writeBundle(dir: string, spec: Record<string, unknown>): void {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  for (const [path, target] of systemLayout().links) symlinkSync(target, join(rootfs, path));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec), { mode: 0o644 });
}

/** Inputs of {@link runscArgs}. */
export interface RunscOptions {
  /** runsc's state directory for this sandbox only (`--root`). */
  readonly stateDir: string;
  readonly bundle: string;
  readonly containerId: string;
  /** `ptrace` works everywhere (no /dev/kvm); newer runsc defaults to `systrap`. */
  readonly platform?: string;
}

/**
 * runsc's argv (after the binary): no network at all (`none`: only the Sentry's own loopback),
 * connects to host Unix sockets allowed (`--host-uds=open`: the only one visible is the gateway
 * socket bound into the sandbox), cgroups left to the launcher (the whole runsc tree joins the
 * sandbox's memory cgroup before runsc starts), state kept in the sandbox's own directory.
 */
export function runscArgs(o: RunscOptions): string[] {
  return [
    '--root',
    o.stateDir,
    '--network=none',
    '--host-uds=open',
    '--ignore-cgroups',
    ...(o.platform === undefined ? [] : [`--platform=${o.platform}`]),
    'run',
    '--bundle',
    o.bundle,
    o.containerId,
  ];
}

/** Host side: the IPC socketpair (fd 3 of the launch) becomes runsc's stdin, the only fd it passes on. */
export function runscStdinShim(sh: string): string[] {
  return [sh, '-c', 'exec "$@" 0<&3 3<&-', 'sh'];
}

/** Inside the sandbox: stdin (the IPC socket) moves back to fd 3, where the runtime expects it. */
export function gvisorInnerShim(sh: string): string[] {
  return [sh, '-c', 'exec "$@" 3<&0 0</dev/null', 'sh'];
}

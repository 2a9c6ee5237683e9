/**
 * The local launcher: one Node child per subagent, wrapped in the requested isolation level,
 * started in its own session and process group, optionally inside a memory cgroup it joins
 * before it execs anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Duplex } from 'node:stream';
import { SpawnerError } from '../errors.js';
import { MemoryCgroup } from './cgroup.js';
import { assertAccessible } from './access.js';
import {
  DEFAULT_MAX_OPEN_FILES,
  NOBODY,
  SANDBOX_GATEWAY_SOCKET,
  SANDBOX_SCRATCH,
  bubblewrapArgs,
  cgroupShim,
  childEnv,
  claimLine,
  loopbackUpShim,
  niceShim,
  type RunAs,
  nodeFlags,
  rlimitShim,
  setprivShim,
  unshareArgs,
} from './command.js';
import { gvisorCapability, hostCapabilities, type HostCapabilities } from './detect.js';
import { RUNSC_TMPDIR, gvisorInnerShim, ociSpec, runscArgs, runscStdinShim, writeBundle } from './gvisor.js';
import { OutputDrain } from './output.js';
import {
  agentReadPaths,
  assertSafePermissionPath,
  runtimeBootstrapPath,
  runtimeLinks,
  runtimeReadPaths,
  type ResolverLink,
} from './paths.js';
import { LocalSandbox } from './local-sandbox.js';
import { spawnTurn } from './turns.js';
import { sandboxCgroupName, type ClaimedShim, type LaunchPark } from './park.js';
import type { LaunchSpec } from './types.js';

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const DEFAULT_OUTPUT_BUDGET = 64 * 1024;

function validate(spec: LaunchSpec, caps: HostCapabilities, runsc: string | null): void {
  if (!ID_PATTERN.test(spec.id)) {
    throw new SpawnerError(
      'SG_SANDBOX_LAUNCH',
      `sandbox id must match ${ID_PATTERN.source}, got ${JSON.stringify(spec.id)}`,
    );
  }
  if (spec.level === 'gvisor' ? runsc === null : !caps.report.available.includes(spec.level)) {
    const why = caps.report.details[spec.level] ?? 'not detected';
    throw new SpawnerError(
      'SG_ISOLATION_UNAVAILABLE',
      `isolation level "${spec.level}" is not available on this machine (${why}); available: ${caps.report.available.join(', ')}`,
      { details: { level: spec.level, available: caps.report.available, subagent: spec.id } },
    );
  }
  if (!Number.isFinite(spec.maxMemoryMb) || spec.maxMemoryMb <= 0) {
    throw new SpawnerError(
      'SG_SANDBOX_LAUNCH',
      `maxMemoryMb must be a positive number, got ${spec.maxMemoryMb}`,
    );
  }
  const nofile = spec.maxOpenFiles;
  if (nofile !== undefined && (!Number.isInteger(nofile) || nofile < 32 || nofile > 1_048_576)) {
    throw new SpawnerError(
      'SG_SANDBOX_LAUNCH',
      `maxOpenFiles must be an integer from 32 to 1048576, got ${nofile}`,
    );
  }
  const ids = spec.runAs;
  if (ids !== undefined && !(validId(ids.uid) && validId(ids.gid) && ids.uid !== 0)) {
    throw new SpawnerError(
      'SG_SANDBOX_LAUNCH',
      `runAs must name a non-root uid and a gid (integers below 2^31), got ${JSON.stringify(ids)}`,
    );
  }
  if (spec.level === 'process' && caps.root && caps.setpriv === null) {
    throw new SpawnerError(
      'SG_SANDBOX_LAUNCH',
      'the orchestrator runs as root and setpriv (util-linux) is missing: a process-level child would run as root',
    );
  }
  const sock = spec.gateway.unixSocketPath;
  if (spec.level !== 'process') {
    if (sock === undefined) {
      throw new SpawnerError(
        'SG_SANDBOX_LAUNCH',
        `isolation level "${spec.level}" needs gateway.unixSocketPath: the child has no network route to ${spec.gateway.host}:${spec.gateway.port}`,
      );
    }
    if (spec.gateway.socketLater === true) {
      if (basename(sock) !== basename(SANDBOX_GATEWAY_SOCKET) || !existsSync(dirname(sock))) {
        throw new SpawnerError(
          'SG_SANDBOX_LAUNCH',
          `gateway socket ${sock} must be named ${basename(SANDBOX_GATEWAY_SOCKET)} in an existing directory of its own`,
        );
      }
    } else if (!existsSync(sock)) {
      throw new SpawnerError(
        'SG_SANDBOX_LAUNCH',
        `gateway socket ${sock} does not exist (listenUnix before launch)`,
      );
    }
  }
}

function validId(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < 2 ** 31;
}

/**
 * Who a process-level child runs as: when the orchestrator is root, an unprivileged uid, so the
 * child can neither signal the orchestrator nor read root's files; otherwise our own uid.
 */
function processIdentity(spec: LaunchSpec, caps: HostCapabilities): RunAs | undefined {
  return spec.level === 'process' && caps.root ? (spec.runAs ?? NOBODY) : undefined;
}

/**
 * Prepares the scratch dir for a child running as `ids`: it owns its scratch dir, and the
 * directories between the sandbox's own directory and it become searchable (not readable:
 * 0711), so nothing else in them (the gateway socket, the owner marker) is listed to it.
 */
function handOver(spec: LaunchSpec, ids: RunAs): void {
  chownSync(spec.scratchDir, ids.uid, ids.gid);
  const owned = spec.ownedDir === undefined ? undefined : realpathSync(spec.ownedDir);
  let dir = dirname(realpathSync(spec.scratchDir));
  while (owned !== undefined && dir.startsWith(`${owned}/`)) {
    chmodSync(dir, 0o711);
    dir = dirname(dir);
  }
  if (owned !== undefined) chmodSync(owned, 0o711);
}

/**
 * The gVisor argv: runsc in the foreground (dies with the orchestrator through setpriv's
 * parent-death signal, and takes its Sentry and gofer with it), its OCI bundle and state
 * directory written below the host scratch dir (which the sandbox never sees: its /scratch is a
 * tmpfs inside the Sentry), so `dispose()` removes them with it. The open-file limit is in the
 * spec: prlimit on runsc itself would starve the Sentry, which holds host fds for the sandbox.
 */
function gvisorArgv(
  spec: LaunchSpec,
  caps: HostCapabilities,
  runsc: string | null,
  inner: readonly string[],
  readPaths: readonly string[],
  env: Record<string, string>,
): string[] {
  if (runsc === null || caps.sh === null)
    throw new SpawnerError('SG_ISOLATION_UNAVAILABLE', 'gvisor (runsc) is not available');
  const socket = spec.gateway.unixSocketPath;
  const bundle = join(spec.scratchDir, 'oci');
  const user = spec.runAs ?? NOBODY;
  const later = spec.gateway.socketLater === true;
  try {
    // The Sentry checks the socket's owner and mode as the subagent's uid sees them: it must own
    // it to connect. Nobody else can reach it (it lies in the sandbox's own 0700 directory).
    // A pre-started sandbox sees the socket's directory instead, searchable but not listable by
    // that uid; the socket appears in it, handed to the uid, when the sandbox is claimed.
    if (socket !== undefined) {
      if (later) chmodSync(dirname(socket), 0o711);
      else chownSync(socket, user.uid, user.gid);
    }
    writeBundle(
      bundle,
      ociSpec({
        args: [...gvisorInnerShim(caps.sh), ...inner],
        env,
        node: caps.node,
        readPaths,
        ...(socket === undefined ? {} : { gatewaySocket: socket }),
        ...(later ? { gatewaySocketLater: true } : {}),
        user,
        maxOpenFiles: spec.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES,
        memoryBytes: Math.floor(spec.maxMemoryMb * 1024 * 1024),
      }),
    );
  } catch (err) {
    throw new SpawnerError('SG_SANDBOX_LAUNCH', `cannot write the OCI bundle of ${spec.id}`, { cause: err });
  }
  return [
    ...(caps.nice === null ? [] : niceShim(caps.nice)),
    ...(caps.setpriv === null ? [] : [caps.setpriv, '--pdeathsig', 'KILL', '--']),
    ...runscStdinShim(caps.sh),
    runsc,
    ...runscArgs({ stateDir: join(spec.scratchDir, 'runsc'), bundle, containerId: `sg-${spec.id}` }),
  ];
}

/** The argv (first element = executable) for a spec, outermost wrapper first, without the cgroup shim. */
function buildArgv(
  spec: LaunchSpec,
  caps: HostCapabilities,
  inner: readonly string[],
  readPaths: readonly string[],
  env: Record<string, string>,
  links: readonly ResolverLink[],
): string[] {
  // Below the orchestrator's CPU priority (see SANDBOX_NICE), every process of the sandbox.
  const argv: string[] = caps.nice === null ? [] : niceShim(caps.nice);
  if (caps.prlimit !== null) {
    argv.push(...rlimitShim(caps.prlimit, spec.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES));
  }
  switch (spec.level) {
    case 'bubblewrap': {
      if (caps.bwrap === null)
        throw new SpawnerError('SG_ISOLATION_UNAVAILABLE', 'bubblewrap is not available');
      const socket = spec.gateway.unixSocketPath;
      argv.push(
        caps.bwrap,
        ...bubblewrapArgs({
          node: caps.node,
          readPaths: readPaths.filter((p) => !links.some((l) => l.link === p)),
          links,
          env,
          scratchDir: spec.scratchDir,
          ...(socket === undefined ? {} : { gatewaySocket: socket }),
          ...(spec.gateway.socketLater === true ? { gatewaySocketLater: true } : {}),
          // As root, the child would otherwise be uid 0 inside (capabilities dropped, but owner of
          // every root file it can see): an unprivileged uid in its own user namespace instead.
          ...(caps.root ? { sandboxIds: NOBODY } : {}),
        }),
      );
      break;
    }
    case 'unshare': {
      if (caps.unshare === null)
        throw new SpawnerError('SG_ISOLATION_UNAVAILABLE', 'unshare is not available');
      if (caps.setpriv !== null) argv.push(...setprivShim(caps.setpriv));
      argv.push(caps.unshare.path, ...unshareArgs(caps.unshare.variant));
      if (caps.sh !== null && caps.ip !== null) argv.push(...loopbackUpShim(caps.sh, caps.ip));
      break;
    }
    case 'process': {
      if (caps.setpriv !== null) argv.push(...setprivShim(caps.setpriv, processIdentity(spec, caps)));
      break;
    }
    case 'gvisor':
      throw new SpawnerError('SG_SANDBOX_LAUNCH', 'gvisor argv is built by gvisorArgv');
  }
  argv.push(...inner);
  return argv;
}

/** Whether `file` can be exec'd: a parked launcher would only fail later, after it was claimed. */
function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Claims the parked launcher for this launch: limit first, then the cgroup gets the sandbox id as
 * its name, then the line. Null (nothing claimed, nothing left behind) if there is none or the
 * limit cannot be set; the caller then takes the ordinary path.
 */
function claimParked(park: LaunchPark, id: string, limitBytes: number, line: string): ClaimedShim | null {
  const parked = park.take();
  if (parked === null) return null;
  try {
    // Before the line: the exec'd program must never run, even for an instant, without its limit.
    parked.cgroup.setLimit(limitBytes);
  } catch {
    park.abandon(parked);
    return null;
  }
  parked.cgroup.rename(sandboxCgroupName(id));
  parked.stdin.end(`${line}\n`);
  return parked;
}

/**
 * Starts a sandboxed child running the runtime bootstrap (which waits for the `start` message
 * before it loads any user code). With a `park` (one per orchestrator), the child is started
 * through its parked launcher when one is ready (already in a fresh cgroup: the slow cgroup attach
 * is off the spawn path), else as without.
 *
 * @throws SpawnerError `SG_ISOLATION_UNAVAILABLE` if the level is not available here (never a
 *   silent downgrade), `SG_SANDBOX_ENTRY` for a bad entry, `SG_SANDBOX_LAUNCH` if setup fails.
 */
export async function launch(spec: LaunchSpec, park?: LaunchPark): Promise<LocalSandbox> {
  const caps = await hostCapabilities();
  const runsc = spec.level === 'gvisor' ? (await gvisorCapability()).runsc : null;
  validate(spec, caps, runsc);
  const agentPaths = await agentReadPaths(spec.entry, {
    ...(spec.readGrants === undefined ? {} : { grants: spec.readGrants }),
    ...(spec.protectedPaths === undefined ? {} : { protectedPaths: spec.protectedPaths }),
  });
  const entry = realpathSync(spec.entry);
  // pnpm's layout: the links the child's imports walk through are granted by their own path (the
  // permission model checks the resolver's realpath call there) and recreated as links in a
  // bubblewrap root; what they lead to is already granted by realpath.
  const links = runtimeLinks(dirname(entry));
  const readPaths = [...new Set([...runtimeReadPaths(), ...agentPaths, ...links.map((l) => l.link)])];
  for (const p of [...readPaths, entry, spec.scratchDir]) assertSafePermissionPath(p);

  try {
    mkdirSync(spec.scratchDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new SpawnerError('SG_SANDBOX_LAUNCH', `cannot create scratch dir ${spec.scratchDir}`, {
      cause: err,
    });
  }

  const ids = processIdentity(spec, caps);
  if (ids !== undefined) {
    try {
      handOver(spec, ids);
    } catch (err) {
      throw new SpawnerError('SG_SANDBOX_LAUNCH', `cannot hand ${spec.scratchDir} to uid ${ids.uid}`, {
        cause: err,
      });
    }
    for (const p of [caps.node, ...readPaths, entry]) assertAccessible(p, ids, 4);
    assertAccessible(spec.scratchDir, ids, 7);
  }

  // Under gVisor the host-side process is runsc, whose sandbox process mounts a tmpfs over its
  // TMPDIR (in its own mount namespace) as its chroot, as an unprivileged uid: /tmp, which that uid
  // can reach. The subagent's own environment, with /scratch, is in the OCI spec.
  const home =
    spec.level === 'bubblewrap'
      ? SANDBOX_SCRATCH
      : spec.level === 'gvisor'
        ? RUNSC_TMPDIR
        : realpathSync(spec.scratchDir);
  const env = childEnv(home);
  // The V8 heap cap stays on every level even where it costs startup (Node 20 drops its code
  // cache when a V8 flag is set, ~15 ms per spawn): it is the layer that stops a heap hog fastest,
  // before the cgroup or the RSS poller has to, and one layer must not depend on another existing.
  const inner = spec.command ?? [
    caps.node,
    ...nodeFlags(readPaths, spec.maxMemoryMb),
    runtimeBootstrapPath,
    entry,
  ];
  // Under gVisor a symlink of pnpm's layout is bound at its own path (the bind follows it), so the
  // resolver finds the package there as it would through the link.
  const argv =
    spec.level === 'gvisor'
      ? gvisorArgv(spec, caps, runsc, inner, readPaths, childEnv(SANDBOX_SCRATCH))
      : buildArgv(spec, caps, inner, readPaths, env, links);
  // Built (and checked) on every path, before anything is claimed or created.
  const line = claimLine(spec.scratchDir, home, argv);
  const [file, ...args] = argv;
  if (file === undefined) throw new SpawnerError('SG_SANDBOX_LAUNCH', 'empty command');

  const limitBytes = Math.floor(spec.maxMemoryMb * 1024 * 1024);
  let cgroup: MemoryCgroup | null = null;
  let parked: ClaimedShim | null = null;
  if (caps.cgroup !== null && caps.sh !== null) {
    if (park !== undefined && executable(file)) parked = claimParked(park, spec.id, limitBytes, line);
    if (parked !== null) {
      cgroup = parked.cgroup;
    } else {
      try {
        cgroup = await MemoryCgroup.createAsync(caps.cgroup, sandboxCgroupName(spec.id), limitBytes);
      } catch {
        // Falls back to RSS polling, reported through memoryEnforcement.
        cgroup = null;
      }
    }
  }

  let child: ChildProcess;
  if (parked !== null) {
    child = parked.child;
  } else {
    try {
      const shim = cgroup !== null && caps.sh !== null ? cgroupShim(caps.sh, cgroup.procsFile) : [];
      const [exe, ...rest] = [...shim, file, ...args];
      if (exe === undefined) throw new SpawnerError('SG_SANDBOX_LAUNCH', 'empty command');
      // One process creation per event-loop turn (see spawnTurn): a burst never stalls the loop.
      child = await spawnTurn(() =>
        spawn(exe, rest, {
          cwd: spec.scratchDir,
          env,
          // Own session and process group: kill(-pgid) reaches the whole tree, and the child's
          // process.kill(0, ...) cannot reach the orchestrator's group.
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        }),
      );
    } catch (err) {
      // Nothing runs in it yet: the cgroup would otherwise outlive the failed launch.
      cgroup?.remove();
      throw err;
    }
  }
  const pid = child.pid;
  const channel = child.stdio[3];
  const out = child.stdout;
  const errStream = child.stderr;
  if (pid === undefined || !(channel instanceof Duplex) || out === null || errStream === null) {
    const err = await new Promise<unknown>((resolve) => {
      child.once('error', resolve);
      setTimeout(() => {
        resolve(undefined);
      }, 1000).unref();
    });
    cgroup?.remove();
    throw new SpawnerError('SG_SANDBOX_LAUNCH', `cannot start the ${spec.level} sandbox for ${spec.id}`, {
      cause: err,
    });
  }
  const budget = spec.maxOutputBytes ?? DEFAULT_OUTPUT_BUDGET;
  const stdout = new OutputDrain(out, 'stdout', budget, spec.onOutput);
  const stderr = new OutputDrain(errStream, 'stderr', budget, spec.onOutput);
  return new LocalSandbox({
    child,
    pid,
    level: spec.level,
    channel,
    cgroup,
    stdout,
    stderr,
    scratchDir: spec.scratchDir,
    gatewaySocketPath:
      spec.level === 'bubblewrap' || spec.level === 'gvisor'
        ? SANDBOX_GATEWAY_SOCKET
        : spec.level === 'unshare'
          ? spec.gateway.unixSocketPath
          : undefined,
    hostSocketPath: spec.gateway.unixSocketPath,
    ownedDir: spec.ownedDir,
  });
}

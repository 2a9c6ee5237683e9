/**
 * Finds out which isolation levels work on this machine by actually running a tiny program under
 * each wrapper (a binary being installed proves nothing: user namespaces may be disabled, seccomp
 * may block clone flags). The result is cached for the life of the process.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeCgroup, type CgroupBase } from './cgroup.js';
import {
  NOBODY,
  SANDBOX_NICE,
  bubblewrapArgs,
  childEnv,
  unshareArgs,
  type UnshareVariant,
} from './command.js';
import { ociSpec, runscArgs, writeBundle } from './gvisor.js';
import type { IsolationLevel, IsolationReport } from './types.js';

/** The runsc binary that ran a probe container here, or why there is none. */
export interface GvisorCapability {
  readonly runsc: string | null;
  readonly detail: string;
}

/** Everything the launcher needs to know about this machine. */
export interface HostCapabilities {
  readonly report: IsolationReport;
  readonly bwrap: string | null;
  readonly unshare: { readonly path: string; readonly variant: UnshareVariant } | null;
  /** `ip`, to bring loopback up inside an unshare network namespace (bwrap does it itself). */
  readonly ip: string | null;
  /** `setpriv`, for parent-death SIGKILL and no_new_privs outside bubblewrap. */
  readonly setpriv: string | null;
  /** `prlimit`, to give each child its own RLIMIT_NOFILE. */
  readonly prlimit: string | null;
  /** `nice`, to run each child below the orchestrator's CPU priority. */
  readonly nice: string | null;
  /** Whether this process runs as root: children then run under an unprivileged uid (see launch). */
  readonly root: boolean;
  readonly sh: string | null;
  readonly cgroup: CgroupBase | null;
  /** Realpath of the node binary children run. */
  readonly node: string;
}

/** Where wrappers and tools are looked up: fixed system directories only (never the caller's PATH). */
export const SEARCH_DIRS: readonly string[] = [
  '/usr/bin',
  '/bin',
  '/usr/sbin',
  '/sbin',
  '/usr/local/bin',
  '/usr/local/sbin',
];

/** Absolute path of an executable, from fixed system directories only (never the caller's PATH). */
export function findExecutable(name: string, searchDirs: readonly string[] = SEARCH_DIRS): string | null {
  for (const dir of searchDirs) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** Runs argv with an empty environment; resolves whether it exited 0 within the timeout. */
function tryRun(argv: readonly string[], timeoutMs = 5000): Promise<{ ok: boolean; why: string }> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.resolve({ ok: false, why: 'empty command' });
  return new Promise((resolve) => {
    let stderr = '';
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env: {}, timeout: timeoutMs });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 500) stderr += d;
    });
    child.on('error', (err) => {
      resolve({ ok: false, why: err.message });
    });
    child.on('close', (code, signal) => {
      resolve(
        code === 0
          ? { ok: true, why: 'ok' }
          : { ok: false, why: `exit ${code ?? signal ?? '?'}: ${stderr.trim().slice(0, 300)}` },
      );
    });
  });
}

/**
 * Probes the machine: runs a tiny program under each wrapper found in `searchDirs`. Production
 * code calls it once through {@link hostCapabilities}; a test passes a directory of stand-in
 * wrappers to check the detection itself (a wrapper that is installed but fails is not available).
 */
export async function probeHost(searchDirs: readonly string[] = SEARCH_DIRS): Promise<HostCapabilities> {
  const find = (name: string): string | null => findExecutable(name, searchDirs);
  const details: Record<string, string> = {};
  const node = realpathSync(process.execPath);
  details.node = `${node} ${process.version}`;
  const available: IsolationLevel[] = [];
  const linux = process.platform === 'linux';
  const root = process.getuid?.() === 0;

  let bwrap: string | null = linux ? find('bwrap') : null;
  if (bwrap === null) {
    details.bubblewrap = linux ? 'bwrap not installed' : `not supported on ${process.platform}`;
  } else {
    const r = await tryRun([
      bwrap,
      ...bubblewrapArgs({
        node,
        readPaths: [],
        env: {},
        scratchDir: null,
        ...(root ? { sandboxIds: NOBODY } : {}),
      }),
      node,
      '--version',
    ]);
    details.bubblewrap = r.ok ? `${bwrap} works` : `${bwrap} failed: ${r.why}`;
    if (r.ok) available.push('bubblewrap');
    else bwrap = null;
  }

  const ip = linux ? find('ip') : null;
  let unshare: HostCapabilities['unshare'] = null;
  const unshareBin = linux ? find('unshare') : null;
  if (unshareBin === null) {
    details.namespace = linux ? 'unshare not installed' : `not supported on ${process.platform}`;
  } else {
    for (const variant of ['pid', 'net-only'] as const) {
      const r = await tryRun([unshareBin, ...unshareArgs(variant), node, '--version']);
      if (r.ok) {
        unshare = { path: unshareBin, variant };
        details.namespace = `${unshareBin} works (${variant === 'pid' ? 'user+net+pid namespaces' : 'user+net namespaces'})`;
        available.push('unshare');
        break;
      }
      details.namespace = `${unshareBin} failed: ${r.why}`;
    }
  }
  available.push('process');
  details.loopback = ip === null ? 'ip not installed: no loopback in unshare namespaces' : ip;

  const setpriv = linux ? find('setpriv') : null;
  details.setpriv =
    setpriv === null ? 'not installed: process/namespace children do not die with the parent' : setpriv;
  const prlimit = linux ? find('prlimit') : null;
  details.rlimit =
    prlimit === null ? "prlimit not installed: children share the parent's open-file limit" : prlimit;
  const nice = linux ? find('nice') : null;
  details.priority =
    nice === null
      ? "nice not installed: children run at the orchestrator's CPU priority"
      : `${nice}: children run at nice +${SANDBOX_NICE}, below the orchestrator`;
  if (root) {
    details.identity =
      setpriv === null
        ? 'root without setpriv: process-level children cannot be started under another uid'
        : 'root: children run as uid/gid 65534 (process level via setpriv, bubblewrap inside a user namespace)';
  }
  const sh = find('sh');
  const cgroup = linux && sh !== null ? probeCgroup(details) : null;
  if (cgroup === null && linux && sh === null) details.cgroup = 'no /bin/sh for the cgroup shim';

  const best = available[0] ?? 'process';
  return {
    report: { available, best, cgroup: cgroup?.version ?? null, details },
    bwrap,
    unshare,
    ip,
    setpriv,
    prlimit,
    nice,
    root,
    sh,
    cgroup,
    node,
  };
}

let cached: Promise<HostCapabilities> | undefined;

/** Probes once per process (concurrent callers share the probe). */
export function hostCapabilities(): Promise<HostCapabilities> {
  cached ??= probeHost();
  return cached;
}

/**
 * Probes gVisor: runs `node --version` in a real OCI container under `runsc run` (the same
 * bundle layout and flags as a launch). runsc needs root here: a rootless Sentry cannot set up
 * its namespaces and chroot, so a non-root process never has the level.
 */
export async function probeGvisor(
  base: HostCapabilities,
  searchDirs: readonly string[] = SEARCH_DIRS,
): Promise<GvisorCapability> {
  if (process.platform !== 'linux') return { runsc: null, detail: `not supported on ${process.platform}` };
  const runsc = findExecutable('runsc', searchDirs);
  if (runsc === null) return { runsc: null, detail: 'runsc not installed' };
  if (!base.root) return { runsc: null, detail: `${runsc} needs root (rootless runsc is not supported)` };
  if (base.sh === null) return { runsc: null, detail: 'no /bin/sh for the IPC shims' };
  const dir = mkdtempSync(join(tmpdir(), 'sg-probe-gvisor-'));
  try {
    const bundle = join(dir, 'bundle');
    writeBundle(
      bundle,
      ociSpec({
        args: [base.node, '--version'],
        env: childEnv('/scratch'),
        node: base.node,
        readPaths: [],
        user: NOBODY,
        maxOpenFiles: 64,
        memoryBytes: 256 * 1024 * 1024,
      }),
    );
    const r = await tryRun(
      [runsc, ...runscArgs({ stateDir: join(dir, 'state'), bundle, containerId: 'sg-probe' })],
      15_000,
    );
    return r.ok ? { runsc, detail: `${runsc} works` } : { runsc: null, detail: `${runsc} failed: ${r.why}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let cachedGvisor: Promise<GvisorCapability> | undefined;

/** Probes gVisor once per process, on demand only (a probe container costs about a second). */
export function gvisorCapability(): Promise<GvisorCapability> {
  cachedGvisor ??= hostCapabilities().then((caps) => probeGvisor(caps));
  return cachedGvisor;
}

/**
 * Which isolation levels work here, the strongest one, and whether cgroups can cap memory.
 * `gvisor` is probed only when asked for (`{ gvisor: true }`: it starts a real container, about a
 * second); `best` never names it, because `auto` does not choose it unless the operator opts in.
 *
 * @example
 * const { best, available } = await detectIsolation(); // e.g. 'bubblewrap', ['bubblewrap','unshare','process']
 * const withGvisor = await detectIsolation({ gvisor: true }); // ['gvisor','bubblewrap',...] where runsc works
 */
export async function detectIsolation(opts: { readonly gvisor?: boolean } = {}): Promise<IsolationReport> {
  const caps = await hostCapabilities();
  const report = {
    ...caps.report,
    available: [...caps.report.available],
    details: { ...caps.report.details },
  };
  if (opts.gvisor !== true) {
    report.details.gvisor =
      'not probed (detectIsolation({ gvisor: true }) or isolation gvisor / auto+gvisor)';
    return report;
  }
  const g = await gvisorCapability();
  report.details.gvisor = g.detail;
  if (g.runsc !== null) report.available.unshift('gvisor');
  return report;
}

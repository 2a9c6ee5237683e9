/**
 * What `subagent-guard doctor` finds: this Node, the isolation levels that work here (from the
 * launcher's own probes), and for a config what each agent's sandbox could read and whether a
 * secret-looking file is in reach. A problem is something the config or the request asks for that
 * this host cannot give; a warning is something weaker than it could be.
 */
import { realpathSync } from 'node:fs';
import type { GuardConfig } from '../../config/types.js';
import { reportOnlyParts } from '../../config/report-only.js';
import type { ErrorCode } from '../../errors.js';
import { GuardError } from '../../errors.js';
import { PERMISSION_FLAG } from '../../sandbox/command.js';
import { detectIsolation, hostCapabilities } from '../../sandbox/detect.js';
import { chooseIsolation } from '../../sandbox/isolation.js';
import { configReadGrants, entryReadDir, runtimeReadPaths } from '../../sandbox/paths.js';
import { scanForSecrets, type SecretScan } from '../../sandbox/secret-scan.js';
import {
  ISOLATION_LEVELS,
  type IsolationLevel,
  type IsolationRequest,
  type MemoryEnforcement,
} from '../../sandbox/types.js';

/** The Node versions this package supports (package.json `engines`). */
export const REQUIRED_NODE = '>=20.18';

/** One isolation level and whether it works here. */
export interface DoctorLevel {
  readonly level: IsolationLevel;
  readonly available: boolean;
  /** What the probe found: which binary works, or why the level is missing. */
  readonly detail: string;
}

/** Something asked for that this host cannot give (exit 1), or a weaker-than-possible setting. */
export interface DoctorFinding {
  /** `SG_DOCTOR_UNSATISFIED` for every problem; for a warning, the related code if there is one. */
  readonly code?: ErrorCode;
  /** Where: `node`, `isolation`, `memory`, or `agents/<name>/...`. */
  readonly where: string;
  readonly message: string;
}

/** One agent of the config, as its sandbox would be set up here. */
export interface DoctorAgent {
  readonly name: string;
  /** The level every spawn of this agent would use, or null when the requested one is unavailable. */
  readonly isolation: IsolationLevel | null;
  /** Absolute entry, or null when spawns must pass one. */
  readonly entry: string | null;
  /** Paths the sandbox may read (read-only): node, the runtime, the entry's directory, grants. */
  readonly reads: readonly string[];
  /** The refusal every spawn would end with (the grant check), or null. */
  readonly refused: { readonly code: string; readonly message: string } | null;
  /** Secret-looking paths (names only) under what it may read, or would read if not refused. */
  readonly secrets: readonly string[];
  /** Why the secret scan is incomplete; empty when every path was scanned. */
  readonly scanIncomplete: readonly string[];
  readonly maxMemoryMb: number;
  readonly memoryEnforcement: MemoryEnforcement;
  /** Parts of its policy in report-only mode (not enforced). */
  readonly reportOnly: readonly string[];
}

/** The whole report; `--json` prints exactly this. */
export interface DoctorReport {
  /** True when there is no problem (exit 0). */
  readonly ok: boolean;
  readonly node: {
    readonly version: string;
    readonly path: string;
    readonly required: string;
    readonly supported: boolean;
    /** The Node permission-model flag children get (`--permission` or `--experimental-permission`), or null. */
    readonly permissionFlag: string | null;
  };
  readonly platform: string;
  readonly root: boolean;
  readonly isolation: {
    readonly levels: readonly DoctorLevel[];
    /** What `auto` picks here (never gvisor). */
    readonly auto: IsolationLevel;
    /** What `auto+gvisor` picks here. */
    readonly autoGvisor: IsolationLevel;
    readonly requested: IsolationRequest;
    /** The level the request gets here, or null when it is unavailable (a problem). */
    readonly chosen: IsolationLevel | null;
  };
  readonly memory: {
    readonly cgroup: 'v1' | 'v2' | null;
    readonly enforcement: MemoryEnforcement;
    readonly detail: string;
  };
  /** Other probe findings: setpriv, prlimit, loopback, identity. */
  readonly host: Readonly<Record<string, string>>;
  readonly config: { readonly source: string; readonly agents: readonly DoctorAgent[] } | null;
  readonly problems: readonly DoctorFinding[];
  readonly warnings: readonly DoctorFinding[];
}

/** Whether `version` (e.g. `v20.18.1`) satisfies {@link REQUIRED_NODE}. */
export function nodeSupported(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return major > 20 || (major === 20 && minor >= 18);
}

const LEVEL_DETAIL_KEY: Record<IsolationLevel, string> = {
  gvisor: 'gvisor',
  bubblewrap: 'bubblewrap',
  unshare: 'namespace',
  process: 'process',
};

/** Options of {@link buildDoctorReport}. */
export interface DoctorOptions {
  readonly isolation: IsolationRequest;
  readonly config?: GuardConfig | undefined;
}

/** Probes the host (gVisor included: a real container, about a second) and builds the report. */
export async function buildDoctorReport(opts: DoctorOptions): Promise<DoctorReport> {
  const caps = await hostCapabilities();
  const detected = await detectIsolation({ gvisor: true });
  const problems: DoctorFinding[] = [];
  const warnings: DoctorFinding[] = [];
  const unsatisfied = (where: string, message: string): void => {
    problems.push({ code: 'SG_DOCTOR_UNSATISFIED', where, message });
  };

  const supported = nodeSupported(process.version);
  if (!supported) {
    unsatisfied('node', `Node ${process.version} is older than ${REQUIRED_NODE}; install a supported Node`);
  }
  const permissionFlag = process.allowedNodeEnvironmentFlags.has(PERMISSION_FLAG) ? PERMISSION_FLAG : null;
  if (permissionFlag === null) {
    unsatisfied(
      'node',
      `this Node has no permission model (${PERMISSION_FLAG}); children cannot be confined`,
    );
  }

  const details: Record<string, string> = {
    ...detected.details,
    process:
      'a plain child process: Node permission model and proxy settings only, no network or PID namespace',
  };
  const levels = ISOLATION_LEVELS.map((level) => ({
    level,
    available: detected.available.includes(level),
    detail: details[LEVEL_DETAIL_KEY[level]] ?? 'not probed',
  }));
  const auto = chooseIsolation('auto', detected.available, detected.best);
  const autoGvisor = chooseIsolation('auto+gvisor', detected.available, detected.best);
  let chosen: IsolationLevel | null = null;
  try {
    chosen = chooseIsolation(opts.isolation, detected.available, detected.best);
  } catch (err) {
    if (!(err instanceof GuardError)) throw err;
    const why = levels
      .filter((l) => !l.available)
      .map((l) => `${l.level}: ${l.detail}`)
      .join('; ');
    unsatisfied('isolation', `${err.message} (${why})`);
  }
  if (chosen === 'process') {
    warnings.push({
      code: 'SG_ISOLATION_WEAKER',
      where: 'isolation',
      message:
        'subagents would run at process level only (no network or PID namespace); install bubblewrap or allow unprivileged user namespaces',
    });
  } else if (chosen === 'unshare') {
    warnings.push({
      code: 'SG_ISOLATION_WEAKER',
      where: 'isolation',
      message:
        "subagents would run under 'unshare -Urn': no network, but every filesystem Unix socket stays reachable; bubblewrap is stronger",
    });
  }

  const enforcement: MemoryEnforcement =
    detected.cgroup === 'v2' ? 'cgroup-v2' : detected.cgroup === 'v1' ? 'cgroup-v1' : 'polling';
  const memory = {
    cgroup: detected.cgroup,
    enforcement,
    detail: detected.details['cgroup'] ?? 'no cgroup memory controller found',
  };

  let config: DoctorReport['config'] = null;
  if (opts.config !== undefined) {
    const agents = await configAgents(opts.config, chosen, caps.node, enforcement);
    config = { source: opts.config.source ?? '(inline)', agents };
    for (const a of agents) {
      const where = `agents/${a.name}`;
      if (a.refused !== null)
        unsatisfied(
          `${where}/reads`,
          `every spawn would be refused: ${a.refused.message} [${a.refused.code}]`,
        );
      if (a.secrets.length > 0) {
        unsatisfied(
          `${where}/reads`,
          `secret-looking file${a.secrets.length === 1 ? '' : 's'} in reach of its sandbox: ${a.secrets.join(', ')}`,
        );
      }
      if (a.scanIncomplete.length > 0) {
        warnings.push({
          where: `${where}/reads`,
          message: `secret scan incomplete: ${a.scanIncomplete.slice(0, 3).join('; ')}`,
        });
      }
      if (a.reportOnly.length > 0) {
        warnings.push({
          code: 'SG_REPORT_ONLY',
          where,
          message: `NOT ENFORCING its ${a.reportOnly.join(' and ')} policy (report-only)`,
        });
      }
    }
    const limited = agents.map((a) => a.name);
    if (detected.cgroup === null && limited.length > 0) {
      unsatisfied(
        'memory',
        `no cgroup memory controller (${memory.detail}): max_memory_mb of ${limited.join(', ')} is enforced only by RSS polling and the V8 heap cap, which a fast allocation can overshoot`,
      );
    }
  }

  const host: Record<string, string> = {};
  for (const k of ['setpriv', 'rlimit', 'loopback', 'identity']) {
    const v = detected.details[k];
    if (v !== undefined) host[k] = v;
  }
  return {
    ok: problems.length === 0,
    node: { version: process.version, path: caps.node, required: REQUIRED_NODE, supported, permissionFlag },
    platform: process.platform,
    root: caps.root,
    isolation: { levels, auto, autoGvisor, requested: opts.isolation, chosen },
    memory,
    host,
    config,
    problems,
    warnings,
  };
}

/** Realpaths of what a refused agent would read (its entry's directory and grants that exist). */
function wouldRead(entry: string | undefined, grants: readonly string[]): string[] {
  const out: string[] = [];
  if (entry !== undefined) {
    try {
      out.push(entryReadDir(entry));
    } catch {
      // A bad entry: the refusal says why; nothing to scan.
    }
  }
  for (const g of grants) {
    try {
      out.push(realpathSync(g));
    } catch {
      // Missing grant: the refusal says so.
    }
  }
  return out;
}

async function configAgents(
  config: GuardConfig,
  level: IsolationLevel | null,
  node: string,
  memoryEnforcement: MemoryEnforcement,
): Promise<DoctorAgent[]> {
  const grants = await configReadGrants(config);
  // The runtime paths are shared by every agent: scan each root once.
  const scans = new Map<string, SecretScan>();
  const scan = (root: string): SecretScan => {
    let s = scans.get(root);
    if (s === undefined) {
      s = scanForSecrets([root]);
      scans.set(root, s);
    }
    return s;
  };
  const out: DoctorAgent[] = [];
  for (const agent of Object.values(config.agents)) {
    if (agent.role !== 'subagent') continue;
    const g = grants[agent.name];
    const refused = g !== undefined && 'error' in g ? { code: g.code, message: g.error } : null;
    // No entry in the config: each spawn passes one, so only node and the runtime are known.
    const reads = g === undefined ? [node, ...runtimeReadPaths()] : 'paths' in g ? [node, ...g.paths] : [];
    const roots = refused === null ? reads.slice(1) : wouldRead(agent.entry, agent.readPaths ?? []);
    const secrets = new Set<string>();
    const incomplete: string[] = [];
    for (const r of roots) {
      const s = scan(r);
      for (const f of s.found) secrets.add(f);
      incomplete.push(...s.incomplete);
    }
    out.push({
      name: agent.name,
      isolation: level,
      entry: agent.entry ?? null,
      reads,
      refused,
      secrets: [...secrets],
      scanIncomplete: incomplete,
      maxMemoryMb: agent.constraints.maxMemoryMb,
      memoryEnforcement,
      reportOnly: reportOnlyParts(agent),
    });
  }
  return out;
}

/**
 * `subagent-guard doctor [--config F] [--isolation L] [--json]`: what this host gives subagents
 * (Node, isolation levels, memory limits) and, with a config, what each agent's sandbox could read.
 * Exit codes: 0 nothing asked for is missing, 1 something is (SG_DOCTOR_UNSATISFIED) or the config
 * is invalid, 2 usage or I/O error.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.js';
import type { GuardConfig } from '../../config/types.js';
import { ConfigError, ConfigReadError, UsageError, errorMessage } from '../../errors.js';
import { ISOLATION_REQUESTS, type IsolationRequest } from '../../sandbox/types.js';
import { buildDoctorReport, type DoctorFinding, type DoctorReport } from '../doctor/report.js';
import { ExitCode, type Command } from '../io.js';

const USAGE = 'usage: subagent-guard doctor [--config F] [--isolation L] [--json]';

const HELP = `${USAGE}

Says what this host gives subagents: the Node version, which isolation levels work here and why
the others do not (every level is tried for real, gVisor included), the level \`auto\` and
\`auto+gvisor\` pick, and whether a cgroup can cap memory. With --config, per agent: the level its
spawns get, what its sandbox may read, and any secret-looking file (.env, *.pem, *.key, id_rsa,
.npmrc, credentials.json, .ssh/, .aws/ ...) in reach. File contents are never read.

Options:
  --config F       an openclaw.json (JSON or JSON5) to check against this host
  --isolation L    the level the orchestrator will ask for: auto (default), auto+gvisor,
                   namespace, gvisor, bubblewrap, unshare or process
  --json           print the report as one JSON document (shape: docs/doctor.md)
  -h, --help       show this help

Exit codes: 0 ok, 1 something asked for is not available here [SG_DOCTOR_UNSATISFIED] or the
config is invalid, 2 usage or I/O error.
`;

function isIsolationRequest(v: string): v is IsolationRequest {
  return (ISOLATION_REQUESTS as readonly string[]).includes(v);
}

function parse(argv: readonly string[]): {
  config: string | undefined;
  isolation: IsolationRequest;
  json: boolean;
  help: boolean;
} {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        isolation: { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(`${errorMessage(err)}\n${USAGE}`);
  }
  if (!isIsolationRequest(values.isolation)) {
    throw new UsageError(`--isolation must be one of ${ISOLATION_REQUESTS.join(', ')}\n${USAGE}`);
  }
  return { config: values.config, isolation: values.isolation, json: values.json, help: values.help };
}

const line = (f: DoctorFinding): string =>
  `  ${f.where}: ${f.message}${f.code === undefined ? '' : ` [${f.code}]`}`;

/** The human form of a report. */
export function formatDoctorReport(r: DoctorReport): string {
  const out: string[] = [];
  const n = r.node;
  out.push(
    `node      ${n.version} (${n.path}): ${n.supported ? 'supported' : 'NOT SUPPORTED'}, needs ${n.required}; permission model: ${n.permissionFlag ?? 'MISSING'}`,
    `platform  ${r.platform}${r.root ? ', running as root' : ''}`,
    '',
    'isolation levels (strongest first):',
  );
  const width = Math.max(...r.isolation.levels.map((l) => l.level.length));
  for (const l of r.isolation.levels) {
    out.push(`  ${l.available ? 'yes' : 'no '}  ${l.level.padEnd(width)}  ${l.detail}`);
  }
  const iso = r.isolation;
  out.push(
    `auto picks ${iso.auto}; auto+gvisor picks ${iso.autoGvisor}; requested '${iso.requested}' gets ${iso.chosen ?? 'NOTHING (unavailable)'}`,
    `memory    ${r.memory.cgroup === null ? 'no cgroup: RSS polling and the V8 heap cap only' : `cgroup ${r.memory.cgroup} kernel limit`} (${r.memory.detail})`,
  );
  for (const [k, v] of Object.entries(r.host)) out.push(`${k.padEnd(9)} ${v}`);
  if (r.config !== null) {
    out.push('', `config ${r.config.source}`);
    if (r.config.agents.length === 0) out.push('  (no subagents)');
    for (const a of r.config.agents) {
      out.push(
        `  agent ${a.name}: isolation ${a.isolation ?? 'unavailable'}, memory ${a.maxMemoryMb} MiB by ${a.memoryEnforcement}${a.reportOnly.length > 0 ? `, NOT ENFORCING ${a.reportOnly.join(' and ')}` : ''}`,
        `    entry    ${a.entry ?? '(none: each spawn passes one)'}`,
      );
      if (a.refused !== null) out.push(`    REFUSED  ${a.refused.message} [${a.refused.code}]`);
      a.reads.forEach((p, i) => out.push(`    ${i === 0 ? 'reads   ' : '        '} ${p}`));
      if (a.secrets.length === 0) {
        out.push(`    secrets  none found${a.scanIncomplete.length > 0 ? ' (scan incomplete)' : ''}`);
      } else {
        a.secrets.forEach((p, i) => out.push(`    ${i === 0 ? 'SECRETS ' : '        '} ${p}`));
      }
    }
  }
  if (r.warnings.length > 0) out.push('', `warnings (${r.warnings.length}):`, ...r.warnings.map(line));
  if (r.problems.length > 0) out.push('', `problems (${r.problems.length}):`, ...r.problems.map(line));
  out.push(
    '',
    r.ok
      ? 'OK: this host gives what was asked for'
      : `NOT OK: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} [SG_DOCTOR_UNSATISFIED]`,
  );
  return `${out.join('\n')}\n`;
}

/** The `doctor` command. */
export const doctor: Command = async (argv, io) => {
  const args = parse(argv);
  if (args.help) {
    io.stdout.write(HELP);
    return ExitCode.Ok;
  }
  let config: GuardConfig | undefined;
  if (args.config !== undefined) {
    try {
      config = await loadConfig(resolve(io.cwd, args.config));
    } catch (err) {
      if (!(err instanceof ConfigError || err instanceof ConfigReadError) || !args.json) throw err;
      // --json promises a JSON document on stdout whatever happens.
      io.stdout.write(
        `${JSON.stringify({ ok: false, error: { code: err.code, message: err.message, ...(err instanceof ConfigError ? { issues: err.issues } : {}) } }, null, 2)}\n`,
      );
      return err instanceof ConfigError ? ExitCode.Failed : ExitCode.Usage;
    }
  }
  const report = await buildDoctorReport({ isolation: args.isolation, config });
  if (args.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(formatDoctorReport(report));
  return report.ok ? ExitCode.Ok : ExitCode.Failed;
};

/**
 * `subagent-guard check [config] [--json]`: validates a configuration and prints either a summary
 * of the normalised policy or every problem with its JSON path.
 * Exit codes: 0 valid, 1 invalid, 2 usage or I/O error.
 */
import { resolve } from 'node:path';
import {
  configToJson,
  detectConfigFormat,
  formatConfigSummary,
  parseConfig,
  readConfigFile,
} from '../../config/index.js';
import type { ConfigDocument, GuardConfig, UpstreamProxy } from '../../config/index.js';
import { PLUGIN_CONFIG_POINTER } from '../../config/openclaw-reject.js';
import { childPointer } from '../../config/pointer.js';
import { ConfigError, ConfigReadError, type ConfigIssue } from '../../errors.js';
import { formatServeEnforcement, serveEnforcement } from '../../gateway/from-config.js';
import { gatewayAddresses, isSelfUpstream } from '../../gateway/options.js';
import { configReadGrants } from '../../sandbox/paths.js';
import { ExitCode, type CliIo, type Command } from '../io.js';

const USAGE = `usage: subagent-guard check [config] [--json]

Validates a configuration file (JSON or JSON5; the security-proxy shape or OpenClaw's own shape)
and prints a summary of the normalised policy, or every problem with its JSON path.

  config    path of the file (default: ./openclaw.json)
  --json    print a JSON report instead of text
  -h, --help

exit codes: 0 valid, 1 invalid, 2 usage or I/O error
`;

interface CheckArgs {
  readonly file: string;
  readonly json: boolean;
  readonly help: boolean;
}

function parseArgs(argv: readonly string[]): CheckArgs | string {
  const positional: string[] = [];
  let json = false;
  let help = false;
  let options = true;
  for (const arg of argv) {
    if (options && arg === '--') options = false;
    else if (options && arg === '--json') json = true;
    else if (options && (arg === '-h' || arg === '--help')) help = true;
    else if (options && arg.startsWith('-') && arg !== '-') return `unknown option ${JSON.stringify(arg)}`;
    else positional.push(arg);
  }
  if (positional.length > 1) return `expected at most one config file, got ${positional.length}`;
  return { file: positional[0] ?? 'openclaw.json', json, help };
}

function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Upstream proxies that are the gateway's own listen address (every request would loop through
 * the gateway): the gateway refuses them when it starts (SG_GATEWAY_UPSTREAM_SELF); `check` says
 * so first, at the JSON path. Only a fixed listen port can be matched.
 */
function selfUpstreams(config: GuardConfig, openclaw: boolean): ConfigIssue[] {
  const { listen, upstream } = config.gateway;
  if (listen.port === 0) return [];
  const addrs = gatewayAddresses(listen.host);
  const isSelf = (u: UpstreamProxy): boolean => {
    const url = new URL(u.url);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return isSelfUpstream({ host: url.hostname.replace(/^\[|\]$/g, ''), port }, listen, addrs);
  };
  const base = openclaw ? PLUGIN_CONFIG_POINTER : '';
  const message = (u: UpstreamProxy): string =>
    `upstream proxy ${u.redacted} is the gateway's own listen address ${listen.host}:${listen.port}; every request would loop through the gateway (OpenClaw's proxy.proxyUrl is the proxy OpenClaw sends through, never this upstream)`;
  const out: ConfigIssue[] = [];
  if (upstream !== undefined && isSelf(upstream))
    out.push({
      path: `${base}/gateway/upstream`,
      message: message(upstream),
      code: 'SG_GATEWAY_UPSTREAM_SELF',
    });
  for (const a of Object.values(config.agents)) {
    if (a.proxy === undefined || a.proxy.url === upstream?.url || !isSelf(a.proxy)) continue;
    out.push({
      path: childPointer(base, 'agents', a.name, openclaw ? 'upstream' : 'proxy'),
      message: message(a.proxy),
      code: 'SG_GATEWAY_UPSTREAM_SELF',
    });
  }
  return out;
}

/** The `check` subcommand. */
export const check: Command = async (argv, io) => {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.stderr.write(`subagent-guard check: ${args}\n\n${USAGE}`);
    return ExitCode.Usage;
  }
  if (args.help) {
    io.stdout.write(USAGE);
    return ExitCode.Ok;
  }
  const path = resolve(io.cwd, args.file);
  let doc: ConfigDocument;
  try {
    doc = await readConfigFile(path);
  } catch (err) {
    if (!(err instanceof ConfigReadError)) throw err;
    if (args.json) {
      writeJson(io, {
        valid: false,
        source: path,
        format: null,
        issues: [],
        error: { code: err.code, message: err.message },
      });
    } else {
      io.stderr.write(`subagent-guard check: ${err.message}\n`);
    }
    return ExitCode.Usage;
  }
  try {
    const config = parseConfig(doc.value, { source: doc.source, baseDir: doc.baseDir });
    // What each agent may read, as the launcher computes it; a refused grant fails the check,
    // since every spawn of that agent would fail with the same error.
    const reads = await configReadGrants(config);
    const refused = Object.entries(reads).filter(([, r]) => 'error' in r);
    const problems: ConfigIssue[] = [
      ...refused.map(([name, r]) => ({
        path: `/agents/${name}/entry`,
        message: 'error' in r ? `${r.code}: ${r.error}` : '',
      })),
      ...selfUpstreams(config, detectConfigFormat(doc.value) === 'openclaw'),
    ];
    if (args.json) {
      writeJson(io, {
        valid: problems.length === 0,
        ...configToJson(config, reads),
        serve: serveEnforcement(config),
        issues: problems,
      });
    } else {
      io.stdout.write(formatConfigSummary(config, reads));
      io.stdout.write(`\n${formatServeEnforcement(serveEnforcement(config))}`);
      const n = Object.keys(config.agents).length;
      if (problems.length === 0) {
        io.stdout.write(`\nOK: ${doc.source} is valid (${n} agent${n === 1 ? '' : 's'})\n`);
      } else {
        const lines = problems.map(
          (i) => `  ${i.path}: ${i.message}${i.code === undefined ? '' : ` [${i.code}]`}`,
        );
        io.stdout.write(
          `\n${doc.source} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}\n`,
        );
      }
    }
    return problems.length === 0 ? ExitCode.Ok : ExitCode.Failed;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (args.json) {
      writeJson(io, {
        valid: false,
        source: doc.source,
        format: detectConfigFormat(doc.value),
        issues: err.issues,
      });
    } else {
      const n = err.issues.length;
      const lines = err.issues.map(
        (i) => `  ${i.path === '' ? '/' : i.path}: ${i.message}${i.code === undefined ? '' : ` [${i.code}]`}`,
      );
      io.stdout.write(`${doc.source} is invalid (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}\n`);
    }
    return ExitCode.Failed;
  }
};

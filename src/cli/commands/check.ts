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
import type { ConfigDocument } from '../../config/index.js';
import { ConfigError, ConfigReadError } from '../../errors.js';
import { formatServeEnforcement, serveEnforcement } from '../../gateway/from-config.js';
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
    const reads = configReadGrants(config);
    const refused = Object.entries(reads).filter(([, r]) => 'error' in r);
    if (args.json) {
      writeJson(io, {
        valid: refused.length === 0,
        ...configToJson(config, reads),
        serve: serveEnforcement(config),
        issues: refused.map(([name, r]) => ({
          path: `/agents/${name}/entry`,
          message: 'error' in r ? `${r.code}: ${r.error}` : '',
        })),
      });
    } else {
      io.stdout.write(formatConfigSummary(config, reads));
      io.stdout.write(`\n${formatServeEnforcement(serveEnforcement(config))}`);
      const n = Object.keys(config.agents).length;
      if (refused.length === 0) {
        io.stdout.write(`\nOK: ${doc.source} is valid (${n} agent${n === 1 ? '' : 's'})\n`);
      } else {
        io.stdout.write(
          `\n${doc.source} is invalid: ${refused.length} agent read grant${refused.length === 1 ? '' : 's'} refused (${refused.map(([k]) => k).join(', ')})\n`,
        );
      }
    }
    return refused.length === 0 ? ExitCode.Ok : ExitCode.Failed;
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

#!/usr/bin/env node
/**
 * `subagent-guard` command line. This module is the only place that calls `process.exit` or
 * installs signal handlers; every subcommand is a function `(argv, io) => exitCode`.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GuardError, errorMessage } from '../errors.js';
import { ExitCode, type CliIo, type Command } from './io.js';

const USAGE = `Usage: subagent-guard <command> [options]

Commands:
  check [config] [--json]                 validate a config and print its normalised policy
                                          (default ./openclaw.json)
  run --config F --parent P --agent A --task JSON [--entry E] [--isolation L] [--json]
                                          run one subagent and print its outcome
  gateway serve --config F [--agent NAME] [--listen HOST:PORT] [--quota-window 1h]
                                          run the egress gateway standalone
  gateway validate --proxy-url URL [--allowed-url U] [--timeout 5s] [--json]
                                          check that a forward proxy refuses what it must
  suggest --from AUDIT_LOG --agent A [--config F] [--include-refused] [--json]
                                          print the minimal allowlist an agent's recorded traffic needed
  doctor [--config F] [--isolation L] [--json]
                                          what this host gives subagents (isolation levels,
                                          memory limits) and what each agent could read

Options:
  -h, --help       show this help
  -v, --version    print the version

Exit codes: 0 ok, 1 invalid config / failed check / subagent not completed / doctor found
something this host cannot give, 2 usage or I/O error.
`;

const commands: Record<string, () => Promise<Command>> = {
  check: async () => (await import('./commands/check.js')).check,
  run: async () => (await import('./commands/run.js')).run,
  gateway: async () => (await import('./commands/gateway.js')).gateway,
  suggest: async () => (await import('./commands/suggest.js')).suggest,
  doctor: async () => (await import('./commands/doctor.js')).doctor,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as unknown;
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string'
    ? pkg.version
    : 'unknown';
}

/** Runs the CLI with explicit arguments and I/O; returns the exit code. Exported for tests. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(USAGE);
    return name === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  if (name === '-v' || name === '--version') {
    io.stdout.write(`${version()}\n`);
    return ExitCode.Ok;
  }
  const load = commands[name];
  if (load === undefined) {
    io.stderr.write(`subagent-guard: unknown command '${name}'\n\n${USAGE}`);
    return ExitCode.Usage;
  }
  try {
    const command = await load();
    return await command(rest, io);
  } catch (err) {
    if (err instanceof GuardError) {
      // A user's mistake: the message says what and where; no stack trace.
      io.stderr.write(`subagent-guard ${name}: ${err.message} [${err.code}]\n`);
      return err.code === 'SG_CONFIG_INVALID' ? ExitCode.Failed : ExitCode.Usage;
    }
    const detail =
      io.env['SUBAGENT_GUARD_DEBUG'] === '1' && err instanceof Error ? `\n${err.stack ?? ''}` : '';
    io.stderr.write(`subagent-guard ${name}: internal error: ${errorMessage(err)}${detail}\n`);
    return ExitCode.Failed;
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    // npm installs the bin as a symlink: compare real paths.
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  let stop: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let signals = 0;
  const onSignal = (): void => {
    signals += 1;
    // A second signal means the user does not want to wait for a clean stop.
    if (signals > 1) process.exit(130);
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stopSignal,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
      // Long-running commands resolve only after their own clean stop; nothing else should keep us.
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
    (err: unknown) => {
      process.stderr.write(`subagent-guard: ${errorMessage(err)}\n`);
      process.exitCode = ExitCode.Failed;
    },
  );
}

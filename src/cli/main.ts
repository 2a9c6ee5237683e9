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
something this host cannot give, 2 usage or I/O error, 130 stopped by SIGINT (Ctrl-C),
143 stopped by SIGTERM (run and gateway serve first close what they started).
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
      // A user's mistake: the message says what and where; no stack trace. The code goes on the
      // message's first line: a message that goes on with a usage text must not end in a line
      // holding only the code.
      io.stderr.write(`subagent-guard ${name}: ${withCode(err.message, err.code)}\n`);
      return err.code === 'SG_CONFIG_INVALID' ? ExitCode.Failed : ExitCode.Usage;
    }
    const detail =
      io.env['SUBAGENT_GUARD_DEBUG'] === '1' && err instanceof Error ? `\n${err.stack ?? ''}` : '';
    io.stderr.write(`subagent-guard ${name}: internal error: ${errorMessage(err)}${detail}\n`);
    return ExitCode.Failed;
  }
}

/** `message [CODE]`, the code at the end of the first line; trailing blank lines dropped. */
export function withCode(message: string, code: string): string {
  const text = message.replace(/\s+$/, '');
  const nl = text.indexOf('\n');
  return nl < 0 ? `${text} [${code}]` : `${text.slice(0, nl)} [${code}]${text.slice(nl)}`;
}

/** Commands that stop cleanly on SIGINT/SIGTERM (they await `io.stopSignal`); others just exit. */
function stopsCleanly(argv: readonly string[]): boolean {
  return argv[0] === 'run' || (argv[0] === 'gateway' && argv[1] === 'serve');
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
  const argv = process.argv.slice(2);
  let stop: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => {
    stop = resolve;
  });
  // The shell convention: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM).
  let signalled: number | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    const code = signal === 'SIGINT' ? ExitCode.Interrupted : ExitCode.Terminated;
    // A second signal means the user does not want to wait for a clean stop; a command with
    // nothing to stop (check, doctor, ...) ends at once.
    if (signalled !== undefined || !stopsCleanly(argv)) process.exit(code);
    signalled = code;
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
    stderrIsTTY: process.stderr.isTTY,
  };
  main(argv, io).then(
    (code) => {
      // Stopped by a signal: the command has already closed everything it started (its
      // subagents, the gateway); the exit code says why it ended.
      process.exitCode = signalled ?? code;
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

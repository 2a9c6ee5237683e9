import { GuardError, errorMessage } from '../errors.js';

/** What a CLI command may touch: its arguments, its output streams, its environment. */
export interface CliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Resolves when the user asks to stop (SIGINT/SIGTERM); long-running commands await it. */
  readonly stopSignal: Promise<void>;
  /** Whether stderr is a terminal: progress lines are written there only then (or when asked). */
  readonly stderrIsTTY?: boolean;
}

/** Exit codes shared by every command. */
export const ExitCode = {
  Ok: 0,
  /** The thing checked is invalid / a check failed. */
  Failed: 1,
  /** Wrong usage or an I/O error (file missing, port busy). */
  Usage: 2,
  /** Stopped by SIGINT (Ctrl-C): 128 + 2. */
  Interrupted: 130,
  /** Stopped by SIGTERM: 128 + 15. */
  Terminated: 143,
} as const;

/** A subcommand: parses its own argv (after the subcommand name) and returns an exit code. */
export type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

/**
 * A command with `--help` and `--json`: prints `help` on -h/--help, otherwise runs `once`; when
 * `once` throws and `--json` was given, stdout still gets one JSON object
 * (`{"status":"error","error":{code,message}}`) before the error goes on to stderr as usual.
 */
export function withJsonErrors(help: string, once: Command): Command {
  return async (argv, io) => {
    if (argv.includes('-h') || argv.includes('--help')) {
      io.stdout.write(help);
      return ExitCode.Ok;
    }
    try {
      return await once(argv, io);
    } catch (err) {
      if (argv.includes('--json')) {
        const code = err instanceof GuardError ? err.code : 'SG_INTERNAL';
        io.stdout.write(
          `${JSON.stringify({ status: 'error', error: { code, message: errorMessage(err) } })}\n`,
        );
      }
      throw err;
    }
  };
}

/**
 * Progress lines on stderr: on by default when stderr is a terminal and the output is not JSON;
 * `--progress` forces them (e.g. in CI logs). Stdout stays the command's result only.
 */
export function progressWriter(io: CliIo, opts: { json: boolean; forced: boolean }): (msg: string) => void {
  const on = opts.forced || (!opts.json && io.stderrIsTTY === true);
  return on
    ? (msg) => {
        io.stderr.write(`subagent-guard: ${msg}\n`);
      }
    : () => undefined;
}

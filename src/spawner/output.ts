/**
 * What a subagent writes to stdout/stderr. The sandbox drains both streams (a child printing
 * gigabytes never grows the parent); here the first lines of each, within a small budget, become
 * `subagent.output` audit records, and the stderr tail explains a subagent that died without a
 * result. The child never holds the parent's secrets, but it does hold its own gateway
 * credential.
 *
 * Masking that credential is best-effort: it catches the password and the `user:password`
 * base64 the child's environment holds, not every other encoding a child could choose (hex,
 * split across lines, base64 of the password alone, ...). What is guaranteed instead: the
 * credential is revoked before any of the child's stdout/stderr text is written to the audit
 * log. Lines are held (at most {@link OUTPUT_AUDIT_BYTES} per stream, the drain's budget) until
 * the run's teardown has revoked it, so whatever encoding a line uses, it names a dead credential.
 */
import { AuditEvent } from '../audit/events.js';
import type { Logger } from 'pino';
import type { OutputLine } from '../sandbox/index.js';

/** Audit event of one line a subagent wrote to stdout or stderr. */
export const OUTPUT_EVENT = AuditEvent.SubagentOutput;
/** Bytes of stdout and of stderr per subagent that reach the audit log; the rest is drained unread. */
export const OUTPUT_AUDIT_BYTES = 16 * 1024;
/** Characters of the stderr tail quoted in a `failed` outcome. */
export const STDERR_TAIL_CHARS = 1024;

/** Replaces every occurrence of the given secrets with `***`. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 8) out = out.split(s).join('***');
  return out;
}

/**
 * A sink for the sandbox's `onOutput` that writes one audit record per line, but only once
 * {@link HeldOutput.release} was called (after the credential was revoked). Lines that arrive
 * later (the pipes drain until the process is reaped) are written at once.
 */
export class HeldOutput {
  readonly #logger: Logger;
  readonly #who: Readonly<Record<string, string>>;
  readonly #secrets: () => readonly string[];
  #held: OutputLine[] | undefined = [];

  constructor(logger: Logger, who: Readonly<Record<string, string>>, secrets: () => readonly string[]) {
    this.#logger = logger;
    this.#who = who;
    this.#secrets = secrets;
  }

  /** The `onOutput` callback. */
  readonly sink = (line: OutputLine): void => {
    if (this.#held === undefined) this.#write(line);
    else this.#held.push(line);
  };

  /** Writes what was held and everything after it. Call only once the credential is dead. */
  release(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const line of held ?? []) this.#write(line);
  }

  #write(line: OutputLine): void {
    this.#logger.info(
      {
        event: OUTPUT_EVENT,
        ...this.#who,
        stream: line.stream,
        text: maskSecrets(line.text, this.#secrets()),
      },
      'subagent output',
    );
  }
}

/** `message` plus the last lines of stderr, if any (masked, at most {@link STDERR_TAIL_CHARS}). */
export function withStderrTail(message: string, tail: string, secrets: readonly string[]): string {
  const trimmed = tail.trim();
  if (trimmed === '') return message;
  const cut = trimmed.length > STDERR_TAIL_CHARS ? `…${trimmed.slice(-STDERR_TAIL_CHARS)}` : trimmed;
  return `${message}; stderr: ${maskSecrets(cut, secrets)}`;
}

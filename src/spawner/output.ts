/**
 * What a subagent writes to stdout/stderr. The sandbox drains both streams (a child printing
 * gigabytes never grows the parent); here the first lines of each, within a small budget, become
 * `subagent.output` audit records, and the stderr tail explains a subagent that died without a
 * result. The child never holds the parent's secrets, but it does hold its own gateway
 * credential: that is masked wherever the child's text is written down.
 */
import { AuditEvent } from '../audit/events.js';
import type { Logger } from 'pino';
import type { OutputLine } from './sandbox/index.js';

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

/** A sink for the sandbox's `onOutput`, writing one audit record per line. */
export function outputToAudit(
  logger: Logger,
  who: Readonly<Record<string, string>>,
  secrets: () => readonly string[],
): (line: OutputLine) => void {
  return (line) => {
    logger.info(
      { event: OUTPUT_EVENT, ...who, stream: line.stream, text: maskSecrets(line.text, secrets()) },
      'subagent output',
    );
  };
}

/** `message` plus the last lines of stderr, if any (masked, at most {@link STDERR_TAIL_CHARS}). */
export function withStderrTail(message: string, tail: string, secrets: readonly string[]): string {
  const trimmed = tail.trim();
  if (trimmed === '') return message;
  const cut = trimmed.length > STDERR_TAIL_CHARS ? `…${trimmed.slice(-STDERR_TAIL_CHARS)}` : trimmed;
  return `${message}; stderr: ${maskSecrets(cut, secrets)}`;
}

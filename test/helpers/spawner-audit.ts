/** A pino logger whose records a test can inspect (and scan for secrets). */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** Collected audit records. */
export interface CollectedAudit {
  readonly logger: Logger;
  /** Every record written so far, parsed. */
  records(): Record<string, unknown>[];
  /** Records with `event === name`. */
  events(name: string): Record<string, unknown>[];
  /** The raw text written so far (for "no secret appears anywhere" assertions). */
  text(): string;
}

/** Creates a logger that keeps every record in memory (synchronously). */
export function collectAudit(): CollectedAudit {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      lines.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const records = (): Record<string, unknown>[] =>
    lines
      .join('')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    logger,
    records,
    events: (name) => records().filter((r) => r['event'] === name),
    text: () => lines.join(''),
  };
}

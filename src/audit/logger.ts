import { pino, type Logger, type DestinationStream } from 'pino';
import { GuardError } from '../errors.js';
import { REDACT_PATHS } from './events.js';

export type { Logger } from 'pino';

export interface AuditLoggerOptions {
  /** File to append to; undefined = stderr. */
  readonly path?: string | undefined;
  /** @default 'info' */
  readonly level?: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * pino's ISO timestamp, formatted once per millisecond: the gateway writes two records per request
 * and formatting a Date was a measurable share of each. Per logger (a closure), not per module.
 */
function cachedIsoTime(): () => string {
  let lastMs = -1;
  let last = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      last = `,"time":"${new Date(now).toISOString()}"`;
    }
    return last;
  };
}

/**
 * Creates the audit logger. Writes are buffered (no fsync per event) and flushed on a clean stop
 * by `closeAuditLogger`; the destination is created if missing and appended to, never truncated.
 */
export function createAuditLogger(opts: AuditLoggerOptions = {}): { logger: Logger; close(): Promise<void> } {
  const dest: DestinationStream & { flushSync?: () => void; end?: () => void } =
    opts.path === undefined
      ? pino.destination({ dest: 2, sync: true })
      : pino.destination({ dest: opts.path, sync: false, mkdir: true, append: true, minLength: 4096 });
  const logger = pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'subagent-guard' },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: cachedIsoTime(),
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
  return {
    logger,
    // A failed flush means records were lost: surface it (never swallow an audit failure).
    close: () =>
      new Promise<void>((resolve, reject) => {
        logger.flush((err) => {
          if (!(err instanceof Error)) {
            resolve();
            return;
          }
          reject(
            new GuardError(
              'SG_AUDIT_SINK',
              `audit sink ${opts.path ?? 'stderr'} failed while flushing: ${err.message}`,
              { cause: err },
            ),
          );
        });
      }),
  };
}

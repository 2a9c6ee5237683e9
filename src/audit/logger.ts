import { hostname } from 'node:os';
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
 * Longest a record may wait in the file writer's buffer before it is handed to the kernel. A
 * record in the kernel's page cache survives the death of this process (SIGKILL included), so
 * this bounds what a crash of the orchestrator can lose, without an fsync per event.
 */
export const AUDIT_FLUSH_INTERVAL_MS = 50;

/** The parts of pino's file writer (sonic-boom) the flush timer needs. */
interface BufferedDestination extends DestinationStream {
  flush(cb?: (err?: Error) => void): void;
  readonly destroyed?: boolean;
  /** Bytes buffered and not yet written (sonic-boom internals, read defensively). */
  readonly _len?: unknown;
  readonly _writing?: unknown;
}

/**
 * Hands buffered records to the kernel within {@link AUDIT_FLUSH_INTERVAL_MS} of being logged.
 * The timer is armed by a write and re-arms itself only while bytes are still buffered, so a quiet
 * logger has no timer at all and a busy one flushes at most every interval: under load the
 * writer's own `minLength` batching does the work and the timer finds nothing left to do.
 * Unref'd: it never keeps the process alive. Exits are covered by pino, which registers a
 * synchronous flush on process 'exit' for every asynchronous destination.
 */
function flushTimer(dest: BufferedDestination): () => void {
  let timer: NodeJS.Timeout | undefined;
  const pending = (): boolean => (typeof dest._len === 'number' ? dest._len > 0 : true);
  const tick = (): void => {
    timer = undefined;
    if (dest.destroyed === true || !pending()) return;
    // While a write is in flight sonic-boom continues on its own only above minLength: check again.
    if (dest._writing !== true) dest.flush();
    arm();
  };
  const arm = (): void => {
    if (timer === undefined) timer = setTimeout(tick, AUDIT_FLUSH_INTERVAL_MS).unref();
  };
  return arm;
}

/**
 * Creates the audit logger. File writes are batched (no fsync per event) but reach the kernel
 * within {@link AUDIT_FLUSH_INTERVAL_MS} of the event, so a SIGKILLed orchestrator loses at most
 * that window; `close()` flushes everything. The destination is created if missing and appended
 * to, never truncated. A library installs no signal handlers: a host that wants a flush on
 * SIGTERM/SIGINT calls `close()` once its own handler fires (the CLI's commands do).
 */
export function createAuditLogger(opts: AuditLoggerOptions = {}): { logger: Logger; close(): Promise<void> } {
  const file =
    opts.path === undefined
      ? undefined
      : (pino.destination({
          dest: opts.path,
          sync: false,
          mkdir: true,
          append: true,
          minLength: 4096,
        }) as BufferedDestination);
  const dest: DestinationStream = file ?? pino.destination({ dest: 2, sync: true });
  const armTimer = file === undefined ? undefined : flushTimer(file);
  const logger = pino(
    {
      ...(armTimer === undefined
        ? {}
        : {
            hooks: {
              streamWrite: (s: string): string => {
                armTimer();
                return s;
              },
            },
          }),
      level: opts.level ?? 'info',
      // pid and hostname tell apart the writers of a shared log (several orchestrators, a gateway).
      base: { service: 'subagent-guard', pid: process.pid, hostname: hostname() },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      timestamp: cachedIsoTime(),
      // pino's numeric level (30 info, 40 warn, 50 error): what pino tooling filters on
      // (`pino-pretty -L warn`); see AUDIT_LEVELS.
    },
    dest,
  );
  return {
    logger,
    // A failed flush means records were lost: surface it (never swallow an audit failure).
    close: () =>
      new Promise<void>((resolve, reject) => {
        const flush = (): void => {
          logger.flush(done);
        };
        const done = (err?: Error): void => {
          if (!(err instanceof Error)) {
            // A flush asked for while a write is in flight is answered when that write ends,
            // even if less than minLength is still buffered: flush again until nothing is left.
            if (
              file !== undefined &&
              file.destroyed !== true &&
              typeof file._len === 'number' &&
              file._len > 0
            ) {
              flush();
              return;
            }
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
        };
        flush();
      }),
  };
}

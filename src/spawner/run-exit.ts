/**
 * The end of a run: reaping its sandbox, and the one `subagent.exit` record with the outcome.
 */
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import { channels, DiagnosticsChannels } from '../observability/channels.js';
import { errorMessage } from '../errors.js';
import type { Sandbox } from '../sandbox/launcher.js';
import type { Meter } from './meter.js';
import type { Outcome, TerminationReason, Usage } from './types.js';

/** The decided outcome, before usage and identity are added. */
export type Final =
  | { status: 'completed'; output: unknown }
  | { status: 'failed'; error: { code: string; message: string } }
  | { status: 'terminated'; reason: TerminationReason; detail: string };

/** How long to wait for the IPC stream to drain after the process exits (a result may still be in flight). */
export const DRAIN_AFTER_EXIT_MS = 1000;
/** Upper bound on waiting for a SIGKILLed sandbox to be reaped. */
const REAP_TIMEOUT_MS = 5000;

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Waits for the killed sandbox to be reaped, records its peak memory, and disposes of it (every
 * process gone, then cgroup, scratch dir, socket and its directory removed). Returns when its
 * processes were gone and its sockets cut (`performance.now()`), and any disposal error.
 */
export async function reapSandbox(sandbox: Sandbox, meter: Meter, errors: unknown[]): Promise<number> {
  await Promise.race([sandbox.exited, delay(REAP_TIMEOUT_MS)]);
  let cutAt = performance.now();
  meter.observeRss(sandbox.peakRssBytes);
  await sandbox.dispose().catch((err: unknown) => errors.push(err));
  if (sandbox.goneAt !== undefined) cutAt = Math.max(cutAt, sandbox.goneAt);
  return cutAt;
}

/** What the exit record needs. */
export interface ExitReport {
  readonly logger: Logger;
  readonly who: Readonly<Record<string, string>>;
  readonly id: string;
  readonly agent: string;
  readonly parent: string;
  readonly final: Final | undefined;
  readonly usage: Usage;
  readonly errors: readonly unknown[];
  /** What the IPC conversation cost beyond the usage figures (only what is non-zero). */
  readonly ipc: { logLinesDropped?: number; ipcQueuedPeakBytes?: number };
  /** `performance.now()` of the decision, and when every process was gone (0: never launched). */
  readonly decidedAt: number;
  readonly cutAt: number;
  /** The sandbox came from the agent's warm pool. */
  readonly warm?: boolean;
}

/** Logs teardown errors and the `subagent.exit` record; returns the outcome to resolve. */
export function reportExit(r: ExitReport): Outcome {
  for (const err of r.errors) {
    r.logger.error(
      {
        event: AuditEvent.Exit,
        ...r.who,
        teardownError: errorMessage(err),
      },
      'subagent teardown incomplete',
    );
  }
  const final: Final = r.final ?? {
    status: 'failed',
    error: { code: 'SG_SUBAGENT_FAILED', message: 'no outcome' },
  };
  const outcome: Outcome = { id: r.id, agent: r.agent, parent: r.parent, usage: r.usage, ...final };
  const ms = (t: number): number => Math.round((t - r.decidedAt) * 10) / 10;
  r.logger.info(
    {
      event: AuditEvent.Exit,
      ...r.who,
      status: final.status,
      ...(final.status === 'terminated' ? { reason: final.reason } : {}),
      ...(final.status === 'failed' ? { code: final.error.code } : {}),
      usage: r.usage,
      ...r.ipc,
      ...(r.warm === true ? { warm: true } : {}),
      ...(r.cutAt === 0 ? {} : { killMs: ms(r.cutAt) }),
      teardownMs: ms(performance.now()),
    },
    `subagent ${final.status}`,
  );
  const ch = channels[DiagnosticsChannels.Exit];
  if (ch.hasSubscribers) {
    ch.publish({
      subagentId: r.id,
      agent: r.agent,
      parent: r.parent,
      status: final.status,
      reason: final.status === 'terminated' ? final.reason : undefined,
      killMs: r.cutAt === 0 ? undefined : ms(r.cutAt),
      usage: r.usage,
    });
  }
  return outcome;
}

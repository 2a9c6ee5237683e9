/**
 * A running child as its run sees it: the IPC channel and its message handler, the exit watch
 * (an exit without a result is a crash, an OOM kill or a sandbox violation), and the memory watch.
 */
import type { Logger } from 'pino';
import {
  createParentChannel,
  describeThrown,
  type ChildMessage,
  type IpcChannel,
  type ParentMessage,
} from '../ipc/index.js';
import type { Sandbox } from '../sandbox/launcher.js';
import type { BrokerSession, ToolBroker } from '../tools/broker.js';
import { ChildMessageHandler } from './messages.js';
import type { Meter } from './meter.js';
import { classifyExit, watchMemory } from './monitors.js';
import { maskSecrets, withStderrTail } from './output.js';
import { DRAIN_AFTER_EXIT_MS, delay, type Final } from './run-exit.js';
import { MAX_OUTPUT_BYTES } from './run-wiring.js';
import type { Outcome, TerminationReason } from './types.js';

/** What the watch may do to its run. */
export interface ChildWatchDeps {
  startMessage(): ParentMessage;
  readonly session: BrokerSession;
  readonly broker: ToolBroker;
  readonly meter: Meter;
  readonly logger: Logger;
  readonly who: Readonly<Record<string, string>>;
  readonly maxMemoryMb: number;
  /** Nested spawn; throws SpawnDeniedError when refused. */
  spawn(agent: string, task: unknown): { result: Promise<Outcome> };
  /** Whether the run's outcome is decided. */
  isEnding(): boolean;
  terminate(reason: TerminationReason, detail: string): void;
  finish(final: Final): void;
  /** The run's own secrets (its credential), masked in anything the child makes us write. */
  secrets(): string[];
}

/** The live parts of a watched child. */
export interface WatchedChild {
  readonly channel: IpcChannel<ChildMessage, ParentMessage>;
  readonly handler: ChildMessageHandler;
  stopMemory(): void;
}

/** Wires the child's IPC channel, exit and memory to its run. */
export function watchChild(sandbox: Sandbox, d: ChildWatchDeps): WatchedChild {
  const channel = createParentChannel(sandbox.channel);
  const handler = new ChildMessageHandler({
    send: (msg) => {
      if (!d.isEnding()) channel.send(msg);
    },
    startMessage: () => d.startMessage(),
    session: d.session,
    broker: d.broker,
    meter: d.meter,
    logger: d.logger,
    who: d.who,
    spawn: (agent, task) => d.spawn(agent, task),
    isEnding: () => d.isEnding(),
    terminate: (reason, detail) => {
      d.terminate(reason, detail);
    },
    complete: (final) => {
      d.finish(final);
    },
    maxOutputBytes: MAX_OUTPUT_BYTES,
    mask: (text) => maskSecrets(text, d.secrets()),
  });
  // handle() never throws; the channel also turns a throwing listener into an `error`.
  channel.on('message', (msg, bytes) => {
    handler.handle(msg, bytes);
  });
  channel.on('error', (err) => {
    d.terminate('protocol_violation', err.message);
  });
  const drained = new Promise<void>((resolve) => {
    channel.once('close', resolve);
  });
  sandbox.exited
    .then(async (exit) => {
      if (d.isEnding()) return;
      // The result frame may still be in the socket when the exit is reported: let it drain.
      await Promise.race([drained, delay(DRAIN_AFTER_EXIT_MS)]);
      if (d.isEnding()) return;
      onExitWithoutResult(sandbox, exit, d);
    })
    .catch((err: unknown) => {
      d.terminate('protocol_violation', `internal error after the child exited: ${describeThrown(err)}`);
    });
  const stopMemory = watchMemory(sandbox, d.maxMemoryMb, d.meter, (rss) => {
    d.terminate(
      'memory_exceeded',
      `resident memory ${(rss / 1048576).toFixed(1)} MiB over max_memory_mb ${d.maxMemoryMb}`,
    );
  });
  return { channel, handler, stopMemory };
}

/**
 * The wall-clock timeout is announced (IPC `abort`, which fires `ctx.signal`) this long before the
 * SIGKILL: 10 % of `timeout_seconds`, at most 1 s. A subagent that returns in time completes with
 * what it has; one that does not is killed at the timeout exactly as before.
 */
export function abortNoticeMs(timeoutMs: number): number {
  return Math.min(1000, timeoutMs / 10);
}

/** Starts the run's two wall-clock timers (the notice, then the kill); returns them to clear. */
export function wallClock(
  timeoutSeconds: number,
  notify: (msg: ParentMessage) => void,
  expire: (detail: string) => void,
): NodeJS.Timeout[] {
  const timeoutMs = timeoutSeconds * 1000;
  return [
    // The only graceful stop: violations, cancellation and shutdown kill without notice.
    setTimeout(
      () => {
        notify({ type: 'abort', reason: `timeout_seconds ${timeoutSeconds} is about to expire` });
      },
      timeoutMs - abortNoticeMs(timeoutMs),
    ),
    setTimeout(() => {
      expire(`wall clock over timeout_seconds ${timeoutSeconds}`);
    }, timeoutMs),
  ];
}

function onExitWithoutResult(
  sandbox: Sandbox,
  exit: { code: number | null; signal: string | null },
  d: ChildWatchDeps,
): void {
  const verdict = classifyExit(sandbox, exit, d.maxMemoryMb);
  if (verdict.status === 'terminated') {
    d.terminate(verdict.reason, verdict.detail);
    return;
  }
  // Why it died is usually on stderr (a crash before the runtime could report, a bad entry).
  const message = withStderrTail(verdict.error.message, sandbox.stderrTail(), d.secrets());
  d.finish({ status: 'failed', error: { code: verdict.error.code, message } });
}

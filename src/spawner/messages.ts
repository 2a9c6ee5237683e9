/**
 * The parent's side of the IPC conversation with one child. Messages arrive already validated by
 * zod (src/ipc) and depth-bounded by the decoder; this class enforces the conversation's ORDER
 * and bookkeeping: `ready` once and first, call ids unique, one `result`, output size, log rate —
 * anything else is a protocol violation.
 *
 * Safety net: whatever throws or rejects while acting on a message (here, in the broker, in a
 * nested spawn's continuation) ends THIS subagent with `protocol_violation`; nothing reaches the
 * host process as an uncaught exception or unhandled rejection.
 */
import type { Logger } from 'pino';
import { IpcProtocolError, SpawnDeniedError, errorMessage } from '../errors.js';
import { AuditEvent } from '../audit/events.js';
import { TokenBucket } from '../gateway/limits.js';
import {
  LOG_BURST_LINES,
  LOG_FLOOD_BURST_BYTES,
  LOG_FLOOD_BURST_LINES,
  LOG_FLOOD_BYTES_PER_SECOND,
  LOG_FLOOD_LINES_PER_SECOND,
  LOG_LINES_PER_SECOND,
  MAX_ERROR_MESSAGE_TO_CHILD,
  MAX_LOG_FIELDS_BYTES,
  MAX_LOG_LINES_PER_RUN,
  MAX_LOG_MESSAGE_LENGTH,
  describeThrown,
  type ChildMessage,
  type ParentMessage,
} from '../ipc/index.js';
import type { BrokerOutcome, BrokerSession, ToolBroker } from '../tools/broker.js';
import type { Meter } from './meter.js';
import type { Outcome, TerminationReason } from './types.js';

/** Audit event of a child's `ctx.log` lines. */
export const LOG_EVENT = AuditEvent.SubagentLog;
/** Log lines per subagent that reach the audit log; the rest are counted, not written. */

type Final =
  { status: 'completed'; output: unknown } | { status: 'failed'; error: { code: string; message: string } };

/** Everything the handler may do; provided by the run. */
export interface MessageHandlerDeps {
  send(msg: ParentMessage): void;
  startMessage(): ParentMessage;
  readonly session: BrokerSession;
  readonly broker: ToolBroker;
  readonly meter: Meter;
  readonly logger: Logger;
  readonly who: Readonly<Record<string, string>>;
  /** Nested spawn; throws SpawnDeniedError when refused. */
  spawn(agent: string, task: unknown): { result: Promise<Outcome> };
  isEnding(): boolean;
  terminate(reason: TerminationReason, detail: string): void;
  complete(final: Final): void;
  /** Largest serialised output accepted, bytes. */
  readonly maxOutputBytes: number;
  /** Masks the subagent's own secrets (its gateway credential) in text it asks us to log. */
  mask(text: string): string;
  /** Clock for the log rate, ms. @default performance.now */
  readonly now?: () => number;
}

/** Dispatches one child's messages. */
export class ChildMessageHandler {
  readonly #deps: MessageHandlerDeps;
  readonly #callIds = new Set<number>();
  readonly #now: () => number;
  #started = false;
  /** Lines accepted by the rate (written while under MAX_LOG_LINES_PER_RUN). */
  #logLines = 0;
  /** Lines written to the audit log, and every log frame received (lines and bytes). */
  readonly #logRate: TokenBucket;
  readonly #floodLines: TokenBucket;
  readonly #floodBytes: TokenBucket;
  #rateDropped = 0;

  constructor(deps: MessageHandlerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => performance.now());
    const t = this.#now();
    this.#logRate = new TokenBucket(LOG_LINES_PER_SECOND, LOG_BURST_LINES, t);
    this.#floodLines = new TokenBucket(LOG_FLOOD_LINES_PER_SECOND, LOG_FLOOD_BURST_LINES, t);
    this.#floodBytes = new TokenBucket(LOG_FLOOD_BYTES_PER_SECOND, LOG_FLOOD_BURST_BYTES, t);
  }

  /** Log lines dropped: over the per-subagent cap, or over the rate. */
  get droppedLogLines(): number {
    return Math.max(0, this.#logLines - MAX_LOG_LINES_PER_RUN) + this.#rateDropped;
  }

  /**
   * Acts on one message (`bytes`: the size of its frame body). Never throws: a failure while
   * handling child data terminates the child with `protocol_violation`.
   */
  handle(msg: ChildMessage, bytes = 0): void {
    try {
      this.#handle(msg, bytes);
    } catch (err) {
      this.#fault(`handling a '${msg.type}' message`, err);
    }
  }

  /** The safety net: an unexpected throw or rejection ends this child, audited once. */
  #fault(what: string, err: unknown): void {
    this.#deps.terminate('protocol_violation', `internal error while ${what}: ${describeThrown(err)}`);
  }

  #handle(msg: ChildMessage, bytes: number): void {
    const d = this.#deps;
    if (d.isEnding()) return;
    if (msg.type === 'ready') {
      if (this.#started) {
        d.terminate('protocol_violation', "a second 'ready' message");
        return;
      }
      this.#started = true;
      d.send(d.startMessage());
      return;
    }
    if (!this.#started) {
      d.terminate('protocol_violation', `'${msg.type}' before 'ready'`);
      return;
    }
    switch (msg.type) {
      case 'tool_call':
        if (this.#newCallId(msg.callId)) this.#toolCall(msg.callId, msg.name, msg.args);
        return;
      case 'spawn':
        if (this.#newCallId(msg.callId)) this.#spawn(msg.callId, msg.agent, msg.task);
        return;
      case 'log':
        if (this.#logAdmitted(bytes)) this.#log(msg.msg, msg.fields);
        return;
      case 'sandbox_violation':
        d.terminate('sandbox_violation', msg.detail);
        return;
      case 'result':
        this.#result(msg);
        return;
    }
  }

  #newCallId(callId: number): boolean {
    if (this.#callIds.has(callId)) {
      this.#deps.terminate('protocol_violation', `call id ${callId} was already used`);
      return false;
    }
    this.#callIds.add(callId);
    return true;
  }

  #toolCall(callId: number, name: string, args: unknown): void {
    const d = this.#deps;
    // Calls read in the same chunk after a violation must not reach the broker at all.
    if (d.isEnding()) return;
    d.meter.countToolCall();
    const answer = (outcome: BrokerOutcome): void => {
      if (d.isEnding()) return;
      switch (outcome.kind) {
        case 'ok':
          this.#sendOr({ type: 'tool_result', callId, ok: true, value: outcome.value }, (error) => ({
            type: 'tool_result',
            callId,
            ok: false,
            error,
          }));
          return;
        case 'error':
          d.send({ type: 'tool_result', callId, ok: false, error: outcome.error });
          return;
        case 'violation':
          d.terminate(outcome.reason, outcome.detail);
          return;
      }
    };
    const outcome = d.broker.call(d.session, name, args);
    // A refusal decided before the handler is acted on now (SIGKILL before the next message).
    if (outcome instanceof Promise) {
      // The broker never rejects by contract; if it does (or answering throws), only this child ends.
      outcome.then(answer).catch((err: unknown) => {
        this.#fault(`answering tool call ${callId}`, err);
      });
    } else answer(outcome);
  }

  /**
   * Sends an answer; when it cannot be framed (a tool result or a nested outcome too deep or too
   * large for a frame) the child gets `fallback`'s error answer instead — its call fails, it is
   * not killed for what the parent produced.
   */
  #sendOr(msg: ParentMessage, fallback: (error: { code: string; message: string }) => ParentMessage): void {
    try {
      this.#deps.send(msg);
    } catch (err) {
      if (!(err instanceof IpcProtocolError)) throw err;
      this.#deps.send(fallback({ code: err.code, message: `the answer cannot be sent: ${err.message}` }));
    }
  }

  #spawn(callId: number, agent: string, task: unknown): void {
    const d = this.#deps;
    let child: { result: Promise<Outcome> };
    try {
      child = d.spawn(agent, task);
    } catch (err) {
      if (err instanceof SpawnDeniedError) {
        d.terminate('spawn_denied', `nested spawn of '${agent.slice(0, 128)}' refused: ${err.reason}`);
        return;
      }
      const message = errorMessage(err);
      d.send({
        type: 'spawn_result',
        callId,
        error: { code: 'SG_SUBAGENT_FAILED', message: message.slice(0, MAX_ERROR_MESSAGE_TO_CHILD) },
      });
      return;
    }
    child.result
      .then((outcome) => {
        if (d.isEnding()) return;
        this.#sendOr({ type: 'spawn_result', callId, outcome }, (error) => ({
          type: 'spawn_result',
          callId,
          error,
        }));
      })
      .catch((err: unknown) => {
        this.#fault(`answering spawn ${callId}`, err);
      });
  }

  /**
   * The per-subagent log rate (token bucket). Lines over it are dropped and counted; a flood far
   * beyond it is a violation, because every dropped line still cost the parent a decode.
   */
  #logAdmitted(bytes: number): boolean {
    const now = this.#now();
    const d = this.#deps;
    if (!this.#floodLines.take(1, now) || !this.#floodBytes.take(bytes, now)) {
      d.terminate(
        'protocol_violation',
        `log flood: over ${LOG_FLOOD_LINES_PER_SECOND} lines/s or ${LOG_FLOOD_BYTES_PER_SECOND} bytes/s beyond a burst of ${LOG_FLOOD_BURST_LINES} lines / ${LOG_FLOOD_BURST_BYTES} bytes`,
      );
      return false;
    }
    if (this.#logRate.take(1, now)) return true;
    this.#rateDropped += 1;
    if (this.#rateDropped === 1) {
      d.logger.warn(
        {
          event: LOG_EVENT,
          ...d.who,
          text: `log rate over ${LOG_LINES_PER_SECOND} lines/s; further lines over the rate are dropped`,
        },
        'subagent log',
      );
    }
    return false;
  }

  #log(msg: string, fields: Record<string, unknown> | undefined): void {
    const d = this.#deps;
    this.#logLines += 1;
    if (this.#logLines > MAX_LOG_LINES_PER_RUN) return;
    let safeFields: unknown = fields;
    if (fields !== undefined) {
      const json = JSON.stringify(fields);
      const size = Buffer.byteLength(json, 'utf8');
      if (size > MAX_LOG_FIELDS_BYTES) safeFields = { truncated: true, bytes: size };
      else {
        const masked = d.mask(json);
        if (masked !== json) safeFields = JSON.parse(masked) as unknown;
      }
    }
    // The child's fields stay nested under `fields`: they can never overwrite audit keys.
    d.logger.info(
      {
        event: LOG_EVENT,
        ...d.who,
        text: d.mask(msg.slice(0, MAX_LOG_MESSAGE_LENGTH)),
        ...(safeFields === undefined ? {} : { fields: safeFields }),
      },
      'subagent log',
    );
    if (this.#logLines === MAX_LOG_LINES_PER_RUN) {
      d.logger.warn(
        { event: LOG_EVENT, ...d.who, text: 'log line cap reached; further lines are dropped' },
        'subagent log',
      );
    }
  }

  #result(msg: Extract<ChildMessage, { type: 'result' }>): void {
    const d = this.#deps;
    if (!msg.ok) {
      // The child's own text: mask its credential like every other line it can author.
      d.complete({ status: 'failed', error: { code: msg.error.code, message: d.mask(msg.error.message) } });
      return;
    }
    const text = JSON.stringify(msg.output) as string | undefined;
    const size = text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
    if (size > d.maxOutputBytes) {
      d.terminate('protocol_violation', `output of ${size} bytes is over the ${d.maxOutputBytes}-byte limit`);
      return;
    }
    d.complete({ status: 'completed', output: msg.output });
  }
}

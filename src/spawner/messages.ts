/**
 * The parent's side of the IPC conversation with one child. Messages arrive already validated by
 * zod (src/ipc); this class enforces the conversation's ORDER and bookkeeping: `ready` once and
 * first, call ids unique, one `result`, output size — anything else is a protocol violation.
 */
import type { Logger } from 'pino';
import { SpawnDeniedError } from '../errors.js';
import { AuditEvent } from '../audit/events.js';
import type { ChildMessage, ParentMessage } from '../ipc/index.js';
import type { BrokerOutcome, BrokerSession, ToolBroker } from '../tools/broker.js';
import type { Meter } from './meter.js';
import type { Outcome, TerminationReason } from './types.js';

/** Audit event of a child's `ctx.log` (not yet in AuditEvent). */
export const LOG_EVENT = AuditEvent.SubagentLog;
/** Log lines per subagent that reach the audit log; the rest are counted, not written. */
const MAX_LOG_LINES = 1000;
/** Serialised `fields` of one log line, bytes; larger fields are replaced by a marker. */
const MAX_LOG_FIELDS_BYTES = 4096;

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
}

/** Dispatches one child's messages. */
export class ChildMessageHandler {
  readonly #deps: MessageHandlerDeps;
  readonly #callIds = new Set<number>();
  #started = false;
  #logLines = 0;

  constructor(deps: MessageHandlerDeps) {
    this.#deps = deps;
  }

  /** Log lines dropped because the per-subagent cap was reached. */
  get droppedLogLines(): number {
    return Math.max(0, this.#logLines - MAX_LOG_LINES);
  }

  handle(msg: ChildMessage): void {
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
        this.#log(msg.msg, msg.fields);
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
          d.send({ type: 'tool_result', callId, ok: true, value: outcome.value });
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
    if (outcome instanceof Promise) void outcome.then(answer);
    else answer(outcome);
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
      const message = err instanceof Error ? err.message : String(err);
      d.send({
        type: 'spawn_result',
        callId,
        error: { code: 'SG_SUBAGENT_FAILED', message: message.slice(0, 1000) },
      });
      return;
    }
    void child.result.then((outcome) => {
      if (!d.isEnding()) d.send({ type: 'spawn_result', callId, outcome });
    });
  }

  #log(msg: string, fields: Record<string, unknown> | undefined): void {
    const d = this.#deps;
    this.#logLines += 1;
    if (this.#logLines > MAX_LOG_LINES) return;
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
        text: d.mask(msg.slice(0, 4096)),
        ...(safeFields === undefined ? {} : { fields: safeFields }),
      },
      'subagent log',
    );
    if (this.#logLines === MAX_LOG_LINES) {
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

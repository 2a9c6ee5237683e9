/**
 * The child's side of the conversation with the parent: call ids, pending calls, abort signal.
 */
import type { IpcChannel } from '../ipc/channel.js';
import type { ChildMessage, ParentMessage } from '../ipc/messages.js';
import {
  MAX_LOG_FIELDS,
  MAX_LOG_FIELDS_BYTES,
  MAX_LOG_MESSAGE_LENGTH,
  MAX_OBJECT_KEYS,
  MAX_VALUE_DEPTH,
} from '../ipc/limits.js';
import { jsonShapeProblem } from '../ipc/shape.js';
import { toError } from '../errors.js';
import { SubagentCallError, type Outcome, type SubagentContext } from './types.js';

interface Pending {
  readonly kind: 'tool' | 'spawn';
  resolve(value: unknown): void;
  reject(err: Error): void;
}

// JSON.stringify returns undefined for some inputs; its typing hides that.
const stringify: (value: unknown) => string | undefined = JSON.stringify;

/** `ctx.log` fields as they go on the wire: within the parent's limits, or a marker instead. */
export function sanitizeFields(fields: Record<string, unknown>): Record<string, unknown> | undefined {
  let text: string | undefined;
  try {
    text = stringify(fields);
  } catch {
    return { fields_error: 'not JSON-serialisable' };
  }
  if (text === undefined) return undefined;
  // The parent's limits, kept here so that a chatty subagent loses its fields, not its life.
  if (Buffer.byteLength(text, 'utf8') > MAX_LOG_FIELDS_BYTES) return { fields_truncated: true };
  if (jsonShapeProblem(text, { maxDepth: MAX_VALUE_DEPTH, maxKeys: MAX_OBJECT_KEYS }) !== null) {
    return { fields_error: `nested deeper than ${MAX_VALUE_DEPTH} levels` };
  }
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  return Object.fromEntries(Object.entries(parsed).slice(0, MAX_LOG_FIELDS));
}

/** Tracks outstanding calls and answers them from parent messages. */
export class ParentClient {
  readonly #channel: IpcChannel<ParentMessage, ChildMessage>;
  readonly #pending = new Map<number, Pending>();
  readonly #abort = new AbortController();
  #nextId = 1;

  constructor(channel: IpcChannel<ParentMessage, ChildMessage>) {
    this.#channel = channel;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Handles everything but `start`. */
  handle(msg: ParentMessage): void {
    switch (msg.type) {
      case 'start':
        return;
      case 'abort':
        if (!this.#abort.signal.aborted) this.#abort.abort(new Error(`aborted by the parent: ${msg.reason}`));
        return;
      case 'tool_result': {
        const p = this.#take(msg.callId, 'tool');
        if (p === undefined) return;
        if (msg.ok) p.resolve(msg.value);
        else p.reject(new SubagentCallError(msg.error.code, msg.error.message));
        return;
      }
      case 'spawn_result': {
        const p = this.#take(msg.callId, 'spawn');
        if (p === undefined) return;
        if ('error' in msg) p.reject(new SubagentCallError(msg.error.code, msg.error.message));
        else p.resolve(msg.outcome);
        return;
      }
    }
  }

  /** Rejects every outstanding call (the channel closed). */
  failAll(err: Error): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** Builds the `ctx` handed to the subagent function. */
  context<T>(start: { id: string; agent: string; parent: string; task: T }): SubagentContext<T> {
    return Object.freeze({
      id: start.id,
      agent: start.agent,
      parent: start.parent,
      task: start.task,
      signal: this.signal,
      tools: Object.freeze({
        // Parameters are `unknown`: entries are plain JS and may pass anything.
        call: (name: unknown, args?: unknown): Promise<unknown> =>
          this.#call('tool', (callId) => ({
            type: 'tool_call',
            callId,
            name: String(name),
            args: args ?? null,
          })),
      }),
      spawn: (agent: unknown, task: unknown): Promise<Outcome> =>
        this.#call('spawn', (callId) => ({
          type: 'spawn',
          callId,
          agent: String(agent),
          task: task ?? null,
        })).then(
          // The parent built this Outcome; the child has nothing to check it against.
          (o) => o as Outcome,
        ),
      log: (msg: unknown, fields?: Record<string, unknown>): void => {
        const text = String(msg).slice(0, MAX_LOG_MESSAGE_LENGTH);
        const f = typeof fields === 'object' ? sanitizeFields(fields) : undefined;
        this.#channel.send({ type: 'log', msg: text, ...(f === undefined ? {} : { fields: f }) });
      },
    });
  }

  #call(kind: Pending['kind'], build: (callId: number) => ChildMessage): Promise<unknown> {
    const callId = this.#nextId++;
    return new Promise((resolve, reject) => {
      try {
        if (!this.#channel.send(build(callId))) {
          reject(new SubagentCallError('SG_IPC_PROTOCOL', 'the channel to the parent is closed'));
          return;
        }
      } catch (err) {
        reject(toError(err));
        return;
      }
      this.#pending.set(callId, { kind, resolve, reject });
    });
  }

  #take(callId: number, kind: Pending['kind']): Pending | undefined {
    const p = this.#pending.get(callId);
    if (p?.kind !== kind) return undefined;
    this.#pending.delete(callId);
    return p;
  }
}

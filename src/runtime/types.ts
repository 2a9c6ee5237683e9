/**
 * Types of the child-side API: what a subagent function receives.
 */
import type { Outcome } from '../ipc/outcome.js';

export type { Outcome } from '../ipc/outcome.js';

/** Tools brokered by the parent: allowlisted, argument-validated, metered. */
export interface SubagentTools {
  /**
   * Calls a tool in the parent. Resolves with its value; rejects with a {@link SubagentCallError}
   * carrying the parent's error code (e.g. `SG_TOOL_ARGS_INVALID`). A tool this agent may not use
   * terminates the subagent (`tool_denied`) instead of rejecting.
   */
  call(name: string, args?: unknown): Promise<unknown>;
}

/** What a subagent function gets besides its task. */
export interface SubagentContext<T = unknown> {
  /** Subagent id (unique per spawn). */
  readonly id: string;
  /** Agent name from the configuration. */
  readonly agent: string;
  /** Name of the agent that spawned it. */
  readonly parent: string;
  /** The task (same value as the function's first argument). */
  readonly task: T;
  /**
   * Aborted shortly before the wall-clock timeout (10 % of `timeout_seconds`, at most 1 s, ahead
   * of it): return what you have, and the outcome is `completed`; the SIGKILL follows at the
   * timeout otherwise. Violations, `terminate()` and orchestrator shutdown kill at once, without
   * this notice.
   */
  readonly signal: AbortSignal;
  readonly tools: SubagentTools;
  /** Spawns a nested subagent (checked against this agent's allowAgents and depth) and awaits its outcome. */
  spawn(agent: string, task: unknown): Promise<Outcome>;
  /** Sends a log line to the audit log (`subagent.log`); long messages are truncated. */
  log(msg: string, fields?: Record<string, unknown>): void;
}

/** A subagent program: the default export of its entry module. Its return value must be JSON. */
export type SubagentFunction<T = unknown, R = unknown> = (task: T, ctx: SubagentContext<T>) => Promise<R> | R;

/** A tool call or nested spawn the parent answered with an error. */
export class SubagentCallError extends Error {
  /** The parent's error code, e.g. `SG_TOOL_ARGS_INVALID`, `SG_TOOL_FAILED`, `SG_SPAWN_DENIED`. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SubagentCallError';
    this.code = code;
  }
}

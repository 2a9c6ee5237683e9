/**
 * Tool definitions: what the parent offers subagents through the broker. Tools run in the parent
 * (trusted code); a subagent only ever sees the JSON result of a call it was allowed to make.
 */
import type { EgressDecision, EgressTarget } from '../policy/egress.js';
import type { ByteBudget, BytePace } from './budget.js';

/** What a tool handler learns about the call. Never contains the subagent's credential. */
export interface ToolContext {
  /** The calling subagent's id. */
  readonly subagentId: string;
  /** The calling subagent's agent name. */
  readonly agent: string;
  /** Aborted when the subagent is terminated: long-running handlers must stop. */
  readonly signal: AbortSignal;
  /**
   * Adds `usd` to what this call actually cost (cumulative; call it once per upstream charge).
   * The broker reserved the call's maximum (`maxCostUsd`, else `costUsd`) before the handler ran;
   * when the handler ends, the reservation settles to the sum reported. A call that reports nothing
   * is charged its whole reservation. Always present when the broker runs the handler (optional
   * only so a test can call a handler directly).
   *
   * @throws ToolError `SG_TOOL_COST_OVERRUN` when the sum exceeds the reservation, and
   *   `SG_TOOL_COST_INVALID` for a figure that is not a finite number >= 0 or a report after the
   *   call ended. Either fails the call (the subagent receives that error) and charges the whole
   *   reservation, even if the handler catches it.
   */
  readonly reportCost?: ((usd: number) => void) | undefined;
}

/**
 * A tool the broker can run on a subagent's behalf.
 *
 * @example
 * ```ts
 * const lookup: ToolDefinition = {
 *   description: 'Look up a ticket',
 *   inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'], additionalProperties: false },
 *   costUsd: 0.01,
 *   handler: async (args) => ({ title: 'example' }),
 * };
 * ```
 */
export interface ToolDefinition {
  /** Human description (shown in tooling; not sent to the subagent). */
  readonly description: string;
  /** JSON Schema the call's arguments must satisfy (compiled once with ajv). */
  readonly inputSchema: object;
  /**
   * Metered in the parent for every call that reaches the handler: a fixed price, reserved against
   * `max_cost_usd` before the handler runs (see {@link ToolDefinition.maxCostUsd} for a variable
   * one). @default 0
   */
  readonly costUsd?: number;
  /**
   * Variable cost: the most one call may cost, USD, as a number or computed from the call's
   * (already validated) arguments and the calling agent. The broker reserves it against `max_cost_usd` before the
   * handler runs — a call that does not fit ends the subagent with `cost_exceeded` — and settles
   * to what the handler reports with `ctx.reportCost` (the whole reservation when it reports
   * nothing). A figure that is not a finite number >= 0, or a function that throws, fails the call
   * with `SG_TOOL_COST_INVALID` before the handler runs. @default costUsd
   *
   * @example
   * ```ts
   * maxCostUsd: (args) => ((args as { maxTokens: number }).maxTokens * 10) / 1e6,
   * handler: async (args, ctx) => { const r = await work(args); ctx.reportCost?.(r.usd); return r.answer; },
   * ```
   */
  readonly maxCostUsd?: number | ((args: unknown, who: { subagentId: string; agent: string }) => number);
  /** Runs in the parent. Its result must be JSON-serialisable and is size-capped. */
  handler(args: unknown, ctx: ToolContext): Promise<unknown>;
}

/** Extra context only built-in tools receive (they act with the subagent's own egress credential). */
export interface BuiltinToolContext extends ToolContext {
  /** `http://user:pass@127.0.0.1:PORT` of the egress gateway, this subagent's credential inside. */
  readonly proxyUrl: string;
  /** The broker's cap on the serialised result: a built-in sizes its answer to fit. */
  readonly maxResultBytes: number;
  /** Bytes this subagent's concurrent calls may hold in the parent, shared by all of them. */
  readonly inFlight: ByteBudget;
  /** Bytes per second this subagent's calls may make the parent process, shared by all of them. */
  readonly pace: BytePace;
  /**
   * The agent's egress policy, decided before DNS (port, host allowlist, IP literals). Used to
   * refuse, as a tool error, a target the subagent did not choose (a redirect). Absent: the
   * gateway alone decides.
   */
  readonly egress?: { checkTarget(t: EgressTarget): EgressDecision } | undefined;
}

/** A built-in tool: like a ToolDefinition, but its handler also receives the subagent's egress credential. */
export interface BuiltinToolDefinition {
  readonly description: string;
  readonly inputSchema: object;
  readonly costUsd?: number;
  readonly maxCostUsd?: number | ((args: unknown, who: { subagentId: string; agent: string }) => number);
  handler(args: unknown, ctx: BuiltinToolContext): Promise<unknown>;
}

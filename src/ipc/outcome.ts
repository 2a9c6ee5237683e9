/**
 * How a subagent ended, as the parent reports it: to the caller of `spawn()`, and over IPC to a
 * parent subagent in a `spawn_result`. One home for the wire shape and the termination reasons;
 * kept free of imports so the child can load it cheaply.
 */

/** Every termination reason, for validation and documentation. */
export const TERMINATION_REASONS = Object.freeze([
  'tool_denied',
  'egress_denied',
  'spawn_denied',
  'memory_exceeded',
  'timeout',
  'api_calls_exceeded',
  'cost_exceeded',
  'egress_bytes_exceeded',
  'protocol_violation',
  'sandbox_violation',
  'cancelled',
  'shutdown',
] as const);

/** Why a subagent was terminated. */
export type TerminationReason = (typeof TERMINATION_REASONS)[number];

/** The termination reasons that are not the subagent's doing: its caller or the host ended it. */
const NOT_VIOLATIONS = ['cancelled', 'shutdown'] as const;

/** A termination reason that is the subagent's violation (audited as `subagent.violation`). */
export type ViolationReason = Exclude<TerminationReason, (typeof NOT_VIOLATIONS)[number]>;

/** True when the reason is a violation by the subagent (every reason but `cancelled` and `shutdown`). */
export function isViolation(reason: TerminationReason): reason is ViolationReason {
  return !(NOT_VIOLATIONS as readonly string[]).includes(reason);
}

/** Every violation reason, in the order of {@link TERMINATION_REASONS}. */
export const VIOLATION_REASONS: readonly ViolationReason[] = Object.freeze(
  TERMINATION_REASONS.filter((r): r is ViolationReason => isViolation(r)),
);

/** Resources a subagent used, measured by the parent (never reported by the child). */
export interface Usage {
  /** From start of the run (not of the queue wait) to exit. */
  readonly wallMs: number;
  /** Tool calls the subagent made (allowed or not). */
  readonly toolCalls: number;
  /** Units of `max_api_calls` consumed: tool calls + egress requests. */
  readonly apiCalls: number;
  /** Metered cost of tool calls, USD. */
  readonly costUsd: number;
  /** Highest resident memory of the sandbox seen, MiB. */
  readonly peakRssMb: number;
  readonly egressRequests: number;
  readonly egressBytesOut: number;
  readonly egressBytesIn: number;
}

/** Fields every outcome carries. */
export interface OutcomeCommon {
  readonly id: string;
  readonly agent: string;
  readonly parent: string;
  readonly usage: Usage;
}

/** How a subagent ended. */
export type Outcome = OutcomeCommon &
  (
    | { readonly status: 'completed'; readonly output: unknown }
    | { readonly status: 'failed'; readonly error: { readonly code: string; readonly message: string } }
    | { readonly status: 'terminated'; readonly reason: TerminationReason; readonly detail: string }
  );

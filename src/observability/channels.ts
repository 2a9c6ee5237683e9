/**
 * `node:diagnostics_channel` channels, one per decision, named `subagent-guard:<event>`. A
 * subscriber gets a plain object per decision (the payload types below), in the process that made
 * it, synchronously, right after its audit record. Payloads carry what the audit record
 * carries: never a credential, a body, a path, a query string, a header value or a tool argument.
 *
 * Nothing is built when nobody subscribes: every publisher checks `hasSubscribers` first, so the
 * cost of an unobserved decision is one property read.
 *
 * A subscriber runs inside the decision: a slow one slows it, and one that throws is reported by
 * Node as an uncaught exception on the next tick. Subscribe with code that cannot throw.
 *
 * @example
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('subagent-guard:egress.decision', (m) => console.log(m.host, m.reason));
 */
import { channel, subscribe, unsubscribe, type Channel } from 'node:diagnostics_channel';

/** Prefix of every channel name. */
export const CHANNEL_PREFIX = 'subagent-guard:';

/** Every channel name. */
export const DiagnosticsChannels = {
  /** A spawn was accepted. */
  Spawn: 'subagent-guard:subagent.spawn',
  /** A spawn was refused by the spawn quotas. */
  SpawnDenied: 'subagent-guard:subagent.spawn_denied',
  /** A subagent's process is running (its start latency). */
  Running: 'subagent-guard:subagent.running',
  /** A tool call decision by the broker. */
  ToolDecision: 'subagent-guard:tool.decision',
  /** A tool call finished. */
  ToolResult: 'subagent-guard:tool.result',
  /** One egress decision (also when its audit record is left out by the audit cap). */
  EgressDecision: 'subagent-guard:egress.decision',
  /** One closed egress connection or exchange. */
  EgressClose: 'subagent-guard:egress.close',
  /** A unit of a quota was charged, or refused. */
  QuotaCharge: 'subagent-guard:quota.charge',
  /** Part of a cost reservation was given back when the call settled below its maximum. */
  QuotaRefund: 'subagent-guard:quota.refund',
  /** A violation was detected; the subagent is being terminated. */
  Violation: 'subagent-guard:subagent.violation',
  /** A subagent exited, with its usage and kill latency. */
  Exit: 'subagent-guard:subagent.exit',
} as const;
export type DiagnosticsChannelName = (typeof DiagnosticsChannels)[keyof typeof DiagnosticsChannels];

/** Who a subagent payload is about. */
export interface SubagentRef {
  readonly subagentId: string;
  readonly agent: string;
  readonly parent: string;
}

export interface SpawnMessage extends SubagentRef {
  readonly depth: number;
  readonly isolation: string;
}
export interface SpawnDeniedMessage {
  readonly agent: string;
  readonly parent: string;
  readonly reason: string;
}
export interface RunningMessage extends SubagentRef {
  /** From the start of the run (after any queue wait) to the child process running, ms. */
  readonly spawnMs: number;
}
export interface ToolDecisionMessage extends SubagentRef {
  readonly tool: string;
  readonly allow: boolean;
  readonly reason: string;
  readonly rule: string | null;
}
export interface ToolResultMessage extends SubagentRef {
  readonly tool: string;
  readonly ok: boolean;
  readonly code: string | undefined;
  readonly costUsd: number;
  readonly durationMs: number;
}
export interface EgressDecisionMessage {
  /** null when no subagent could be identified (a bad credential, the connection cap). */
  readonly subagentId: string | null;
  readonly agent: string | undefined;
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly allow: boolean;
  readonly reason: string;
  readonly status: number;
}
export interface EgressCloseMessage {
  readonly subagentId: string;
  readonly agent: string | undefined;
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly end: string;
}
export interface QuotaChargeMessage {
  readonly subagentId: string;
  readonly agent: string;
  /** `api_calls`: one unit of max_api_calls; `cost_usd`: a tool's cost against max_cost_usd. */
  readonly quota: 'api_calls' | 'cost_usd';
  readonly amount: number;
  /** Used after this charge (unchanged when refused). */
  readonly used: number;
  readonly limit: number;
  /** False: the charge would exceed the limit and was refused. */
  readonly allowed: boolean;
}
/**
 * A tool with a maximum cost (`maxCostUsd`) reserved that maximum in a `quota.charge`; when it
 * settled below it, the difference comes back here. Net use of a quota = charged − refunded.
 */
export interface QuotaRefundMessage {
  readonly subagentId: string;
  readonly agent: string;
  readonly quota: 'cost_usd';
  /** Given back, USD (> 0). */
  readonly amount: number;
  /** Used after the refund. */
  readonly used: number;
  readonly limit: number;
}
export interface ViolationMessage extends SubagentRef {
  readonly reason: string;
  readonly detail: string;
}
export interface ExitMessage extends SubagentRef {
  readonly status: 'completed' | 'failed' | 'terminated';
  readonly reason: string | undefined;
  /** From the decision to every process gone and its sockets cut, ms; undefined if never launched. */
  readonly killMs: number | undefined;
  readonly usage: {
    readonly wallMs: number;
    readonly toolCalls: number;
    readonly apiCalls: number;
    readonly costUsd: number;
    readonly peakRssMb: number;
    readonly egressRequests: number;
    readonly egressBytesOut: number;
    readonly egressBytesIn: number;
  };
}

/** The payload type of each channel. */
export interface DiagnosticsMessages {
  'subagent-guard:subagent.spawn': SpawnMessage;
  'subagent-guard:subagent.spawn_denied': SpawnDeniedMessage;
  'subagent-guard:subagent.running': RunningMessage;
  'subagent-guard:tool.decision': ToolDecisionMessage;
  'subagent-guard:tool.result': ToolResultMessage;
  'subagent-guard:egress.decision': EgressDecisionMessage;
  'subagent-guard:egress.close': EgressCloseMessage;
  'subagent-guard:quota.charge': QuotaChargeMessage;
  'subagent-guard:quota.refund': QuotaRefundMessage;
  'subagent-guard:subagent.violation': ViolationMessage;
  'subagent-guard:subagent.exit': ExitMessage;
}

/** The channel objects (a channel is global by name: every copy of the package shares it). */
export const channels: { readonly [K in DiagnosticsChannelName]: Channel } = Object.freeze(
  Object.fromEntries(Object.values(DiagnosticsChannels).map((n) => [n, channel(n)])) as {
    [K in DiagnosticsChannelName]: Channel;
  },
);

/**
 * Publishes `message` on `name`. Callers check `channels[name].hasSubscribers` first and build
 * the message only then, so an unobserved decision allocates nothing.
 */
export function publishTo<K extends DiagnosticsChannelName>(name: K, message: DiagnosticsMessages[K]): void {
  channels[name].publish(message);
}

/** Subscribes `fn` to one channel, typed; returns the unsubscribe function. */
export function subscribeTo<K extends DiagnosticsChannelName>(
  name: K,
  fn: (message: DiagnosticsMessages[K]) => void,
): () => void {
  const listener = (m: unknown): void => {
    fn(m as DiagnosticsMessages[K]);
  };
  subscribe(name, listener);
  return () => {
    unsubscribe(name, listener);
  };
}

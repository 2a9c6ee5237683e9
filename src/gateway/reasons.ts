/**
 * Every refusal reason of the gateway and everything that follows from it, in one table: the HTTP
 * status, the RFC 9209 `Proxy-Status` error type, whether the subagent caused it (and so gets
 * `onDeny`), whether the client connection is closed after the answer, and the termination
 * reason a spawner ends the subagent with. `answerFor`, `isClientAttributable`,
 * `closesConnection` and `violationForEgress` read it; docs/gateway.md prints it, and a test keeps
 * the two equal.
 */
import type { GatewayReason } from './types.js';

/** A refusal reason (every gateway reason but `allowed`). */
export type RefusalReason = Exclude<GatewayReason, 'allowed'>;

/**
 * The termination reasons a gateway refusal can map to. A subset of the spawner's
 * `TerminationReason` (checked where the spawner uses it), named here so the gateway does not
 * depend on the spawner.
 */
export type EgressViolation = 'egress_denied' | 'api_calls_exceeded' | 'egress_bytes_exceeded';

/** What the gateway does for one refusal reason. */
export interface RefusalFacts {
  /** HTTP status of the answer. */
  readonly status: number;
  /** RFC 9209 `Proxy-Status` error type. */
  readonly error: string;
  /**
   * The subagent asked for something it may not have (a policy denial, a request it should not
   * have made, a budget it has used up): `onDeny` is called. Failures that are not its doing (DNS,
   * an unreachable target, the gateway's own caps) are answered but not reported.
   */
  readonly attributable: boolean;
  /**
   * The client connection is closed after the answer whatever its framing: a request without a
   * valid credential (so a client cannot retry on one connection as fast as it can write), and a
   * connection over the per-subagent cap.
   */
  readonly closes: boolean;
  /** How a spawner ends the subagent when this refusal is reported to it; null = it does not. */
  readonly violation: EgressViolation | null;
}

const deny = { attributable: true, closes: false, violation: 'egress_denied' } as const;
const fault = { attributable: false, closes: false, violation: null } as const;

/** The table. Keys are every refusal reason: the compiler rejects a missing or unknown one. */
export const REFUSALS: Readonly<Record<RefusalReason, RefusalFacts>> = Object.freeze({
  auth_required: { status: 407, error: 'http_request_denied', ...fault, closes: true },
  auth_invalid: { status: 407, error: 'http_request_denied', ...fault, closes: true },
  bad_request: { status: 400, error: 'http_request_error', ...deny },
  scheme_not_allowed: { status: 400, error: 'http_request_error', ...deny },
  host_invalid: { status: 400, error: 'http_request_error', ...deny },
  host_mismatch: { status: 421, error: 'http_request_error', ...deny },
  no_network: { status: 403, error: 'http_request_denied', ...deny },
  port_blocked: { status: 403, error: 'http_request_denied', ...deny },
  port_not_allowed: { status: 403, error: 'http_request_denied', ...deny },
  host_not_allowed: { status: 403, error: 'http_request_denied', ...deny },
  address_prohibited: { status: 403, error: 'destination_ip_prohibited', ...deny },
  metadata_prohibited: { status: 403, error: 'destination_ip_prohibited', ...deny },
  dns_error: { status: 502, error: 'dns_error', ...fault },
  dns_timeout: { status: 504, error: 'dns_timeout', ...fault },
  connect_refused: { status: 502, error: 'connection_refused', ...fault },
  connect_failed: { status: 502, error: 'destination_ip_unroutable', ...fault },
  connect_timeout: { status: 504, error: 'connection_timeout', ...fault },
  upstream_refused: { status: 502, error: 'destination_unavailable', ...fault },
  upstream_error: { status: 502, error: 'connection_terminated', ...fault },
  rate_limited: { status: 429, error: 'http_request_denied', ...fault },
  tunnel_limit: { status: 429, error: 'connection_limit_reached', ...fault },
  // A violation, but reported through onViolation (which carries the count), not onDeny.
  connection_limit: { status: 429, error: 'connection_limit_reached', ...fault, closes: true },
  api_calls_exceeded: {
    status: 429,
    error: 'http_request_denied',
    attributable: true,
    closes: false,
    violation: 'api_calls_exceeded',
  },
  egress_bytes_exceeded: {
    status: 429,
    error: 'http_request_denied',
    attributable: true,
    closes: false,
    violation: 'egress_bytes_exceeded',
  },
  internal_error: { status: 500, error: 'proxy_internal_error', ...fault },
});

/** Every refusal reason, in table order. */
export const REFUSAL_REASONS: readonly RefusalReason[] = Object.freeze(
  Object.keys(REFUSALS) as RefusalReason[],
);

/** Status code and Proxy-Status error type for a refusal reason. */
export function answerFor(reason: RefusalReason): { readonly status: number; readonly error: string } {
  const f = REFUSALS[reason];
  return { status: f.status, error: f.error };
}

/** Reasons a subagent is responsible for (it asked for something it may not have): `onDeny` fires. */
export function isClientAttributable(reason: GatewayReason): boolean {
  return reason !== 'allowed' && REFUSALS[reason].attributable;
}

/** Refusals after which the client connection is closed whatever its framing. */
export function closesConnection(reason: RefusalReason): boolean {
  return REFUSALS[reason].closes;
}

/** Which gateway refusals end the subagent, and with what termination reason. */
export function violationForEgress(reason: GatewayReason): EgressViolation | null {
  return reason === 'allowed' ? null : REFUSALS[reason].violation;
}

/**
 * Port rules: `blocked_ports` always wins over `allowed_ports`, and a port that is not allowed is
 * refused. There is no "any port": an agent that needs 8443 lists it.
 */
import type { Decision } from './types.js';

/** Reasons a port decision can carry. */
export type PortDecisionReason = 'allowed' | 'port_blocked' | 'port_not_allowed';

/** Ports allowed when a network section does not say. */
export const DEFAULT_ALLOWED_PORTS: readonly number[] = Object.freeze([80, 443]);

/** True for an integer TCP port 1-65535 (port 0 means "any" to the kernel, so it is never a target). */
export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/**
 * Decides whether a destination port may be used.
 *
 * @param port the destination port as parsed from the request.
 * @param net the agent's port lists (canonical: integers 1-65535).
 * @returns `port_blocked` (rule = the port) if blocked, even when also allowed; `allowed` (rule = the
 *   port) if listed in `allowedPorts`; otherwise `port_not_allowed` (rule null). A non-integer or
 *   out-of-range port is `port_not_allowed`.
 * @example decidePort(22, { allowedPorts: [22, 443], blockedPorts: [22] }) // { allow: false, reason: 'port_blocked', rule: '22' }
 */
export function decidePort(
  port: number,
  net: { readonly allowedPorts: readonly number[]; readonly blockedPorts: readonly number[] },
): Decision<PortDecisionReason> {
  if (!isValidPort(port)) return { allow: false, reason: 'port_not_allowed', rule: null };
  if (net.blockedPorts.includes(port)) return { allow: false, reason: 'port_blocked', rule: String(port) };
  if (net.allowedPorts.includes(port)) return { allow: true, reason: 'allowed', rule: String(port) };
  return { allow: false, reason: 'port_not_allowed', rule: null };
}

/**
 * A precomputed port rule set (constant-time lookups) for the gateway's hot path; same semantics
 * as {@link decidePort}.
 */
export class PortRules {
  readonly #allowed: ReadonlySet<number>;
  readonly #blocked: ReadonlySet<number>;

  constructor(net: { readonly allowedPorts: readonly number[]; readonly blockedPorts: readonly number[] }) {
    this.#allowed = new Set(net.allowedPorts.filter(isValidPort));
    this.#blocked = new Set(net.blockedPorts.filter(isValidPort));
  }

  /** Decides one port; see {@link decidePort}. */
  decide(port: number): Decision<PortDecisionReason> {
    if (!isValidPort(port)) return { allow: false, reason: 'port_not_allowed', rule: null };
    if (this.#blocked.has(port)) return { allow: false, reason: 'port_blocked', rule: String(port) };
    if (this.#allowed.has(port)) return { allow: true, reason: 'allowed', rule: String(port) };
    return { allow: false, reason: 'port_not_allowed', rule: null };
  }
}

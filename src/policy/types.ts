/**
 * Decision types of the policy engine. A denial is a value, not an exception; every decision
 * carries an enumerated `reason` and the `rule` that produced it (for the audit log).
 */

/*
 * The policy engine's inputs. The configuration model (config/types.ts) is built from these, so
 * the dependency runs one way: config -> policy, never policy -> config.
 */

/**
 * How a policy is applied. `enforce` refuses what the rules refuse. `report` lets through what an
 * allowlist would refuse (a tool outside `tools_allowed`; a host, port or no-network refusal of
 * egress) and records it with `enforced: false`, so an operator can learn an allowlist before
 * enforcing it. Explicit deny rules (`tools_denied`, `blocked_ports`), prohibited address classes
 * (cloud metadata, the gateway itself, private ranges outside `allowed_cidrs`) and every quota are
 * enforced in both modes.
 */
export type PolicyMode = 'enforce' | 'report';

/** Tool policy as written (patterns lower-cased; groups and wildcards are expanded by the policy engine). */
export interface ToolsPolicy {
  /** Allow patterns: tool names, `group:*` names, `*` wildcards. Empty = no tools. */
  readonly allowed: readonly string[];
  /** Deny patterns; deny wins over allow. */
  readonly denied: readonly string[];
  /** `report` = report-only rollout (see {@link PolicyMode}); absent = `enforce`. @default 'enforce' */
  readonly mode?: PolicyMode;
}

/** Network policy of one subagent; the same section `EgressGateway.register()` accepts. */
export interface NetworkPolicy {
  /** The subagent may only open outbound connections (it can never listen). Always true. */
  readonly egressOnly: boolean;
  /** Canonical (punycode, lower-case, no trailing dot) exact names and `*.suffix` rules. Empty = no network. */
  readonly allowedDomains: readonly string[];
  /** Ports always refused. @default [] */
  readonly blockedPorts: readonly number[];
  /** Ports allowed. @default [80, 443] */
  readonly allowedPorts: readonly number[];
  /** Canonical CIDRs that unlock otherwise-prohibited (private) addresses; never metadata. @default [] */
  readonly allowedCidrs: readonly string[];
  /** Log every allowed request too (denials and connection summaries are always logged). @default true */
  readonly logAllTraffic: boolean;
  /** Bytes in + out over all egress, per subagent. @default 10485760 */
  readonly maxEgressBytes: number;
  /** `report` = report-only rollout (see {@link PolicyMode}); absent = `enforce`. @default 'enforce' */
  readonly mode?: PolicyMode;
}

export interface Decision<R extends string = string> {
  readonly allow: boolean;
  readonly reason: R;
  /** The rule that decided (a pattern, CIDR, port, or a built-in range name), or null for defaults. */
  readonly rule: string | null;
  /**
   * Present (always `false`) only when report-only mode let through what enforcement would have
   * refused; `allow` is then true and `reason` says why it would have been refused.
   */
  readonly enforced?: false;
}

export type ToolDecisionReason = 'allowed' | 'denied_by_rule' | 'not_allowed';
export type ToolDecision = Decision<ToolDecisionReason>;

/** Classes an IP address can fall in. Only `public` is allowed without an exception. */
export type AddressClass =
  | 'public'
  | 'unspecified' // 0.0.0.0/8, ::
  | 'loopback' // 127/8, ::1
  | 'private' // 10/8, 172.16/12, 192.168/16, fc00::/7
  | 'shared' // 100.64/10 (CGNAT)
  | 'link_local' // 169.254/16, fe80::/10
  | 'site_local' // fec0::/10 (deprecated)
  | 'metadata' // cloud metadata endpoints: never allowed, not even by allowed_cidrs
  | 'multicast' // 224/4, ff00::/8
  | 'broadcast' // 255.255.255.255
  | 'reserved' // 240/4, 192.0.0/24, 100::/64 (discard), 2001::/23 (IETF protocol assignments)
  | 'documentation' // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32
  | 'benchmarking' // 198.18/15
  | 'relay' // 192.88.99/24 (6to4 anycast relay)
  | 'gateway'; // the egress gateway's own listen address(es)

export interface AddressClassification {
  /** Canonical text of the address as classified (embedded IPv4 is unwrapped). */
  readonly address: string;
  readonly family: 4 | 6;
  readonly class: AddressClass;
  /** Name of the range that matched, e.g. `10.0.0.0/8` or `nat64(64:ff9b::/96)->169.254.0.0/16`. */
  readonly range: string | null;
  /** For IPv6 with an embedded IPv4 (mapped, compatible, NAT64, 6to4, Teredo): that IPv4. */
  readonly embeddedIpv4: string | undefined;
}

export type EgressDecisionReason =
  | 'allowed'
  | 'scheme_not_allowed'
  | 'port_blocked'
  | 'port_not_allowed'
  | 'host_invalid'
  | 'host_not_allowed'
  | 'address_prohibited'
  | 'metadata_prohibited'
  | 'no_network';

/** A policy decision about an egress target or its resolved addresses. */
export type EgressDecision = Decision<EgressDecisionReason>;

/**
 * The complete egress decision for one agent, in the order the gateway must apply it:
 * network enabled → port → host allowlist (before any DNS, so a denied name never leaks through a
 * lookup) → after resolution, every address.
 */
import { GuardError } from '../errors.js';
import { AddressPolicy } from './addresses.js';
import { canonicalizeDomainPattern } from './domains.js';
import type { ParsedHost } from './domains.js';
import { HostAcl } from './hosts.js';
import { PortRules, isValidPort } from './ports.js';
import type { AddressClassification, EgressDecision, NetworkPolicy } from './types.js';

export type { EgressDecision } from './types.js';

/** What the gateway parsed from a request. `scheme` null means a CONNECT tunnel. */
export interface EgressTarget {
  readonly scheme: 'http' | 'https' | 'ws' | 'wss' | null;
  readonly host: ParsedHost;
  readonly port: number;
}

/** Result of {@link EgressPolicy.checkAddresses}: the first offending address when denied. */
export type AddressesDecision = EgressDecision & {
  readonly address?: string;
  readonly classification?: AddressClassification | null;
};

/**
 * Egress policy of one agent, built once per registration and consulted per request.
 *
 * @example
 * const policy = new EgressPolicy(agent.network, { gatewayAddresses: ['127.0.0.1'] });
 * const t = policy.checkTarget({ scheme: 'https', host: parseHost('api.example.com')!, port: 443 });
 * if (t.allow) { const a = policy.checkAddresses(await resolve('api.example.com')); }
 */
export class EgressPolicy {
  readonly #enabled: boolean;
  readonly #ports: PortRules;
  readonly #hosts: HostAcl;
  /** Exactly-listed IP literals, canonical (`203.0.113.7`, `[2001:db8::1]`). */
  readonly #ips = new Set<string>();
  readonly #addresses: AddressPolicy;
  /** Report-only: allowlist refusals (no network, port not allowed, host not allowed) are let through. */
  readonly reportOnly: boolean;

  /**
   * @param network the agent's normalised network section (canonical patterns and CIDRs).
   * @param opts.gatewayAddresses the gateway's own listen addresses: never dialled.
   * @throws GuardError `SG_POLICY_INVALID` when a pattern or CIDR is not valid.
   */
  constructor(network: NetworkPolicy, opts?: { gatewayAddresses?: readonly string[] }) {
    const names: string[] = [];
    for (const p of network.allowedDomains) {
      // Re-canonicalised rather than trusted: a non-canonical entry would silently never match
      // (fail closed but confusing) or, worse, match something other than what the config showed.
      const r = canonicalizeDomainPattern(p);
      if (!r.ok) throw new GuardError('SG_POLICY_INVALID', `egress policy: allowed domain ${r.message}`);
      if (r.value.startsWith('[') || /^[0-9.]+$/.test(r.value)) this.#ips.add(r.value);
      else names.push(r.value);
    }
    this.#enabled = network.allowedDomains.length > 0;
    this.reportOnly = network.mode === 'report';
    this.#hosts = new HostAcl(names);
    this.#ports = new PortRules(network);
    this.#addresses = new AddressPolicy({
      allowedCidrs: network.allowedCidrs,
      ...(opts?.gatewayAddresses === undefined ? {} : { gatewayAddresses: opts.gatewayAddresses }),
    });
  }

  /**
   * Decides a target before any DNS lookup. A domain target that passes must still have every
   * resolved address checked with {@link checkAddresses}; an IP literal target is fully decided here
   * (allowed only when listed exactly in `allowed_domains` AND its address passes the address check).
   *
   * In report-only mode the allowlist refusals (`no_network`, `port_not_allowed`,
   * `host_not_allowed`) come back allowed with `enforced: false` and the first such reason; a
   * blocked port, an invalid port and a prohibited IP literal are refused as in enforce mode, and
   * resolved addresses are still checked by {@link checkAddresses}, which report mode never relaxes.
   */
  checkTarget(t: EgressTarget): EgressDecision {
    const d = this.#enforcedTarget(t);
    if (d.allow || !this.reportOnly) return d;
    return this.#reported(t, d);
  }

  #enforcedTarget(t: EgressTarget): EgressDecision {
    if (!this.#enabled) return { allow: false, reason: 'no_network', rule: null };
    const port = this.#ports.decide(t.port);
    if (!port.allow) return port;
    const host = t.host;
    switch (host.kind) {
      case 'domain': {
        const rule = this.#hosts.match(host.name);
        return rule === null
          ? { allow: false, reason: 'host_not_allowed', rule: null }
          : { allow: true, reason: 'allowed', rule };
      }
      case 'ipv4':
      case 'ipv6': {
        const literal = host.kind === 'ipv4' ? host.address : `[${host.address}]`;
        if (!this.#ips.has(literal)) return { allow: false, reason: 'host_not_allowed', rule: null };
        const a = this.#addresses.check(host.address);
        if (!a.allow) return { allow: false, reason: a.reason, rule: a.rule };
        return { allow: true, reason: 'allowed', rule: literal };
      }
    }
  }

  /** The report-only verdict on a target the allowlist refuses. */
  #reported(t: EgressTarget, enforced: EgressDecision): EgressDecision {
    // The first allowlist refusal in enforcement order is what the record reports.
    let would: EgressDecision | undefined = this.#enabled
      ? undefined
      : { allow: false, reason: 'no_network', rule: null };
    const port = this.#ports.decide(t.port);
    // An explicit block and a port that is no port at all stay refused.
    if (port.reason === 'port_blocked' || (!port.allow && !isValidPort(t.port))) return port;
    if (!port.allow) would ??= port;
    const host = t.host;
    if (host.kind === 'domain') {
      if (this.#hosts.match(host.name) === null)
        would ??= { allow: false, reason: 'host_not_allowed', rule: null };
    } else {
      const literal = host.kind === 'ipv4' ? host.address : `[${host.address}]`;
      // Address classes are never relaxed: metadata, the gateway and private ranges stay refused.
      const a = this.#addresses.check(host.address);
      if (!a.allow) return { allow: false, reason: a.reason, rule: a.rule };
      if (!this.#ips.has(literal)) would ??= { allow: false, reason: 'host_not_allowed', rule: null };
    }
    if (would === undefined) return enforced;
    return { allow: true, reason: would.reason, rule: would.rule, enforced: false };
  }

  /**
   * Decides the resolved addresses of an allowed name: denied if ANY is prohibited (the client
   * or a second lookup could pick any of them), allowed only if all pass. An empty list is denied.
   * The gateway must then dial one of exactly these addresses.
   */
  checkAddresses(addresses: readonly string[]): AddressesDecision {
    if (addresses.length === 0) return { allow: false, reason: 'address_prohibited', rule: null };
    let first: AddressesDecision | undefined;
    for (const address of addresses) {
      const d = this.#addresses.check(address);
      if (!d.allow)
        return { allow: false, reason: d.reason, rule: d.rule, address, classification: d.classification };
      first ??= { allow: true, reason: 'allowed', rule: d.rule, address, classification: d.classification };
    }
    return first ?? { allow: false, reason: 'address_prohibited', rule: null };
  }

  /** Checks one address alone (e.g. the address actually dialled). */
  checkAddress(address: string): AddressesDecision {
    return this.checkAddresses([address]);
  }
}

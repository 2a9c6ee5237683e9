/**
 * Address classification and the per-agent address policy: the check that runs on every resolved
 * address before the gateway dials it. Names were already allowed by the host ACL; this layer is
 * what stops an allowed name that resolves (or is re-bound) to 127.0.0.1, 10.x or 169.254.169.254.
 */
import { GuardError } from '../errors.js';
import { canonicalizeCidr } from './domains.js';
import { formatIpv4, formatIpv6, low32, parseIpv4Strict, parseIpv6 } from './ip.js';
import {
  V4_METADATA,
  V4_RANGES,
  V6_METADATA,
  V6_METADATA_RANGES,
  V6_RANGES,
  v6Match,
} from './address-ranges.js';
import type { AddressClass, AddressClassification, Decision } from './types.js';

/** Result of {@link AddressPolicy.check}. */
export type AddressDecision = Decision<'allowed' | 'address_prohibited' | 'metadata_prohibited'> & {
  readonly classification: AddressClassification | null;
};

interface V4Class {
  readonly cls: AddressClass;
  readonly range: string | null;
}

const PUBLIC_V4: V4Class = Object.freeze({ cls: 'public', range: null });

function classifyV4(n: number): V4Class {
  const meta = V4_METADATA.get(n);
  if (meta !== undefined) return { cls: 'metadata', range: meta };
  for (const r of V4_RANGES) if ((n & r.mask) >>> 0 === r.net) return { cls: r.cls, range: r.name };
  return PUBLIC_V4;
}

/** Metadata first, then any other prohibited class, then public: the stricter reading wins. */
function severity(c: AddressClass): number {
  return c === 'metadata' ? 2 : c === 'public' ? 0 : 1;
}

function v4Result(address: string, n: number): AddressClassification {
  const c = classifyV4(n);
  return { address, family: 4, class: c.cls, range: c.range, embeddedIpv4: undefined };
}

function embedded(address: string, label: string, n: number): AddressClassification {
  const c = classifyV4(n);
  return {
    address,
    family: 6,
    class: c.cls,
    range: c.range === null ? label : `${label}->${c.range}`,
    embeddedIpv4: formatIpv4(n),
  };
}

function classifyV6(p: readonly number[]): AddressClassification {
  const address = formatIpv6(p);
  const [p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0] = p;
  const meta = V6_METADATA.get(address);
  if (meta !== undefined)
    return { address, family: 6, class: 'metadata', range: meta, embeddedIpv4: undefined };
  for (const r of V6_METADATA_RANGES) {
    if (v6Match(p, r.parts, r.prefix)) {
      return { address, family: 6, class: 'metadata', range: r.name, embeddedIpv4: undefined };
    }
  }
  if ((p0 | p1 | p2 | p3) === 0) {
    if ((p4 | p5) === 0) {
      if (p6 === 0 && p7 === 0)
        return { address, family: 6, class: 'unspecified', range: '::/128', embeddedIpv4: undefined };
      if (p6 === 0 && p7 === 1)
        return { address, family: 6, class: 'loopback', range: '::1/128', embeddedIpv4: undefined };
      // Deprecated IPv4-compatible addresses: some stacks still route them as the IPv4.
      return embedded(address, 'compatible(::/96)', low32(p));
    }
    if (p4 === 0 && p5 === 0xffff) return embedded(address, 'mapped(::ffff:0:0/96)', low32(p));
    if (p4 === 0xffff && p5 === 0) return embedded(address, 'translated(::ffff:0:0:0/96)', low32(p));
  }
  if (p0 === 0x64 && p1 === 0xff9b) {
    if ((p2 | p3 | p4 | p5) === 0) return embedded(address, 'nat64(64:ff9b::/96)', low32(p));
    if (p2 === 1) {
      // RFC 8215 local-use NAT64 may embed with any RFC 6052 prefix length; /96 is the usual one,
      // /48 the one the prefix itself implies. Both readings are checked and the stricter one wins,
      // so an operator's choice cannot turn an internal target into a "public" one.
      const as96 = embedded(address, 'nat64(64:ff9b:1::/48)', low32(p));
      if ((p3 | p4 | p5) === 0) return as96;
      const as48 = embedded(
        address,
        'nat64(64:ff9b:1::/48)',
        ((p3 << 16) | ((p4 & 0xff) << 8) | (p5 >>> 8)) >>> 0,
      );
      return severity(as96.class) > severity(as48.class) ? as96 : as48;
    }
    return { address, family: 6, class: 'reserved', range: '64:ff9b::/32', embeddedIpv4: undefined };
  }
  if (p0 === 0x2002) return embedded(address, '6to4(2002::/16)', ((p1 << 16) | p2) >>> 0);
  if (p0 === 0x2001 && p1 === 0) {
    // Teredo: the client's IPv4 is the bit-inverted last 32 bits. Teredo lies inside 2001::/23, so a
    // Teredo address never counts as public even when the client IPv4 is.
    const t = embedded(address, 'teredo(2001::/32)', ~low32(p) >>> 0);
    return t.class === 'public' ? { ...t, class: 'reserved', range: 'teredo(2001::/32)' } : t;
  }
  for (const r of V6_RANGES) {
    if (v6Match(p, r.parts, r.prefix)) {
      return { address, family: 6, class: r.cls, range: r.name, embeddedIpv4: undefined };
    }
  }
  if ((p0 & 0xe000) !== 0x2000) {
    return {
      address,
      family: 6,
      class: 'reserved',
      range: 'not-global-unicast(outside 2000::/3)',
      embeddedIpv4: undefined,
    };
  }
  return { address, family: 6, class: 'public', range: null, embeddedIpv4: undefined };
}

/**
 * Classifies one IP address.
 *
 * Accepts canonical dotted-quad IPv4 and any IPv6 text (brackets optional; zone ids refused).
 * Loose IPv4 forms (`127.1`, `0177.0.0.1`) are NOT IP literals here — run request hosts through
 * `parseHost` first — so they classify as null, which every policy treats as prohibited.
 * For IPv6 that embeds an IPv4 (mapped, compatible, translated, NAT64, 6to4, Teredo) the class is
 * that of the IPv4, `embeddedIpv4` holds it, and `address` stays the canonical IPv6 text (the
 * address that will be dialled).
 *
 * @returns the classification, or null when `address` is not an IP literal.
 * @example classifyAddress('64:ff9b::a9fe:a9fe')?.class // 'metadata'
 */
export function classifyAddress(address: string): AddressClassification | null {
  if (typeof address !== 'string') return null;
  const n = parseIpv4Strict(address);
  if (n >= 0) return v4Result(address, n);
  const parts = parseIpv6(address);
  return parts === null ? null : classifyV6(parts);
}

interface V4Cidr {
  readonly net: number;
  readonly mask: number;
  readonly rule: string;
}
interface V6Cidr {
  readonly parts: readonly number[];
  readonly prefix: number;
  readonly rule: string;
}

/**
 * Decides whether a resolved address may be dialled for one agent.
 *
 * `public` is allowed. `metadata` and `gateway` (the gateway's own listen addresses, also when
 * embedded in IPv6) are never allowed. `unspecified` is never allowed either: dialling 0.0.0.0 or
 * :: reaches the local host on Linux, so unlocking it would be a loopback bypass. Every other class
 * is allowed only inside one of `allowedCidrs` (IPv4 CIDRs are also checked against an embedded IPv4).
 *
 * If a gateway address is unspecified (listening on 0.0.0.0 or ::), every loopback address counts as
 * the gateway, since that is how local clients reach such a listener.
 */
export class AddressPolicy {
  readonly #v4: readonly V4Cidr[];
  readonly #v6: readonly V6Cidr[];
  readonly #gatewayV4 = new Set<number>();
  readonly #gatewayV6 = new Set<string>();
  readonly #gatewayLoopback: boolean = false;

  /** @throws GuardError `SG_POLICY_INVALID` for an invalid CIDR or gateway address. */
  constructor(opts: { allowedCidrs: readonly string[]; gatewayAddresses?: readonly string[] }) {
    const v4: V4Cidr[] = [];
    const v6: V6Cidr[] = [];
    for (const text of opts.allowedCidrs) {
      const r = canonicalizeCidr(text);
      if (!r.ok) throw new GuardError('SG_POLICY_INVALID', `address policy: allowed CIDR ${r.message}`);
      const [addr = '', len = ''] = r.value.split('/');
      const prefix = Number(len);
      const n = parseIpv4Strict(addr);
      if (n >= 0) {
        v4.push({ net: n, mask: prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0, rule: r.value });
      } else {
        v6.push({ parts: parseIpv6(addr) ?? [], prefix, rule: r.value });
      }
    }
    this.#v4 = v4;
    this.#v6 = v6;
    for (const g of opts.gatewayAddresses ?? []) {
      const c = classifyAddress(g);
      if (c === null) {
        throw new GuardError(
          'SG_POLICY_INVALID',
          `address policy: gateway address ${JSON.stringify(g)} is not an IP address`,
        );
      }
      if (c.class === 'unspecified') this.#gatewayLoopback = true;
      const n = parseIpv4Strict(c.embeddedIpv4 ?? c.address);
      if (n >= 0) this.#gatewayV4.add(n);
      else this.#gatewayV6.add(c.address);
    }
  }

  /** Decides one address (as returned by the resolver, or the canonical text of an IP literal). */
  check(address: string): AddressDecision {
    const c = classifyAddress(address);
    if (c === null) return { allow: false, reason: 'address_prohibited', rule: null, classification: null };
    const v4 = parseIpv4Strict(c.embeddedIpv4 ?? c.address);
    if (
      (v4 >= 0 && this.#gatewayV4.has(v4)) ||
      this.#gatewayV6.has(c.address) ||
      (this.#gatewayLoopback && c.class === 'loopback')
    ) {
      return {
        allow: false,
        reason: 'address_prohibited',
        rule: 'gateway',
        classification: { ...c, class: 'gateway', range: 'gateway' },
      };
    }
    switch (c.class) {
      case 'public':
        return { allow: true, reason: 'allowed', rule: null, classification: c };
      case 'metadata':
        return { allow: false, reason: 'metadata_prohibited', rule: c.range, classification: c };
      case 'gateway':
      case 'unspecified':
        return { allow: false, reason: 'address_prohibited', rule: c.range, classification: c };
      case 'loopback':
      case 'private':
      case 'shared':
      case 'link_local':
      case 'site_local':
      case 'multicast':
      case 'broadcast':
      case 'reserved':
      case 'documentation':
      case 'benchmarking':
      case 'relay': {
        const rule = this.#exception(c, v4);
        if (rule !== null) return { allow: true, reason: 'allowed', rule, classification: c };
        return { allow: false, reason: 'address_prohibited', rule: c.range, classification: c };
      }
    }
  }

  #exception(c: AddressClassification, v4: number): string | null {
    if (v4 >= 0) for (const r of this.#v4) if ((v4 & r.mask) >>> 0 === r.net) return r.rule;
    if (c.family === 6 && this.#v6.length > 0) {
      const parts = parseIpv6(c.address);
      if (parts !== null) for (const r of this.#v6) if (v6Match(parts, r.parts, r.prefix)) return r.rule;
    }
    return null;
  }
}

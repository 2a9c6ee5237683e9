/**
 * Immutable range tables for address classification (internal; precomputed once at load).
 * Sources: RFC 6890 special-purpose registries (IANA IPv4/IPv6 Special-Purpose Address
 * Registries), RFC 6052/8215 (NAT64), RFC 3056 (6to4), RFC 4380 (Teredo), RFC 9637 (3fff::/20),
 * and the cloud providers' documented metadata endpoints.
 */
import { InternalError } from '../errors.js';
import type { AddressClass } from './types.js';
import { parseIpv4Strict } from './ip.js';

/** One IPv4 range as integers, with the class it confers and its printable name. */
export interface V4Range {
  readonly net: number;
  readonly mask: number;
  readonly cls: AddressClass;
  readonly name: string;
}

/** One IPv6 range as eight 16-bit groups plus a prefix length. */
export interface V6Range {
  readonly parts: readonly number[];
  readonly prefix: number;
  readonly cls: AddressClass;
  readonly name: string;
}

function v4(cidr: string, cls: AddressClass): V4Range {
  const [addr = '', len = '32'] = cidr.split('/');
  const prefix = Number(len);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = parseIpv4Strict(addr);
  if (net < 0 || (net & mask) >>> 0 !== net) throw new InternalError(`bad built-in range ${cidr}`);
  return Object.freeze({ net, mask, cls, name: cidr });
}

/**
 * Non-public IPv4 ranges, most specific first (the first match wins). Broadcast sits inside 240/4,
 * so it comes before it.
 */
export const V4_RANGES: readonly V4Range[] = Object.freeze([
  v4('0.0.0.0/8', 'unspecified'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'shared'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link_local'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'reserved'),
  v4('192.0.2.0/24', 'documentation'),
  v4('192.88.99.0/24', 'relay'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('224.0.0.0/4', 'multicast'),
  v4('255.255.255.255/32', 'broadcast'),
  v4('240.0.0.0/4', 'reserved'),
]);

/**
 * Cloud metadata endpoints (IPv4). Credentials live behind these; they are never reachable, not
 * even through `allowed_cidrs`.
 */
export const V4_METADATA: ReadonlyMap<number, string> = new Map(
  [
    '169.254.169.254', // AWS, GCP, Azure IMDS, OpenStack, DigitalOcean, Oracle, Hetzner, Linode, Vultr, ...
    '169.254.170.2', // AWS ECS task metadata and credentials
    '169.254.170.23', // AWS EKS Pod Identity agent
    '169.254.169.253', // AWS VPC DNS resolver (link-local endpoint)
    '169.254.169.123', // AWS time sync service
    '169.254.0.23', // Tencent Cloud metadata
    '169.254.42.42', // Scaleway metadata
    '100.100.100.200', // Alibaba Cloud metadata
    '168.63.129.16', // Azure WireServer / host agent (in public space!)
    '192.0.0.192', // Oracle Cloud legacy metadata
  ].map((a): [number, string] => [parseIpv4Strict(a), `metadata(${a})`]),
);

/** Cloud metadata endpoints (IPv6), canonical RFC 5952 text. */
export const V6_METADATA: ReadonlyMap<string, string> = new Map(
  [
    'fd00:ec2::254', // AWS IMDS over IPv6
    'fd00:ec2::23', // AWS EKS Pod Identity agent over IPv6
    'fd20:ce::254', // GCP metadata server over IPv6
    'fe80::a9fe:a9fe', // OpenStack metadata over IPv6
  ].map((a): [string, string] => [a, `metadata(${a})`]),
);

function v6(prefixText: string, prefix: number, cls: AddressClass): V6Range {
  const groups = prefixText
    .split(':')
    .filter((g) => g.length > 0)
    .map((g) => parseInt(g, 16));
  const parts = [...groups, ...new Array<number>(8 - groups.length).fill(0)];
  return Object.freeze({ parts: Object.freeze(parts), prefix, cls, name: `${prefixText}/${prefix}` });
}

/** AWS reserves the whole fd00:ec2::/32 for its link-local-like services. */
export const V6_METADATA_RANGES: readonly V6Range[] = Object.freeze([v6('fd00:ec2::', 32, 'metadata')]);

/**
 * Non-public IPv6 ranges checked after the special cases (::, ::1, IPv4-embedding prefixes), most
 * specific first. Anything outside 2000::/3 that matches nothing here is also `reserved`:
 * nothing else is allocated for global unicast, so no legitimate destination lives there.
 */
export const V6_RANGES: readonly V6Range[] = Object.freeze([
  v6('100::', 64, 'reserved'),
  v6('2001:2::', 48, 'benchmarking'),
  v6('2001:db8::', 32, 'documentation'),
  v6('2001::', 23, 'reserved'),
  v6('3fff::', 20, 'documentation'),
  v6('fc00::', 7, 'private'),
  v6('fe80::', 10, 'link_local'),
  v6('fec0::', 10, 'site_local'),
  v6('ff00::', 8, 'multicast'),
]);

/** True when the first `prefix` bits of `parts` equal those of `range`. */
export function v6Match(parts: readonly number[], rangeParts: readonly number[], prefix: number): boolean {
  let bits = prefix;
  for (let i = 0; i < 8 && bits > 0; i++) {
    const take = bits >= 16 ? 16 : bits;
    const mask = (0xffff << (16 - take)) & 0xffff;
    if (((parts[i] ?? 0) & mask) !== ((rangeParts[i] ?? 0) & mask)) return false;
    bits -= take;
  }
  return true;
}

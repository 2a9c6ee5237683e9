/**
 * The SSRF corpus set-up: case types, the corpus resolver, the registrations, trap and origin
 * addresses, and request builders. The cases themselves are in ssrf-cases.ts.
 *
 * Placeholders in raw requests: `{A}` = a `Proxy-Authorization` line with the case's credential,
 * `{CL}` = the byte length of everything after the first blank line (for smuggling bodies).
 *
 * Addresses: the allowed origin is 127.0.0.2:80 (and 10.20.0.5:80, reached through an
 * `allowed_cidrs` exception). Traps listen on 127.0.0.9, [::1], 127.0.0.1:80 (the gateway's own
 * address) and on every metadata / private address the namespace's loopback carries
 * ({@link TRAP_ADDRESSES}); none of them may ever see a connection.
 */

/** Why a case exists. */
export type Category =
  | 'ipv4-encoding'
  | 'ipv6'
  | 'ipv4-in-ipv6'
  | 'metadata'
  | 'dns'
  | 'redirect'
  | 'userinfo'
  | 'smuggling'
  | 'forms'
  | 'ports'
  | 'idn'
  | 'malformed'
  | 'auth'
  | 'allowed';

/** The registrations of the corpus gateway (see {@link SUBAGENTS}). */
export type Subagent = 'std' | 'narrow' | 'lit' | 'cidr' | 'none' | 'revoked';

/** How a case is sent. */
export type Send =
  | { readonly kind: 'raw'; readonly data: string; readonly responses?: number }
  | {
      readonly kind: 'fetch';
      readonly url: string;
      /** true: undici tunnels through CONNECT; false: absolute-form requests. */
      readonly tunnel: boolean;
      readonly redirect?: 'manual' | 'follow';
    };

/** What the gateway must do. */
export interface Expect {
  /** Status the client gets (for a refused undici tunnel, the status the gateway answered). */
  readonly status: number;
  /** The decision reason (Proxy-Status details and audit `reason`); `allowed` for allowed. */
  readonly reason: string;
  /** egress.decision records the case produces. @default 1 */
  readonly decisions?: number;
  /** Resolver calls the case causes; checked when given. */
  readonly lookups?: number;
  /** Header names (lower case) the origin must not receive. */
  readonly originMustNotSee?: readonly string[];
}

/** One corpus case. */
export interface SsrfCase {
  readonly id: string;
  readonly category: Category;
  readonly name: string;
  readonly as: Subagent;
  readonly send: Send;
  readonly expect: Expect;
}

/** Prohibited addresses that get a trap listener on ports 80 and 443 inside the namespace. */
export const TRAP_ADDRESSES: readonly string[] = [
  '127.0.0.9',
  '::1',
  '169.254.169.254',
  '169.254.170.2',
  '169.254.170.23',
  '169.254.169.123',
  '169.254.169.253',
  '169.254.0.23',
  '169.254.42.42',
  '100.100.100.200',
  '168.63.129.16',
  '192.0.0.192',
  '10.0.0.1',
  '10.96.0.1',
  '192.168.0.1',
  '172.16.0.1',
  '100.64.0.1',
  'fd00:ec2::254',
  'fd20:ce::254',
  'fd12::1',
];

/** Extra ports the loopback trap 127.0.0.9 listens on. */
export const TRAP_EXTRA_PORTS: readonly number[] = [22, 8080];

/** Allowed origins (HTTP + WebSocket) inside the namespace, port 80. */
export const ORIGIN_ADDRESSES: readonly string[] = ['127.0.0.2', '10.20.0.5'];

/** A DNS answer in the corpus resolver: addresses, a failure, a hang, or a rebinding sequence. */
export type DnsEntry =
  readonly string[] | 'fail' | 'hang' | { readonly rebind: readonly (readonly string[])[] };

const ORIGIN = '127.0.0.2';

/**
 * The corpus resolver. Unknown names reject (dns_error): nothing ever reaches the system
 * resolver, and a name the policy should have refused before DNS shows up in `lookups`.
 */
export const DNS_TABLE: Readonly<Record<string, DnsEntry>> = {
  'api.allowed.test': [ORIGIN],
  'www.wild.allowed.test': [ORIGIN],
  'xn--bcher-kva.allowed.test': [ORIGIN],
  'cidr-origin.allowed.test': ['10.20.0.5'],
  'mapped-origin.allowed.test': [`::ffff:${ORIGIN}`],
  'trap.allowed.test': ['127.0.0.9'],
  'trap6.allowed.test': ['::1'],
  'gw.allowed.test': ['127.0.0.1'],
  localhost: ['127.0.0.1', '::1'],
  'internal.allowed.test': ['10.0.0.1'],
  'k8s.allowed.test': ['10.96.0.1'],
  'cgnat.allowed.test': ['100.64.0.1'],
  'home.allowed.test': ['192.168.0.1'],
  'docker.allowed.test': ['172.16.0.1'],
  'ula.allowed.test': ['fd12::1'],
  'zero.allowed.test': ['0.0.0.0'],
  // Metadata names of the major clouds, resolved the way the clouds resolve them.
  'metadata.google.internal': ['169.254.169.254'],
  metadata: ['169.254.169.254'],
  'instance-data.ec2.internal': ['169.254.169.254'],
  'metadata.tencentyun.com': ['169.254.0.23'],
  'api.metadata.cloud.ibm.com': ['169.254.169.254'],
  'metadata.platformequinix.com': ['169.254.169.254'],
  'alibaba-meta.allowed.test': ['100.100.100.200'],
  'azure-wire.allowed.test': ['168.63.129.16'],
  'oracle-meta.allowed.test': ['192.0.0.192'],
  'ecs-meta.allowed.test': ['169.254.170.2'],
  'eks-meta.allowed.test': ['169.254.170.23'],
  'imds6.allowed.test': ['fd00:ec2::254'],
  'gcp6.allowed.test': ['fd20:ce::254'],
  'openstack6.allowed.test': ['fe80::a9fe:a9fe'],
  'scaleway-meta.allowed.test': ['169.254.42.42'],
  // IPv4 embedded in IPv6 answers.
  'mapped.allowed.test': ['::ffff:127.0.0.9'],
  'mapped-meta.allowed.test': ['::ffff:169.254.169.254'],
  'nat64-meta.allowed.test': ['64:ff9b::a9fe:a9fe'],
  'sixtofour.allowed.test': ['2002:7f00:9::1'],
  'teredo-meta.allowed.test': ['2001:0:4136:e378:8000:63bf:5601:5601'],
  // Mixed answers: one bad address poisons the whole answer.
  'mixed-trap.allowed.test': [ORIGIN, '127.0.0.9'],
  'mixed-trap-first.allowed.test': ['127.0.0.9', ORIGIN],
  'mixed-meta.allowed.test': [ORIGIN, '169.254.169.254'],
  'mixed-v6.allowed.test': [ORIGIN, '::1'],
  'mixed-mapped.allowed.test': [ORIGIN, '::ffff:127.0.0.9'],
  'mixed-private.allowed.test': [ORIGIN, '10.0.0.1'],
  'mixed-public.allowed.test': ['93.184.215.14', '127.0.0.9'],
  'mixed-gw.allowed.test': [ORIGIN, '127.0.0.1'],
  'mixed-zero.allowed.test': [ORIGIN, '0.0.0.0'],
  // Malformed and failing answers.
  'zone.allowed.test': ['fe80::1%lo'],
  'empty.allowed.test': [],
  'many.allowed.test': Array.from({ length: 65 }, () => ORIGIN),
  'notip.allowed.test': ['evil.test'],
  'fail.allowed.test': 'fail',
  'hang.allowed.test': 'hang',
  // DNS rebinding: an allowed answer first, the trap on every later lookup.
  'rebind.allowed.test': { rebind: [[ORIGIN], ['127.0.0.9']] },
  'rebind-meta.allowed.test': { rebind: [[ORIGIN], ['169.254.169.254']] },
};

/** Canonical IP literals the `lit` and `cidr` subagents list in allowed_domains. */
export const LITERALS: readonly string[] = [
  '127.0.0.2',
  '127.0.0.9',
  '127.0.0.1',
  '0.0.0.0',
  '10.0.0.1',
  '192.168.0.1',
  '172.16.0.1',
  '100.64.0.1',
  '169.254.169.254',
  '169.254.170.2',
  '169.254.170.23',
  '169.254.169.123',
  '169.254.169.253',
  '169.254.0.23',
  '169.254.42.42',
  '100.100.100.200',
  '168.63.129.16',
  '192.0.0.192',
  '[::1]',
  '[::]',
  '[fe80::1]',
  '[fc00::1]',
  '[fd12::1]',
  '[ff02::1]',
  '[2001:db8::1]',
  '[100::1]',
  '[fec0::1]',
  '[fd00:ec2::254]',
  '[fd00:ec2::1]',
  '[fd20:ce::254]',
  '[fe80::a9fe:a9fe]',
  '[::ffff:7f00:9]',
  '[::ffff:a9fe:a9fe]',
  '[::7f00:9]',
  '[::a9fe:a9fe]',
  '[::ffff:0:7f00:9]',
  '[64:ff9b::7f00:9]',
  '[64:ff9b::a9fe:a9fe]',
  '[64:ff9b:1::a9fe:a9fe]',
  '[64:ff9b:1:7f00:0:900::]',
  '[2002:7f00:9::]',
  '[2002:a9fe:a9fe::1]',
  '[2001:0:4136:e378:8000:63bf:80ff:fff6]',
  '[2001:0:4136:e378:8000:63bf:5601:5601]',
  '[2001:0:4136:e378:8000:63bf:3fff:fdd2]',
];

/** The network sections of the corpus registrations (snake_case, as in openclaw.json). */
export const SUBAGENTS: Readonly<Record<Subagent, Readonly<Record<string, unknown>>>> = {
  std: {
    allowed_domains: [
      '*.allowed.test',
      'localhost',
      'metadata.google.internal',
      'metadata',
      'instance-data.ec2.internal',
      'metadata.tencentyun.com',
      'api.metadata.cloud.ibm.com',
      'metadata.platformequinix.com',
    ],
    allowed_ports: [80, 443, 8080],
    blocked_ports: [22, 25, 3389, 5432, 6379],
    allowed_cidrs: ['127.0.0.2/32', '10.20.0.0/16'],
  },
  narrow: { allowed_domains: ['api.allowed.test'], allowed_ports: [80], allowed_cidrs: ['127.0.0.2/32'] },
  lit: { allowed_domains: [...LITERALS], allowed_ports: [80, 443, 8080], allowed_cidrs: ['127.0.0.2/32'] },
  // Private ranges unlocked wholesale: metadata must stay unreachable regardless.
  cidr: {
    allowed_domains: [...LITERALS.filter((l) => !l.startsWith('127.')), '*.allowed.test'],
    allowed_ports: [80, 443],
    allowed_cidrs: [
      '169.254.0.0/16',
      '100.64.0.0/10',
      '168.63.129.0/24',
      '192.0.0.0/24',
      'fd00::/8',
      'fe80::/10',
    ],
  },
  none: { allowed_domains: [] },
  revoked: { allowed_domains: ['api.allowed.test'], allowed_ports: [80], allowed_cidrs: ['127.0.0.2/32'] },
};

const WS_HEADERS =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

/** `GET <target>` in absolute form. */
export function get(target: string, extra = ''): Send {
  return { kind: 'raw', data: `GET ${target} HTTP/1.1\r\n${extra}{A}\r\n` };
}
/** `CONNECT <authority>`. */
export function connect(authority: string, extra = ''): Send {
  return { kind: 'raw', data: `CONNECT ${authority} HTTP/1.1\r\n${extra}{A}\r\n` };
}
/** A WebSocket upgrade in absolute form. */
export function ws(target: string): Send {
  return { kind: 'raw', data: `GET ${target} HTTP/1.1\r\n${WS_HEADERS}{A}\r\n` };
}
/** Arbitrary raw bytes. */
export function raw(data: string, responses?: number): Send {
  return responses === undefined ? { kind: 'raw', data } : { kind: 'raw', data, responses };
}
/** undici fetch through a ProxyAgent. */
export function fetchVia(url: string, tunnel: boolean, redirect: 'manual' | 'follow' = 'manual'): Send {
  return { kind: 'fetch', url, tunnel, redirect };
}

/** An allowed answer. */
export const ok = (status = 200, more: Partial<Expect> = {}): Expect => ({
  status,
  reason: 'allowed',
  ...more,
});
/** A refusal. */
export const deny = (status: number, reason: string, more: Partial<Expect> = {}): Expect => ({
  status,
  reason,
  ...more,
});

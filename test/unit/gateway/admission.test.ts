/**
 * The admission pipeline (GatewayCore.admit) on plain requests, without sockets: each check
 * between a request and a dial has a row that fails when the check is removed or loosened.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough } from 'node:stream';
import { parseNetworkSection } from '../../../src/config/network.js';
import { GatewayAudit } from '../../../src/gateway/audit.js';
import { CredentialStore } from '../../../src/gateway/auth.js';
import {
  GatewayCore,
  isRefusal,
  type AdmitRequest,
  type Admission,
  type ListenerScope,
  type Refusal,
  type RequestKind,
} from '../../../src/gateway/admission.js';
import { Slots } from '../../../src/gateway/limits.js';
import { Registration } from '../../../src/gateway/registration.js';
import type { EgressDecision, RegisterOptions, Resolver } from '../../../src/gateway/types.js';
import { EgressPolicy } from '../../../src/policy/index.js';
import { basic, collectingLogger } from '../../helpers/gateway.js';

const PUBLIC = '93.184.215.14';

/** DNS as the rows need it: each name has fixed answers; every question is recorded. */
const ANSWERS: Readonly<Record<string, readonly string[]>> = {
  'api.allowed.test': ['127.0.0.2'],
  'public.allowed.test': [PUBLIC],
  'meta.allowed.test': [PUBLIC, '169.254.169.254'],
  'private.allowed.test': [PUBLIC, '10.0.0.1'],
};

interface Harness {
  core: GatewayCore;
  reg: Registration;
  store: CredentialStore<Registration>;
  auth: string;
  asked: string[];
  denied: EgressDecision[];
  limits: string[];
  decisions(): Record<string, unknown>[];
}

function harness(
  opts: {
    limits?: RegisterOptions['limits'];
    maxTunnelsPerSubagent?: number;
    maxEgressBytes?: number;
    resolver?: Resolver;
  } = {},
): Harness {
  const log = collectingLogger();
  const asked: string[] = [];
  const resolver: Resolver =
    opts.resolver ??
    ((name) => {
      asked.push(name);
      const a = ANSWERS[name];
      if (a === undefined)
        return Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }));
      return Promise.resolve(a.map((address) => ({ address, family: 4 as const })));
    });
  const store = new CredentialStore<Registration>();
  const core = new GatewayCore(
    {
      resolver,
      dnsTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      idleTimeoutMs: 5000,
      maxTunnelsPerSubagent: opts.maxTunnelsPerSubagent ?? 8,
      exchangeTimeoutMs: 5000,
    },
    store,
    new GatewayAudit(log.logger),
    new Slots(64),
  );
  const network = parseNetworkSection(
    {
      allowed_domains: Object.keys(ANSWERS),
      allowed_cidrs: ['127.0.0.2/32'],
      allowed_ports: [80, 443],
    },
    { path: '/network' },
  );
  const denied: EgressDecision[] = [];
  const limits: string[] = [];
  const reg = new Registration({
    opts: {
      id: 'sub-a',
      network: {},
      ...(opts.limits === undefined ? {} : { limits: opts.limits }),
      onDeny: (d) => denied.push(d),
      onLimit: (kind) => limits.push(kind),
    },
    policy: new EgressPolicy(network),
    logAllTraffic: true,
    upstream: undefined,
    maxEgressBytes: opts.maxEgressBytes,
    ratePerSecond: 1000,
    logger: log.logger,
  });
  const password = store.mint('sub-a', reg);
  return {
    core,
    reg,
    store,
    auth: basic('sub-a', password),
    asked,
    denied,
    limits,
    decisions: () => log.records().filter((r) => r['event'] === 'egress.decision'),
  };
}

/** A request as node:http would hand it over: duplicate Host/Proxy-Authorization values kept only in rawHeaders. */
function request(kind: RequestKind, url: string, raw: readonly (readonly [string, string])[]): AdmitRequest {
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of raw) {
    const n = k.toLowerCase();
    const prev = headers[n];
    if (prev === undefined) headers[n] = v;
    else if (n !== 'host' && n !== 'proxy-authorization') headers[n] = `${String(prev)}, ${v}`;
  }
  return {
    method: kind === 'connect' ? 'CONNECT' : 'GET',
    url,
    httpVersion: '1.1',
    headers,
    rawHeaders: raw.flatMap(([k, v]) => [k, v]),
  };
}

function admit(
  h: Harness,
  kind: RequestKind,
  url: string,
  raw: readonly (readonly [string, string])[],
  scope: ListenerScope = { onlyId: undefined },
) {
  return h.core.admit(request(kind, url, raw), kind, scope, new PassThrough());
}

function refusal(r: Admission | Refusal): Refusal {
  assert.ok(isRefusal(r), 'expected a refusal, got an admission');
  return r;
}

interface Row {
  name: string;
  kind?: RequestKind;
  url: string;
  /** Headers; `AUTH` stands for the valid Proxy-Authorization value. */
  headers: readonly (readonly [string, string])[];
  scope?: ListenerScope;
  expect: { admit: readonly string[] } | { reason: string; status: number };
  /** Whether the pipeline may ask DNS at all (a name refused before DNS is never looked up). */
  resolves: boolean;
}

const AUTH = '\0auth';
const PA = 'Proxy-Authorization';

const ROWS: Row[] = [
  {
    name: 'admits GET to an allowed name with exactly the addresses it resolved and checked',
    url: 'http://api.allowed.test/x',
    headers: [
      ['Host', 'api.allowed.test'],
      [PA, AUTH],
    ],
    expect: { admit: ['127.0.0.2'] },
    resolves: true,
  },
  {
    name: 'admits CONNECT to an allowed name and port',
    kind: 'connect',
    url: 'public.allowed.test:443',
    headers: [
      ['Host', 'public.allowed.test:443'],
      [PA, AUTH],
    ],
    expect: { admit: [PUBLIC] },
    resolves: true,
  },
  {
    name: 'admits plain chunked Transfer-Encoding',
    url: 'http://api.allowed.test/',
    headers: [
      ['Host', 'api.allowed.test'],
      [PA, AUTH],
      ['Transfer-Encoding', 'chunked'],
    ],
    expect: { admit: ['127.0.0.2'] },
    resolves: true,
  },
  {
    name: 'refuses a request without a credential with 407 auth_required',
    url: 'http://api.allowed.test/',
    headers: [['Host', 'api.allowed.test']],
    expect: { reason: 'auth_required', status: 407 },
    resolves: false,
  },
  {
    name: 'refuses a wrong password with 407 auth_invalid',
    url: 'http://api.allowed.test/',
    headers: [
      ['Host', 'api.allowed.test'],
      [PA, basic('sub-a', 'x'.repeat(22))],
    ],
    expect: { reason: 'auth_invalid', status: 407 },
    resolves: false,
  },
  {
    name: 'refuses two Proxy-Authorization headers, even both valid, with 407 auth_invalid',
    url: 'http://api.allowed.test/',
    headers: [
      ['Host', 'api.allowed.test'],
      [PA, AUTH],
      [PA, AUTH],
    ],
    expect: { reason: 'auth_invalid', status: 407 },
    resolves: false,
  },
  {
    name: "refuses a valid credential on another subagent's listener with 407 auth_invalid",
    url: 'http://api.allowed.test/',
    headers: [
      ['Host', 'api.allowed.test'],
      [PA, AUTH],
    ],
    scope: { onlyId: 'sub-b' },
    expect: { reason: 'auth_invalid', status: 407 },
    resolves: false,
  },
  {
    name: 'refuses two Host headers, even identical ones, with 400 bad_request',
    url: 'http://api.allowed.test/',
    headers: [
      ['Host', 'api.allowed.test'],
      ['Host', 'api.allowed.test'],
      [PA, AUTH],
    ],
    expect: { reason: 'bad_request', status: 400 },
    resolves: false,
  },
  {
    name: 'refuses two Host headers on CONNECT with 400 bad_request',
    kind: 'connect',
    url: 'public.allowed.test:443',
    headers: [
      ['Host', 'public.allowed.test:443'],
      ['host', 'public.allowed.test:443'],
      [PA, AUTH],
    ],
    expect: { reason: 'bad_request', status: 400 },
    resolves: false,
  },
  {
    name: 'refuses a Host header naming another server with 421 host_mismatch',
    url: 'http://api.allowed.test/',
    headers: [
      ['Host', 'internal.example'],
      [PA, AUTH],
    ],
    expect: { reason: 'host_mismatch', status: 421 },
    resolves: false,
  },
  {
    name: 'refuses a Transfer-Encoding other than plain chunked with 400 bad_request',
    url: 'http://api.allowed.test/',
    headers: [
      ['Host', 'api.allowed.test'],
      [PA, AUTH],
      ['Transfer-Encoding', 'gzip, chunked'],
    ],
    expect: { reason: 'bad_request', status: 400 },
    resolves: false,
  },
  {
    name: 'refuses a non-http scheme with 400 scheme_not_allowed',
    url: 'ftp://api.allowed.test/',
    headers: [
      ['Host', 'api.allowed.test'],
      [PA, AUTH],
    ],
    expect: { reason: 'scheme_not_allowed', status: 400 },
    resolves: false,
  },
  {
    name: 'refuses a port outside allowed_ports with 403 port_not_allowed',
    url: 'http://api.allowed.test:8080/',
    headers: [
      ['Host', 'api.allowed.test:8080'],
      [PA, AUTH],
    ],
    expect: { reason: 'port_not_allowed', status: 403 },
    resolves: false,
  },
  {
    name: 'refuses a name off the allowlist with 403 host_not_allowed before any DNS',
    url: 'http://exfil.attacker.test/',
    headers: [
      ['Host', 'exfil.attacker.test'],
      [PA, AUTH],
    ],
    expect: { reason: 'host_not_allowed', status: 403 },
    resolves: false,
  },
  {
    name: 'refuses a name with one metadata answer among public ones with 403 metadata_prohibited',
    url: 'http://meta.allowed.test/',
    headers: [
      ['Host', 'meta.allowed.test'],
      [PA, AUTH],
    ],
    expect: { reason: 'metadata_prohibited', status: 403 },
    resolves: true,
  },
  {
    name: 'refuses a name with one private answer among public ones with 403 address_prohibited',
    url: 'http://private.allowed.test/',
    headers: [
      ['Host', 'private.allowed.test'],
      [PA, AUTH],
    ],
    expect: { reason: 'address_prohibited', status: 403 },
    resolves: true,
  },
];

void describe('GatewayCore.admit', () => {
  for (const row of ROWS) {
    void test(row.name, async () => {
      const h = harness();
      const headers = row.headers.map(([k, v]) => [k, v === AUTH ? h.auth : v] as const);
      const r = await admit(h, row.kind ?? 'http', row.url, headers, row.scope);
      if ('admit' in row.expect) {
        assert.ok(!isRefusal(r), `refused: ${JSON.stringify(r)}`);
        assert.deepEqual(r.addresses, row.expect.admit);
        assert.equal(h.reg.open, 1, 'an admission holds a tunnel slot');
        r.release();
        assert.equal(h.reg.open, 0);
        return;
      }
      const f = refusal(r);
      assert.deepEqual({ reason: f.reason, status: f.status }, row.expect);
      if (!row.resolves) assert.deepEqual(h.asked, [], 'asked DNS for a request refused before DNS');
      assert.equal(h.reg.open, 0, 'a refusal holds no tunnel slot');
      const recs = h.decisions();
      assert.equal(recs.length, 1, 'exactly one audit record per decision');
      const [rec] = recs;
      assert.equal(rec?.['reason'], row.expect.reason);
      assert.equal(rec['decision'], 'deny');
      // The subagent's own mistakes reach onDeny; a missing or wrong credential is not attributed.
      const attributable = [400, 403, 421].includes(row.expect.status);
      assert.equal(h.denied.length, attributable ? 1 : 0);
    });
  }

  void test('a DNS failure for an allowed name is 502 dns_error and releases its slot', async () => {
    const h = harness({ resolver: () => Promise.reject(new Error('SERVFAIL')) });
    const f = refusal(
      await admit(h, 'http', 'http://api.allowed.test/', [
        ['Host', 'api.allowed.test'],
        [PA, h.auth],
      ]),
    );
    assert.deepEqual({ reason: f.reason, status: f.status }, { reason: 'dns_error', status: 502 });
    assert.equal(h.reg.open, 0);
  });

  void test('a credential revoked while its name resolves is refused with 407 auth_invalid', async () => {
    let h: Harness | undefined = undefined;
    h = harness({
      resolver: () => {
        if (h !== undefined) h.reg.revoked = true;
        return Promise.resolve([{ address: '127.0.0.2', family: 4 }]);
      },
    });
    const f = refusal(
      await admit(h, 'http', 'http://api.allowed.test/', [
        ['Host', 'api.allowed.test'],
        [PA, h.auth],
      ]),
    );
    assert.equal(f.reason, 'auth_invalid');
    assert.equal(h.reg.open, 0);
  });
});

void describe('GatewayCore.admit limits', () => {
  const get = (h: Harness) =>
    admit(h, 'http', 'http://api.allowed.test/', [
      ['Host', 'api.allowed.test'],
      [PA, h.auth],
    ]);

  void test('admits exactly maxApiCalls requests; the next is 429 api_calls_exceeded and fires onLimit once', async () => {
    const h = harness({ limits: { maxApiCalls: 3 } });
    for (let i = 0; i < 3; i++) {
      const r = await get(h);
      assert.ok(!isRefusal(r), `request ${i + 1} of 3 refused: ${JSON.stringify(r)}`);
      r.release();
    }
    for (let i = 0; i < 2; i++) {
      const f = refusal(await get(h));
      assert.deepEqual({ reason: f.reason, status: f.status }, { reason: 'api_calls_exceeded', status: 429 });
    }
    assert.deepEqual(h.limits, ['api_calls']);
    assert.equal(h.reg.apiCallsTaken, 3);
    assert.deepEqual(h.asked, ['api.allowed.test', 'api.allowed.test', 'api.allowed.test']);
  });

  void test('concurrent requests cannot all pass the maxApiCalls check before one is counted', async () => {
    const h = harness({ limits: { maxApiCalls: 2 } });
    const results = await Promise.all(Array.from({ length: 6 }, () => get(h)));
    const admitted = results.filter((r): r is Admission => !isRefusal(r));
    assert.equal(admitted.length, 2);
    for (const a of admitted) a.release();
    assert.ok(results.filter(isRefusal).every((r) => r.reason === 'api_calls_exceeded'));
  });

  void test('a request refused at the tunnel cap does not spend an API call', async () => {
    const h = harness({ limits: { maxApiCalls: 2 }, maxTunnelsPerSubagent: 1 });
    const first = await get(h);
    assert.ok(!isRefusal(first));
    const f = refusal(await get(h));
    assert.deepEqual({ reason: f.reason, status: f.status }, { reason: 'tunnel_limit', status: 429 });
    assert.equal(h.reg.apiCallsTaken, 1);
    first.release();
    const second = await get(h);
    assert.ok(!isRefusal(second), 'the budget left after the tunnel_limit refusal admits one more');
    second.release();
  });

  void test('a subagent whose egress byte cap is used up is refused with 429 egress_bytes_exceeded', async () => {
    const h = harness({ maxEgressBytes: 10 });
    h.reg.usage.bytesIn = 10;
    const f = refusal(await get(h));
    assert.deepEqual(
      { reason: f.reason, status: f.status },
      { reason: 'egress_bytes_exceeded', status: 429 },
    );
    assert.deepEqual(h.limits, ['egress_bytes']);
    assert.deepEqual(h.asked, []);
  });
});

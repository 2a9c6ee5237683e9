import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createEgressGateway, type EgressDecision, type ProxyCredential } from '../../src/gateway/index.js';
import { GatewayError } from '../../src/errors.js';
import { basic, openTunnel, rawExchange } from '../helpers/gateway.js';
import { startBench, type Bench } from '../helpers/gateway-fixture.js';

function get(b: Bench, auth: string, path = '/echo'): Promise<Awaited<ReturnType<typeof rawExchange>>> {
  return rawExchange(
    b.port,
    `GET http://api.allowed.test:${b.originPort}${path} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
  );
}

function authOf(c: ProxyCredential): string {
  return basic(c.username, c.password);
}

void describe('egress gateway limits', () => {
  let b: Bench;
  const limits: { id: string; kind: string }[] = [];
  before(async () => {
    b = await startBench({
      gateway: { maxRequestsPerSecond: 1000, maxTunnelsPerSubagent: 1, maxTunnels: 3 },
    });
  });
  after(async () => {
    await b.close();
    assert.equal(b.trapHits(), 0);
  });

  const net = (b: Bench, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    allowed_domains: ['api.allowed.test'],
    allowed_ports: [b.originPort],
    allowed_cidrs: ['127.0.0.2/32'],
    ...extra,
  });

  void test('refuses requests beyond the per-credential rate with 429 rate_limited and Retry-After', async () => {
    const gw = await createEgressGateway({ logger: pino({ level: 'silent' }), maxRequestsPerSecond: 1 });
    try {
      const c = gw.register({ id: 'rate', network: { allowed_domains: ['evil-not-used.test'] } });
      const statuses: number[] = [];
      const retryAfter: (string | undefined)[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await rawExchange(
          gw.address.port,
          `CONNECT x.test:443 HTTP/1.1\r\nProxy-Authorization: ${authOf(c)}\r\n\r\n`,
        );
        statuses.push(r.status);
        retryAfter.push(r.headers['retry-after']);
      }
      assert.deepEqual(statuses.slice(0, 2), [403, 403]);
      assert.ok(statuses.slice(2).includes(429), statuses.join(','));
      // Only 429 answers say when to come back; a denial (403) has nothing to wait for.
      statuses.forEach((s, i) => {
        assert.equal(retryAfter[i], s === 429 ? '1' : undefined, `answer ${i}: ${s}`);
      });
    } finally {
      await gw.close();
    }
  });

  void test('refuses a second tunnel beyond maxTunnelsPerSubagent with 429 tunnel_limit', async () => {
    const s = await openTunnel(b.port, `api.allowed.test:${b.originPort}`, b.auth);
    const r = await rawExchange(
      b.port,
      `CONNECT api.allowed.test:${b.originPort} HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\n\r\n`,
    );
    assert.equal(r.status, 429);
    assert.match(r.headers['proxy-status'] ?? '', /connection_limit_reached; details="tunnel_limit"/);
    assert.equal(r.headers['retry-after'], '1');
    s.destroy();
  });

  void test('refuses the request beyond limits.maxApiCalls with 429 and calls onLimit once', async () => {
    const c = b.gw.register({
      id: 'calls',
      network: net(b),
      limits: { maxApiCalls: 2 },
      onLimit: (kind) => limits.push({ id: 'calls', kind }),
    });
    assert.equal((await get(b, authOf(c))).status, 200);
    assert.equal((await get(b, authOf(c))).status, 200);
    const r = await get(b, authOf(c));
    assert.equal(r.status, 429);
    assert.match(r.headers['proxy-status'] ?? '', /api_calls_exceeded/);
    assert.equal(r.headers['retry-after'], '1', 'a plain-HTTP 429 carries Retry-After too');
    assert.deepEqual(
      limits.filter((l) => l.id === 'calls'),
      [{ id: 'calls', kind: 'api_calls' }],
    );
    b.gw.revoke('calls');
  });

  void test('a prepaid credential is not charged through countRequest, and dies with the registration', async () => {
    let counted = 0;
    const c = b.gw.register({
      id: 'prepaid',
      network: net(b),
      prepaidCredential: true,
      countRequest: () => {
        counted++;
        return false;
      },
    });
    assert.ok(c.prepaidProxyUrl !== undefined);
    const p = new URL(c.prepaidProxyUrl);
    assert.equal(decodeURIComponent(p.username), 'prepaid+prepaid');
    const prepaidAuth = basic(decodeURIComponent(p.username), decodeURIComponent(p.password));
    assert.equal((await get(b, authOf(c))).status, 429, 'the subagent credential is charged (and refused)');
    assert.equal(counted, 1);
    assert.equal((await get(b, prepaidAuth)).status, 200, 'the prepaid one is not charged');
    assert.equal(counted, 1);
    assert.equal(b.gw.usage('prepaid').requests, 1, 'but it is counted in the usage figures');
    b.gw.revoke('prepaid');
    assert.equal((await get(b, prepaidAuth)).status, 407, 'revoked together');
    assert.throws(() => b.gw.register({ id: 'prepaid+prepaid', network: net(b) }), {
      code: 'SG_GATEWAY_INVALID_OPTIONS',
    });
    assert.equal(b.gw.register({ id: 'plain', network: net(b) }).prepaidProxyUrl, undefined);
    b.gw.revoke('plain');
  });

  void test('concurrent requests never exceed limits.maxApiCalls (counted when admitted, not when connected)', async () => {
    const wide = await startBench({ gateway: { maxRequestsPerSecond: 1000, maxTunnelsPerSubagent: 64 } });
    try {
      const c = wide.gw.register({ id: 'burst', network: net(wide), limits: { maxApiCalls: 3 } });
      const results = await Promise.all(Array.from({ length: 12 }, () => get(wide, authOf(c))));
      const statuses = results.map((r) => r.status).join(',');
      assert.equal(results.filter((r) => r.status === 200).length, 3, statuses);
      assert.equal(results.filter((r) => r.status === 429).length, 9, statuses);
      assert.equal(wide.gw.usage('burst').requests, 3);
    } finally {
      await wide.close();
    }
    assert.equal(wide.trapHits(), 0);
  });

  void test('a request refused for the tunnel cap does not spend the countRequest budget', async () => {
    let counted = 0;
    const c = b.gw.register({
      id: 'capped',
      network: net(b),
      countRequest: () => {
        counted++;
        return true;
      },
    });
    const held = await openTunnel(b.port, `api.allowed.test:${b.originPort}`, authOf(c));
    try {
      const r = await get(b, authOf(c));
      assert.equal(r.status, 429);
      assert.match(r.headers['proxy-status'] ?? '', /tunnel_limit/);
      assert.equal(counted, 1, 'only the admitted tunnel was counted');
    } finally {
      held.destroy();
      b.gw.revoke('capped');
    }
  });

  void test('refuses a request when countRequest says no, before any DNS query', async () => {
    const c = b.gw.register({ id: 'budget', network: net(b), countRequest: () => false });
    const calls = b.resolverCalls.length;
    const r = await get(b, authOf(c));
    assert.equal(r.status, 429);
    assert.equal(b.resolverCalls.length, calls);
    b.gw.revoke('budget');
  });

  void test('cuts a transfer at the egress byte cap, calls onLimit, and refuses later requests', async () => {
    const c = b.gw.register({
      id: 'bytes',
      network: net(b, { max_egress_bytes: 5000 }),
      onLimit: (kind) => limits.push({ id: 'bytes', kind }),
    });
    const r = await get(b, authOf(c), '/bytes?n=100000');
    assert.ok(r.body.length < 100000, 'the body crossed the cap');
    assert.ok(b.gw.usage('bytes').bytesIn <= 5000);
    assert.deepEqual(
      limits.filter((l) => l.id === 'bytes'),
      [{ id: 'bytes', kind: 'egress_bytes' }],
    );
    const again = await get(b, authOf(c));
    assert.equal(again.status, 429);
    assert.match(again.headers['proxy-status'] ?? '', /egress_bytes_exceeded/);
    b.gw.revoke('bytes');
  });

  void test('reports the 429 api_calls_exceeded refusals to onDeny (limits.maxApiCalls and countRequest)', async () => {
    const denied: { id: string | null; reason: string; status: number }[] = [];
    const onDeny = (d: EgressDecision): void => {
      denied.push({ id: d.id, reason: d.reason, status: d.status });
    };
    const capped = b.gw.register({ id: 'deny-calls', network: net(b), limits: { maxApiCalls: 1 }, onDeny });
    const budget = b.gw.register({ id: 'deny-budget', network: net(b), countRequest: () => false, onDeny });
    try {
      assert.equal((await get(b, authOf(capped))).status, 200);
      assert.deepEqual(denied, [], 'an allowed request is not reported');
      assert.equal((await get(b, authOf(capped))).status, 429);
      assert.equal((await get(b, authOf(budget))).status, 429);
      assert.deepEqual(denied, [
        { id: 'deny-calls', reason: 'api_calls_exceeded', status: 429 },
        { id: 'deny-budget', reason: 'api_calls_exceeded', status: 429 },
      ]);
    } finally {
      b.gw.revoke('deny-calls');
      b.gw.revoke('deny-budget');
    }
  });

  void test('delivers a response that reaches the egress byte cap exactly, then refuses with 429 to onDeny', async () => {
    // The wire size of one exchange, measured without a cap that matters.
    const probe = b.gw.register({ id: 'bytes-probe', network: net(b) });
    const first = await get(b, authOf(probe), '/bytes?n=20000');
    assert.equal(first.status, 200);
    const u = b.gw.usage('bytes-probe');
    const exact = u.bytesIn + u.bytesOut;
    b.gw.revoke('bytes-probe');

    const kinds: string[] = [];
    const denied: string[] = [];
    const c = b.gw.register({
      id: 'bytes-exact',
      network: net(b, { max_egress_bytes: exact }),
      onLimit: (kind) => kinds.push(kind),
      onDeny: (d) => denied.push(`${d.status} ${d.reason}`),
    });
    try {
      const r = await get(b, authOf(c), '/bytes?n=20000');
      assert.equal(r.status, 200);
      assert.equal(Buffer.byteLength(r.body, 'latin1'), 20000, 'the exact-cap body arrived whole');
      const used = b.gw.usage('bytes-exact');
      assert.equal(used.bytesIn + used.bytesOut, exact);
      assert.deepEqual(kinds, [], 'reaching the cap is not crossing it');
      const again = await get(b, authOf(c));
      assert.equal(again.status, 429);
      assert.match(again.headers['proxy-status'] ?? '', /egress_bytes_exceeded/);
      assert.deepEqual(denied, ['429 egress_bytes_exceeded']);
    } finally {
      b.gw.revoke('bytes-exact');
    }
  });

  void test('with log_all_traffic false logs denials and close summaries but not allowed decisions', async () => {
    const c = b.gw.register({ id: 'quiet', network: net(b, { log_all_traffic: false }) });
    assert.equal((await get(b, authOf(c))).status, 200);
    await rawExchange(b.port, `CONNECT evil.test:443 HTTP/1.1\r\nProxy-Authorization: ${authOf(c)}\r\n\r\n`);
    const recs = b.log.records().filter((r) => r.subagentId === 'quiet');
    assert.equal(recs.filter((r) => r.event === 'egress.decision' && r.decision === 'allow').length, 0);
    assert.equal(recs.filter((r) => r.event === 'egress.decision' && r.decision === 'deny').length, 1);
    assert.equal(recs.filter((r) => r.event === 'egress.close').length, 1);
    b.gw.revoke('quiet');
  });

  void test('accepts the normalised network model of a loaded config', async () => {
    const c = b.gw.register({
      id: 'normalised',
      network: {
        egressOnly: true,
        allowedDomains: ['api.allowed.test'],
        blockedPorts: [],
        allowedPorts: [b.originPort],
        allowedCidrs: ['127.0.0.2/32'],
        logAllTraffic: true,
        maxEgressBytes: 1000000,
      },
    });
    assert.equal((await get(b, authOf(c))).status, 200);
    b.gw.revoke('normalised');
  });

  void test('rejects invalid registrations with stable codes', () => {
    const cases: [string, () => unknown, string][] = [
      ['bad id', () => b.gw.register({ id: 'a b', network: {} }), 'SG_GATEWAY_INVALID_OPTIONS'],
      ['duplicate id', () => b.gw.register({ id: b.id, network: {} }), 'SG_GATEWAY_DUPLICATE_ID'],
      [
        'over-broad domain',
        () => b.gw.register({ id: 'x1', network: { allowed_domains: ['*'] } }),
        'SG_GATEWAY_INVALID_OPTIONS',
      ],
      [
        'unknown key',
        () => b.gw.register({ id: 'x2', network: { allowed_domain: ['a.test'] } }),
        'SG_GATEWAY_INVALID_OPTIONS',
      ],
      [
        'https upstream',
        () => b.gw.register({ id: 'x3', network: {}, upstream: 'https://u:p@127.0.0.1:1' }),
        'SG_GATEWAY_INVALID_OPTIONS',
      ],
    ];
    for (const [name, fn, code] of cases) {
      assert.throws(fn, (e: unknown) => e instanceof GatewayError && e.code === code, name);
    }
    try {
      b.gw.register({ id: 'x4', network: {}, upstream: 'http://user:hunter2@127.0.0.1:1/path' });
      assert.fail('accepted an upstream URL with a path');
    } catch (e) {
      assert.ok(e instanceof GatewayError);
      assert.ok(!e.message.includes('hunter2'), 'the upstream password leaked into an error message');
    }
  });

  void test('refuses a non-loopback listen address unless forced', async () => {
    await assert.rejects(
      createEgressGateway({ host: '0.0.0.0', logger: pino({ level: 'silent' }) }),
      (e: unknown) => e instanceof GatewayError && e.code === 'SG_GATEWAY_LISTEN',
    );
  });

  void test('refuses registrations after close', async () => {
    const gw = await createEgressGateway({ logger: pino({ level: 'silent' }) });
    await gw.close();
    assert.throws(
      () => gw.register({ id: 'late', network: {} }),
      (e: unknown) => e instanceof GatewayError && e.code === 'SG_GATEWAY_CLOSED',
    );
  });
});

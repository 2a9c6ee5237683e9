import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { parseNetworkSection } from '../../../src/config/network.js';
import { EgressPolicy } from '../../../src/policy/index.js';
import { GatewayAudit } from '../../../src/gateway/audit.js';
import { CredentialStore } from '../../../src/gateway/auth.js';
import { GatewayCore } from '../../../src/gateway/admission.js';
import { Slots } from '../../../src/gateway/limits.js';
import { createListener } from '../../../src/gateway/listener.js';
import { RegistrationPools } from '../../../src/gateway/pool.js';
import { Registration } from '../../../src/gateway/registration.js';
import { basic, collectingLogger, rawExchange } from '../../helpers/gateway.js';

/** A listener whose pools are supplied by the test, with a global cap of one in-flight request. */
async function harness(poolsFor: (reg: Registration) => RegistrationPools) {
  const log = collectingLogger();
  const store = new CredentialStore<Registration>();
  const slots = new Slots(1);
  const core = new GatewayCore(
    {
      resolver: () => Promise.resolve([{ address: '127.0.0.2', family: 4 }]),
      dnsTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      idleTimeoutMs: 5000,
      maxTunnelsPerSubagent: 8,
      exchangeTimeoutMs: 5000,
    },
    store,
    new GatewayAudit(log.logger),
    slots,
  );
  const network = parseNetworkSection(
    { allowed_domains: ['api.allowed.test'], allowed_cidrs: ['127.0.0.2/32'], allowed_ports: [80] },
    { path: '/network' },
  );
  const reg = new Registration({
    opts: { id: 'sub-x', network: {} },
    policy: new EgressPolicy(network),
    logAllTraffic: true,
    upstream: undefined,
    maxEgressBytes: undefined,
    ratePerSecond: 1000,
    logger: log.logger,
  });
  const password = store.mint('sub-x', reg);
  const server = createListener(
    core,
    { onlyId: undefined },
    poolsFor,
    { maxHeaderSize: 16384, headersTimeoutMs: 5000, idleTimeoutMs: 5000, maxConnections: 64 },
    new Set(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        resolve();
      });
    });
  return { log, slots, reg, auth: basic('sub-x', password), port, close };
}

void describe('HTTP forwarding slot accounting', () => {
  void test('a request whose dispatch throws synchronously is answered 502 and releases its slot', async () => {
    const h = await harness(() => {
      throw new Error('dispatch failed synchronously');
    });
    try {
      const req = `GET http://api.allowed.test/ HTTP/1.1\r\nProxy-Authorization: ${h.auth}\r\nConnection: close\r\n\r\n`;
      // Twice: with a global cap of one, a leaked slot turns the second into 429 tunnel_limit.
      for (let i = 0; i < 2; i++) {
        const r = await rawExchange(h.port, req);
        assert.equal(r.status, 502, r.head);
        assert.match(r.headers['proxy-status'] ?? '', /details="upstream_error"/);
      }
      assert.equal(h.slots.used, 0);
      assert.equal(h.reg.open, 0);
      const recs = h.log.records();
      assert.equal(recs.filter((x) => x.event === 'egress.decision').length, 2);
      assert.equal(recs.filter((x) => x.event === 'egress.close').length, 2);
    } finally {
      await h.close();
    }
  });

  void test('a request refused by closed pools is answered and releases its slot', async () => {
    let pools: RegistrationPools | undefined;
    const h = await harness((reg) => {
      pools ??= new RegistrationPools(reg, {
        connectTimeoutMs: 1000,
        idleTimeoutMs: 5000,
        maxConnections: 4,
        exchangeTimeoutMs: 5000,
      });
      pools.destroy();
      return pools;
    });
    try {
      const r = await rawExchange(
        h.port,
        `GET http://api.allowed.test/ HTTP/1.1\r\nProxy-Authorization: ${h.auth}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(r.status, 502, r.head);
      assert.equal(h.slots.used, 0);
      assert.equal(h.reg.open, 0);
    } finally {
      await h.close();
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEgressGateway, type EgressGateway } from '../../src/gateway/index.js';
import { basic, closeServer, collectingLogger, rawExchange, startOrigin } from '../helpers/gateway.js';

void describe('per-window egress quotas (gateway serve --quota-window)', () => {
  let gw: EgressGateway;
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  before(async () => {
    origin = await startOrigin('127.0.0.2');
    gw = await createEgressGateway({ logger: collectingLogger().logger });
  });
  after(async () => {
    await gw.close();
    await closeServer(origin.server);
  });

  function register(id: string, limits: Parameters<EgressGateway['register']>[0]['limits']): string {
    const cred = gw.register({
      id,
      network: {
        allowed_domains: ['127.0.0.2'],
        allowed_ports: [origin.port],
        allowed_cidrs: ['127.0.0.2/32'],
        max_egress_bytes: 1000,
      },
      ...(limits === undefined ? {} : { limits }),
    });
    return basic(id, cred.password);
  }

  async function get(auth: string, n: number): Promise<{ status: number; reason: string }> {
    const r = await rawExchange(
      gw.address.port,
      `GET http://127.0.0.2:${origin.port}/bytes?n=${n} HTTP/1.1\r\nHost: 127.0.0.2:${origin.port}\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
    );
    return {
      status: r.status,
      reason: /details="([a-z_]+)"/.exec(r.headers['proxy-status'] ?? '')?.[1] ?? '',
    };
  }

  void test('the byte cap applies per window and a new window starts fresh', async () => {
    const auth = register('win-bytes', { maxEgressBytes: 1000, windowMs: 1000 });
    assert.equal((await get(auth, 800)).status, 200);
    await get(auth, 800); // crosses the cap (cut or refused)
    assert.deepEqual(await get(auth, 10), { status: 429, reason: 'egress_bytes_exceeded' });
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await get(auth, 10)).status, 200, 'the next window allows again');
  });

  void test('without a window the byte cap is for the lifetime (a subagent run)', async () => {
    const auth = register('life-bytes', undefined);
    assert.equal((await get(auth, 800)).status, 200);
    await get(auth, 800);
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(await get(auth, 10), { status: 429, reason: 'egress_bytes_exceeded' });
  });

  void test('maxEgressBytes null turns the network section cap off', async () => {
    const auth = register('no-bytes', { maxEgressBytes: null });
    for (let i = 0; i < 3; i++) assert.equal((await get(auth, 800)).status, 200);
  });

  void test('a window shorter than 1 s is refused', () => {
    assert.throws(
      () => register('bad-window', { windowMs: 10 }),
      (e: unknown) => e instanceof Error && 'code' in e && e.code === 'SG_GATEWAY_INVALID_OPTIONS',
    );
  });
});

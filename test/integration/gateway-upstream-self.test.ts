import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuardError } from '../../src/errors.js';
import { createEgressGateway } from '../../src/gateway/index.js';
import { collectingLogger } from '../helpers/gateway.js';

const isSelf = (e: unknown): boolean => e instanceof GuardError && e.code === 'SG_GATEWAY_UPSTREAM_SELF';

void test('register() refuses an upstream that is the gateway itself, by address, localhost or 127.1', async () => {
  const gw = await createEgressGateway({ logger: collectingLogger().logger });
  try {
    const port = gw.address.port;
    for (const upstream of [gw.url, `http://u:pw@localhost:${port}`, `http://127.1:${port}`]) {
      assert.throws(
        () => gw.register({ id: 'w', network: { allowed_domains: ['a.test'] }, upstream }),
        isSelf,
        upstream,
      );
    }
    // Another port on the same host is a different proxy.
    gw.register({
      id: 'ok',
      network: { allowed_domains: ['a.test'] },
      upstream: `http://127.0.0.1:${port + 1}`,
    });
  } finally {
    await gw.close();
  }
});

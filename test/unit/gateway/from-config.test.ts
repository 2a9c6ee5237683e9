import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig, parseConfig } from '../../../src/config/index.js';
import {
  formatServeEnforcement,
  gatewayOptionsFromConfig,
  serveEnforcement,
  serveLimits,
} from '../../../src/gateway/from-config.js';
import { fixturesDir } from '../../helpers/paths.js';

const securityProxy = join(fixturesDir, 'config', 'valid', 'security-proxy.json');

void describe('gatewayOptionsFromConfig', () => {
  void test('maps every gateway setting of the config, its listen address and its upstream', async () => {
    const c = await loadConfig(securityProxy);
    const o = gatewayOptionsFromConfig(c);
    assert.deepEqual(
      { ...o, upstream: undefined },
      {
        host: '127.0.0.1',
        port: 0,
        connectTimeoutMs: 8000,
        dnsTimeoutMs: 3000,
        idleTimeoutMs: 30000,
        maxTunnels: 256,
        maxTunnelsPerSubagent: 16,
        maxRequestsPerSecond: 20,
        maxConnectionsPerSubagent: c.gateway.maxConnectionsPerSubagent,
        maxConnections: c.gateway.maxConnections,
        maxAuditRecordsPerSubagent: c.gateway.maxAuditRecordsPerSubagent,
        exchangeTimeoutMs: c.gateway.exchangeTimeoutMs,
        upstream: undefined,
      },
    );
    assert.equal(o.upstream, c.gateway.upstream);
    assert.ok(!('logger' in o) && !('resolver' in o), 'absent extras are left out, not undefined');
  });

  void test('--listen overrides the config; logger and resolver are passed through', () => {
    const c = parseConfig({ agents: { w: {} } });
    const resolver = () => Promise.resolve([]);
    const o = gatewayOptionsFromConfig(c, { listen: { host: '::1', port: 3128 }, resolver });
    assert.equal(o.host, '::1');
    assert.equal(o.port, 3128);
    assert.equal(o.resolver, resolver);
    assert.ok(!('upstream' in o));
  });

  void test("OpenClaw's proxy.proxyUrl never becomes the gateway's upstream", () => {
    const c = parseConfig({
      proxy: { enabled: true, proxyUrl: 'http://127.0.0.1:3128', loopbackMode: 'block' },
      agents: { list: [{ id: 'main' }, { id: 'w' }] },
    });
    assert.equal(gatewayOptionsFromConfig(c).upstream, undefined);
  });
});

void describe('serve quotas', () => {
  void test('without a window serve enforces no api-call or byte quota', () => {
    const c = parseConfig({ agents: { w: { constraints: { max_api_calls: 7 } } } });
    const w = c.agents.w;
    assert.ok(w);
    assert.deepEqual(serveLimits(w, undefined), { maxEgressBytes: null });
  });

  void test('with a window the per-run quotas become per-window limits', () => {
    const c = parseConfig({
      agents: { w: { constraints: { max_api_calls: 7 }, network: { max_egress_bytes: 4096 } } },
    });
    const w = c.agents.w;
    assert.ok(w);
    assert.deepEqual(serveLimits(w, 3_600_000), {
      maxApiCalls: 7,
      maxEgressBytes: 4096,
      windowMs: 3_600_000,
    });
  });

  void test('check describes it: credentials for subagents only, quotas per window, what serve leaves out', async () => {
    const c = await loadConfig(securityProxy);
    const e = serveEnforcement(c);
    assert.deepEqual(e.credentials, ['security_proxy_untrusted', 'security_proxy_external']);
    assert.deepEqual(e.noCredential, ['main_orchestrator']);
    assert.deepEqual(e.withQuotaWindow.security_proxy_untrusted, {
      max_api_calls: 50,
      max_egress_bytes: 1048576,
    });
    assert.ok(e.notEnforced.includes('max_memory_mb'));
    const text = formatServeEnforcement(e);
    assert.match(text, /none for parent main_orchestrator/);
    assert.match(text, /without it: no api-call or byte quota/);
    assert.match(text, /security_proxy_untrusted: max_api_calls 50, max_egress_bytes 1048576/);
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig, parseConfig, type GuardConfig } from '../../../src/config/index.js';
import { repoRoot } from '../../helpers/paths.js';
import { NOOP_ENTRY, configFixtures, subagent, validDir } from './helpers.js';

function isDeepFrozen(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  return Object.isFrozen(v) && Object.values(v).every(isDeepFrozen);
}

void describe('security-proxy shape: valid configurations', () => {
  void test('normalises the full fixture: canonical names, camelCase, absolute paths, defaults filled', async () => {
    const c = await loadConfig(join(validDir, 'security-proxy.json'));
    assert.equal(c.format, 'security-proxy');
    assert.deepEqual(c.ignored, []);
    assert.equal(c.baseDir, validDir);
    const u = c.agents.security_proxy_untrusted;
    assert.ok(u);
    assert.equal(u.role, 'subagent');
    assert.equal(u.entry, join(configFixtures, 'agents', 'noop.mjs'));
    assert.deepEqual(u.tools, {
      allowed: ['web_fetch', 'sanitized_parse', 'web_search'],
      denied: ['exec', 'write', 'shell', 'file_system'],
    });
    assert.deepEqual(u.network, {
      egressOnly: true,
      allowedDomains: ['api.untrusted-source.com', '*.xn--bcher-kva.example', '203.0.113.7', '[2001:db8::1]'],
      blockedPorts: [22, 3389, 5432],
      allowedPorts: [443, 8443],
      allowedCidrs: ['10.20.0.0/16', 'fd00::/8'],
      logAllTraffic: false,
      maxEgressBytes: 1048576,
    });
    assert.deepEqual(u.constraints, {
      maxMemoryMb: 256,
      maxApiCalls: 50,
      maxCostUsd: 0.25,
      timeoutSeconds: 300,
      noMemoryPersistence: true,
    });
    assert.equal(u.proxy?.url, 'http://isolated:agent-s3cret-pw@security-pool.example:8080');
    assert.equal(u.proxy.redacted, 'http://isolated:***@security-pool.example:8080');
    assert.deepEqual(u.subagents.allowAgents, ['security_proxy_external']);

    const p = c.agents.main_orchestrator;
    assert.ok(p);
    assert.equal(p.role, 'parent');
    assert.deepEqual(p.tools, { allowed: [], denied: [] });
    assert.deepEqual(Object.keys(p.notes), ['memory']);
    assert.deepEqual(
      { ...p.subagents },
      {
        allowAgents: ['security_proxy_untrusted', 'security_proxy_external'],
        maxConcurrent: 4,
        maxChildren: 8,
        maxSpawnDepth: 2,
        maxSpawnsPerMinute: 60,
      },
    );
    assert.deepEqual(c.gateway, {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: {
        url: 'http://pool-user:gw-s3cret-pw@proxy.internal.example:3128',
        redacted: 'http://pool-user:***@proxy.internal.example:3128',
      },
      connectTimeoutMs: 8000,
      dnsTimeoutMs: 3000,
      idleTimeoutMs: 30000,
      maxTunnels: 256,
      maxTunnelsPerSubagent: 16,
      maxRequestsPerSecond: 20,
      maxConnectionsPerSubagent: 128,
      maxConnections: 4096,
      maxAuditRecordsPerSubagent: 10_000,
      exchangeTimeoutMs: 300_000,
    });
    assert.deepEqual(c.audit, { path: join(validDir, 'audit', 'guard.log'), level: 'debug' });
  });

  void test('an agent without its own proxy uses the gateway-wide upstream', async () => {
    const c = await loadConfig(join(validDir, 'security-proxy.json'));
    assert.equal(
      c.agents.security_proxy_external?.proxy?.redacted,
      'http://pool-user:***@proxy.internal.example:3128',
    );
    assert.deepEqual(c.agents.security_proxy_external.tools.allowed, ['group:web']);
  });

  void test('absent keys get the secure defaults: no tools, no network, conservative quotas, no spawning', async () => {
    const c = await loadConfig(join(validDir, 'minimal.json'));
    const w = c.agents.worker;
    assert.ok(w);
    assert.equal(w.role, 'subagent');
    assert.equal(w.entry, undefined);
    assert.equal(w.proxy, undefined);
    assert.deepEqual(w.tools, { allowed: [], denied: [] });
    assert.deepEqual(w.network.allowedDomains, []);
    assert.deepEqual(w.network.allowedPorts, [80, 443]);
    assert.deepEqual(w.network.allowedCidrs, []);
    assert.equal(w.network.egressOnly, true);
    assert.equal(w.network.maxEgressBytes, 10485760);
    assert.deepEqual(
      { ...w.constraints },
      {
        maxMemoryMb: 256,
        maxApiCalls: 50,
        maxCostUsd: 0,
        timeoutSeconds: 120,
        noMemoryPersistence: true,
      },
    );
    assert.deepEqual(w.subagents.allowAgents, []);
    assert.equal(c.gateway.upstream, undefined);
    assert.deepEqual(c.gateway.listen, { host: '127.0.0.1', port: 0 });
    assert.equal(c.audit.path, undefined);
    assert.equal(c.audit.level, 'info');
  });

  void test('the model is deep-frozen and its agents map has no prototype (no inherited "constructor")', async () => {
    const c: GuardConfig = await loadConfig(join(validDir, 'security-proxy.json'));
    assert.ok(isDeepFrozen(c));
    assert.equal(Object.getPrototypeOf(c.agents), null);
    assert.equal(c.agents.constructor, undefined);
    assert.throws(() => {
      (c.agents.security_proxy_untrusted?.network.allowedDomains as string[]).push('evil.example');
    }, TypeError);
  });

  void test('the shipped openclaw.example.json validates', async (t) => {
    const c = await loadConfig(join(repoRoot, 'openclaw.example.json')).catch((err: unknown) => err);
    if (c instanceof Error && /examples\/agents/.test(c.message) && /does not exist/.test(c.message)) {
      t.skip('examples/agents/untrusted-fetch.mjs is not in this tree yet');
      return;
    }
    assert.ok(!(c instanceof Error), String(c));
    const config = c as GuardConfig;
    assert.deepEqual(Object.keys(config.agents), [
      'main_orchestrator',
      'security_proxy_untrusted',
      'security_proxy_external',
    ]);
    assert.deepEqual(config.agents.main_orchestrator?.subagents.allowAgents, [
      'security_proxy_untrusted',
      'security_proxy_external',
    ]);
  });

  void test('["*"] in allowAgents means any subagent; duplicate names and domains collapse', () => {
    const c = parseConfig(
      {
        agents: {
          p: { role: 'parent', subagents: { allowAgents: ['*'] } },
          w: subagent({ network: { allowed_domains: ['a.example', 'A.EXAMPLE.', 'a.example'] } }),
        },
      },
      { baseDir: validDir },
    );
    assert.equal(c.agents.p?.subagents.allowAgents, '*');
    assert.deepEqual(c.agents.w?.network.allowedDomains, ['a.example']);
  });

  void test('the input object is copied: mutating it afterwards changes nothing', () => {
    const input = { agents: { w: subagent() } };
    const c = parseConfig(input, { baseDir: validDir });
    (input.agents.w.network as { allowed_domains: string[] }).allowed_domains.push('evil.example');
    assert.deepEqual(c.agents.w?.network.allowedDomains, ['api.example.com']);
  });

  void test('relative entry paths resolve against baseDir, absolute ones are kept', () => {
    const abs = join(configFixtures, 'agents', 'noop.mjs');
    const c = parseConfig({ agents: { a: { entry: NOOP_ENTRY }, b: { entry: abs } } }, { baseDir: validDir });
    assert.equal(c.agents.a?.entry, abs);
    assert.equal(c.agents.b?.entry, abs);
  });
});

void describe('security-proxy shape: the five-mistakes fixture', () => {
  void test('reports all five mistakes at once, each with its JSON path', async () => {
    const err = await loadConfig(join(configFixtures, 'invalid', 'five-mistakes.json')).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error && 'issues' in err && Array.isArray(err.issues));
    const paths = (err.issues as { path: string }[]).map((i) => i.path).sort();
    assert.deepEqual(paths, [
      '/agents/main_orchestrator/subagents/allowAgents/1',
      '/agents/security_proxy_untrusted/constraints/max_api_calls',
      '/agents/security_proxy_untrusted/network/allowed_domains/1',
      '/agents/security_proxy_untrusted/network/blocked_ports/1',
      '/agents/security_proxy_untrusted/proxy',
    ]);
    assert.ok(!err.message.includes('five-s3cret-pw'));
    assert.ok(!err.message.includes('    at '), 'no stack trace in the message');
  });
});

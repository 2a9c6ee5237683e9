/**
 * guarded_fetch outside OpenClaw: each call runs one real subagent as the calling agent (its own
 * allowed_domains, credential and quotas) through the real egress gateway. An allowed origin on
 * 127.0.0.2 answers and its JSON comes back through sanitized_parse; 127.0.0.3 is refused by the
 * gateway (403, egress_denied) and only that subagent ends; an agent without network reaches
 * nothing; every call is audited as plugin.guarded_fetch with OpenClaw's ids.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AuditEvent } from '../../src/audit/events.js';
import { validateAuditRecord } from '../../src/audit/record-schema.js';
import { parseConfig } from '../../src/config/parse.js';
import { GuardedFetch } from '../../src/openclaw/guarded-fetch.js';
import { collectAudit } from '../helpers/spawner-audit.js';

function listen(host: string, body: string, type: string): Promise<Server> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', type);
    res.end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, host, () => {
      resolve(server);
    });
  });
}

void describe('guarded_fetch (the plugin tool, without OpenClaw)', () => {
  let allowed: Server;
  let port = 0;
  let other: Server;
  const audit = collectAudit();
  let fetcher: GuardedFetch;

  before(async () => {
    allowed = await listen('127.0.0.2', '{"a":1,"__proto__":{"polluted":true}}', 'application/json');
    port = (allowed.address() as AddressInfo).port;
    other = createServer((_req, res) => res.end('should never be reached'));
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.3', resolve));
    const config = parseConfig(
      {
        agents: { ownership: 'explicit', entries: { main: {}, researcher: {}, offline: {} } },
        plugins: {
          entries: {
            'subagent-guard': {
              config: {
                agents: {
                  researcher: {
                    constraints: { timeout_seconds: 20 },
                    network: {
                      allowed_domains: ['127.0.0.2', '127.0.0.3'],
                      allowed_cidrs: ['127.0.0.2/32'],
                      allowed_ports: [port],
                    },
                  },
                },
              },
            },
          },
        },
      },
      { baseDir: '/tmp' },
    );
    fetcher = new GuardedFetch({ config, logger: audit.logger });
  });

  after(async () => {
    await fetcher.close();
    allowed.close();
    other.close();
  });

  const caller = { agentId: 'researcher', sessionKey: 'agent:researcher:main', runId: 'run-7' };

  void test('fetches an allowed origin through the gateway and sanitizes its JSON', async () => {
    const r = await fetcher.run(caller, { url: `http://127.0.0.2:${port}/x` });
    const details = r.details as { ok: boolean; status: number; json: Record<string, unknown> };
    assert.equal(details.ok, true, JSON.stringify(r.details));
    assert.equal(details.status, 200);
    assert.equal(details.json.a, 1);
    assert.equal(Object.hasOwn(details.json, '__proto__'), false);
    const rec = audit.events(AuditEvent.PluginGuardedFetch).at(-1);
    assert.equal(rec?.ok, true);
    assert.equal(rec.agentId, 'researcher');
    assert.equal(rec.runId, 'run-7');
  });

  void test('refuses a destination outside allowed_cidrs with 403 and ends only that subagent', async () => {
    const r = await fetcher.run(caller, { url: `http://127.0.0.3:${port}/secret` });
    const details = r.details as { ok: boolean; refused: boolean; status: number; reason: string };
    assert.equal(details.ok, false);
    assert.equal(details.refused, true);
    assert.equal(details.status, 403);
    assert.equal(details.reason, 'egress_denied');
    const rec = audit.events(AuditEvent.PluginGuardedFetch).at(-1);
    assert.equal(rec?.reason, 'egress_denied');
    assert.equal(rec.httpStatus, 403);
    assert.ok(audit.events(AuditEvent.EgressDecision).some((e) => e.decision === 'deny' && e.status === 403));
    // The runner is still usable: the violation ended that run only.
    const again = await fetcher.run(caller, { url: `http://127.0.0.2:${port}/y` });
    assert.equal((again.details as { ok: boolean }).ok, true);
  });

  void test('an agent without network reaches nothing', async () => {
    const r = await fetcher.run({ agentId: 'offline' }, { url: `http://127.0.0.2:${port}/x` });
    assert.equal((r.details as { refused: boolean }).refused, true);
  });

  void test('invalid arguments are a tool error, not a spawn', async () => {
    const r = await fetcher.run(caller, { url: 'file:///etc/passwd' });
    assert.deepEqual((r.details as { error: { code: string } }).error.code, 'SG_TOOL_ARGS_INVALID');
  });

  void test('every plugin.guarded_fetch record fits its published schema', () => {
    const records = audit.events(AuditEvent.PluginGuardedFetch);
    assert.ok(records.length >= 4);
    for (const r of records) {
      const v = validateAuditRecord({
        ...r,
        time: new Date(r.time as number).toISOString(),
        service: 'subagent-guard',
      });
      assert.ok(v.ok, v.ok ? '' : v.issues.join('; '));
    }
  });
});

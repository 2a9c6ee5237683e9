/**
 * Report-only mode with real subagents: a request its allowlist refuses reaches a loopback
 * origin and is recorded once with `enforced: false`; a tool outside `tools_allowed` runs and is
 * recorded the same way; cloud metadata, the gateway itself, `tools_denied` and the api-call quota
 * are enforced exactly as in enforce mode; every spawn record says the agent is not enforcing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { validateAuditRecord } from '../../src/audit/record-schema.js';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { Orchestrator, Outcome, ToolDefinition } from '../../src/spawner/types.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import {
  removeDir,
  startLoopbackServer,
  testResolver,
  writeAgents,
  type LoopbackServer,
} from '../helpers/spawner-harness.js';

const ORIGIN_IP = '127.0.0.3';
const LISTED = 'api.listed.test';
const UNLISTED = 'unlisted.example.test';
const TO_METADATA = 'meta.example.test';

let agentsDir = '';
let origin: LoopbackServer;
let orchestrator: Orchestrator;
let audit: CollectedAudit;
let queries: string[] = [];
let lookups = 0;

const lookup: ToolDefinition = {
  description: 'a tool the agent does not list',
  inputSchema: { type: 'object' },
  handler: () => {
    lookups++;
    return Promise.resolve({ found: true });
  },
};
const exec: ToolDefinition = {
  description: 'a tool the agent denies',
  inputSchema: { type: 'object' },
  handler: () => Promise.reject(new Error('must never run')),
};

before(async () => {
  agentsDir = writeAgents();
  origin = await startLoopbackServer(ORIGIN_IP);
  const worker = (entry: string, over: AgentSpec = {}): AgentSpec => ({
    entry: join(agentsDir, entry),
    tools: { allowed: ['web_fetch'], denied: ['exec'], mode: 'report' },
    constraints: { maxMemoryMb: 160, maxApiCalls: 10, timeoutSeconds: 15 },
    network: {
      allowedDomains: [LISTED],
      // Neither the origin's name nor its port is allowed: both would be refused when enforcing.
      allowedPorts: [443],
      allowedCidrs: [`${ORIGIN_IP}/32`],
      mode: 'report',
    },
    ...over,
  });
  const config = makeConfig(
    {
      main: { role: 'parent', subagents: { allowAgents: '*', maxConcurrent: 2, maxChildren: 4 } },
      learner: worker('fetch.mjs'),
      tooler: worker('tools.mjs'),
      frugal: worker('fetch.mjs', { constraints: { maxApiCalls: 0, timeoutSeconds: 15 } }),
      strict: worker('fetch.mjs', {
        tools: { allowed: ['web_fetch'] },
        network: { allowedDomains: [LISTED], allowedPorts: [443], allowedCidrs: [`${ORIGIN_IP}/32`] },
      }),
    },
    { baseDir: agentsDir },
  );
  audit = collectAudit();
  const r = testResolver({ [UNLISTED]: ORIGIN_IP, [TO_METADATA]: '169.254.169.254' });
  queries = r.queries;
  const { best } = await detectIsolation();
  orchestrator = await createOrchestrator({
    config,
    logger: audit.logger,
    resolver: r.resolver,
    tools: { lookup, exec },
    isolation: best,
  });
});

after(async () => {
  await orchestrator.close();
  // Every record report mode wrote (enforced: false, enforcing, orchestrator.report_only) is documented.
  // The in-memory test logger is plain pino: give it the audit logger's `service` and ISO time.
  for (const r of audit.records()) {
    const v = validateAuditRecord({
      ...r,
      service: 'subagent-guard',
      time: new Date(Number(r['time'])).toISOString(),
    });
    assert.ok(v.ok, `${String(r['event'])}: ${v.ok ? '' : v.issues.join('; ')}`);
  }
  await origin.close();
  removeDir(agentsDir);
});

function run(agent: string, task: unknown): Promise<Outcome> {
  return orchestrator.run({ parent: 'main', agent, task });
}

function reasonOf(o: Outcome): string | undefined {
  return o.status === 'terminated' ? o.reason : undefined;
}

function outputOf(o: Outcome): unknown {
  return o.status === 'completed' ? o.output : undefined;
}

function recordsOf(event: string, id: string): Record<string, unknown>[] {
  return audit.events(event).filter((r) => r['subagentId'] === id);
}

void describe('report-only egress with a real subagent', () => {
  void test('a host and port the allowlist refuses reach the origin and are audited once with enforced: false', async () => {
    const before = origin.connections();
    const o = await run('learner', { url: `http://${UNLISTED}:${origin.port}/small` });
    assert.equal(o.status, 'completed', JSON.stringify(o));
    assert.deepEqual(outputOf(o), { status: 200, bytes: 33 });
    assert.ok(origin.connections() > before, 'the origin was reached');
    const decisions = recordsOf('egress.decision', o.id);
    assert.equal(decisions.length, 1, JSON.stringify(decisions));
    const d = decisions[0] ?? {};
    assert.equal(d['decision'], 'allow');
    assert.equal(d['enforced'], false);
    // The port is checked first, so that is the reason enforcement would have given.
    assert.equal(d['reason'], 'port_not_allowed');
    assert.equal(d['host'], UNLISTED);
    assert.equal(d['port'], origin.port);
    assert.equal(d['address'], ORIGIN_IP);
    assert.equal(d['level'], 40, 'a not-enforced allow is a warning');
  });

  void test('the same request is refused and ends the subagent when the agent enforces', async () => {
    const o = await run('strict', { url: `http://${UNLISTED}:${origin.port}/small` });
    assert.equal(o.status, 'terminated');
    assert.equal(reasonOf(o), 'egress_denied');
    const d = recordsOf('egress.decision', o.id)[0] ?? {};
    assert.equal(d['decision'], 'deny');
    assert.equal(d['enforced'], undefined);
  });

  const refused: [string, () => string, string][] = [
    ['cloud metadata by address', () => 'http://169.254.169.254/latest/meta-data/', 'metadata_prohibited'],
    ['cloud metadata by a name resolving to it', () => `http://${TO_METADATA}/`, 'metadata_prohibited'],
    [
      'the gateway itself',
      () => `http://127.0.0.1:${orchestrator.gateway.address.port}/`,
      'address_prohibited',
    ],
  ];
  for (const [what, url, reason] of refused) {
    void test(`${what} stays refused in report mode (${reason}, egress_denied)`, async () => {
      const o = await run('learner', { url: url() });
      assert.equal(o.status, 'terminated', JSON.stringify(o));
      assert.equal(reasonOf(o), 'egress_denied');
      const decisions = recordsOf('egress.decision', o.id);
      assert.equal(decisions.length, 1, JSON.stringify(decisions));
      const d = decisions[0] ?? {};
      assert.equal(d['decision'], 'deny');
      assert.equal(d['reason'], reason);
      assert.equal(d['enforced'], undefined);
    });
  }

  void test('max_api_calls is enforced in report mode', async () => {
    const o = await run('frugal', { url: `http://${UNLISTED}:${origin.port}/small` });
    assert.equal(o.status, 'terminated', JSON.stringify(o));
    assert.equal(reasonOf(o), 'api_calls_exceeded');
  });

  void test('spawn and registration records say the agent is not enforcing', () => {
    const spawns = audit.events('subagent.spawn').filter((r) => r['agent'] === 'learner');
    assert.ok(spawns.length > 0);
    for (const s of spawns) {
      assert.equal(s['enforcing'], false);
      assert.deepEqual(s['reportOnly'], ['network', 'tools']);
      assert.equal(s['level'], 40);
    }
    const strict = audit.events('subagent.spawn').filter((r) => r['agent'] === 'strict');
    assert.ok(strict.every((s) => s['enforcing'] === true && s['reportOnly'] === undefined));
    const regs = audit.events('gateway.register').filter((r) => r['agent'] === 'learner');
    assert.ok(regs.length > 0 && regs.every((r) => r['enforcing'] === false));
    const warned = audit.events('orchestrator.report_only');
    assert.deepEqual(warned.map((w) => w['agent']).sort(), ['frugal', 'learner', 'tooler']);
    assert.ok(warned.every((w) => w['code'] === 'SG_REPORT_ONLY'));
  });

  void test('a name outside the allowlist is resolved in report mode (no DNS-before-deny; documented)', () => {
    assert.ok(queries.includes(UNLISTED));
  });
});

void describe('report-only tools with a real subagent', () => {
  void test('a tool outside tools_allowed runs and is audited once with enforced: false', async () => {
    const o = await run('tooler', { calls: [{ name: 'lookup', args: {} }] });
    assert.equal(o.status, 'completed', JSON.stringify(o));
    assert.deepEqual(outputOf(o), [{ ok: true, value: { found: true } }]);
    assert.equal(lookups, 1);
    const decisions = recordsOf('tool.decision', o.id);
    assert.equal(decisions.length, 1);
    const d = decisions[0] ?? {};
    assert.equal(d['decision'], 'allow');
    assert.equal(d['reason'], 'not_allowed');
    assert.equal(d['enforced'], false);
  });

  void test('a tool in tools_denied is refused and ends the subagent', async () => {
    const o = await run('tooler', { calls: [{ name: 'exec', args: {} }] });
    assert.equal(o.status, 'terminated', JSON.stringify(o));
    assert.equal(reasonOf(o), 'tool_denied');
    const d = recordsOf('tool.decision', o.id)[0] ?? {};
    assert.equal(d['reason'], 'denied_by_rule');
    assert.equal(d['enforced'], undefined);
  });
});

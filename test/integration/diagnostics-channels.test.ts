/**
 * The `subagent-guard:<event>` diagnostics channels carry one message per decision of a real
 * orchestrator run (spawn, refused spawn, running, tool decision and result, egress decision and
 * close, quota charge, violation, exit), with the documented fields and never a credential.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  channels,
  DiagnosticsChannels,
  subscribeTo,
  type DiagnosticsChannelName,
  type DiagnosticsMessages,
} from '../../src/observability/channels.js';
import { SpawnDeniedError } from '../../src/errors.js';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { meteredTool, paidTool } from '../helpers/cost-tools.js';
import { collectAudit } from '../helpers/spawner-audit.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import {
  removeDir,
  startLoopbackServer,
  testResolver,
  writeAgents,
  type LoopbackServer,
} from '../helpers/spawner-harness.js';

const ALLOWED = 'api.allowed.test';
const ALLOWED_IP = '127.0.0.2';

let agentsDir = '';
let api: LoopbackServer;

before(async () => {
  agentsDir = writeAgents();
  api = await startLoopbackServer(ALLOWED_IP);
});

after(async () => {
  await api.close();
  removeDir(agentsDir);
});

const paid = paidTool;
const metered = meteredTool;

void describe('diagnostics channels', () => {
  void test('every decision of a real run is published on its subagent-guard:<event> channel', async () => {
    const got = new Map<DiagnosticsChannelName, unknown[]>();
    const offs = Object.values(DiagnosticsChannels).map((name) =>
      subscribeTo(name, (m) => {
        got.set(name, [...(got.get(name) ?? []), m]);
      }),
    );
    const net: AgentSpec['network'] = {
      allowedDomains: [ALLOWED],
      allowedPorts: [api.port],
      allowedCidrs: [`${ALLOWED_IP}/32`],
    };
    const config = makeConfig(
      {
        main: { role: 'parent', subagents: { allowAgents: '*', maxConcurrent: 2, maxChildren: 8 } },
        tools: {
          entry: join(agentsDir, 'tools.mjs'),
          tools: { allowed: ['web_fetch', 'paid', 'metered'], denied: ['exec'] },
          constraints: { maxMemoryMb: 160, maxApiCalls: 8, maxCostUsd: 0.25, timeoutSeconds: 10 },
          network: net,
        },
      },
      { baseDir: agentsDir },
    );
    const { resolver } = testResolver({ [ALLOWED]: ALLOWED_IP });
    const audit = collectAudit();
    const orch = await createOrchestrator({
      config,
      tools: { paid, metered },
      resolver,
      logger: audit.logger,
    });
    let secret = '';
    try {
      const ok = orch.spawn({
        parent: 'main',
        agent: 'tools',
        task: {
          calls: [
            { name: 'web_fetch', args: { url: `http://${ALLOWED}:${api.port}/small?token=QUERY-SECRET` } },
            { name: 'paid', args: {} },
            { name: 'metered', args: {} },
          ],
        },
      });
      const denied = orch.spawn({
        parent: 'main',
        agent: 'tools',
        task: { calls: [{ name: 'exec', args: {} }] },
      });
      const [a, b] = await Promise.all([ok.result, denied.result]);
      assert.equal(a.status, 'completed', JSON.stringify(a));
      assert.equal(b.status, 'terminated');
      assert.throws(() => orch.spawn({ parent: 'main', agent: 'nobody', task: {} }), SpawnDeniedError);
      secret = ok.id;
    } finally {
      await orch.close();
      for (const off of offs) off();
    }
    const one = <K extends DiagnosticsChannelName>(name: K): DiagnosticsMessages[K][] => {
      const list = (got.get(name) ?? []) as DiagnosticsMessages[K][];
      assert.ok(list.length > 0, `nothing published on ${name}`);
      return list;
    };
    assert.equal(one(DiagnosticsChannels.Spawn).length, 2);
    assert.equal(one(DiagnosticsChannels.SpawnDenied)[0]?.reason, 'unknown_agent');
    assert.ok(one(DiagnosticsChannels.Running).every((m) => m.spawnMs > 0));
    const tools = one(DiagnosticsChannels.ToolDecision);
    assert.deepEqual(tools.map((m) => `${m.tool}:${String(m.allow)}:${m.reason}`).sort(), [
      'exec:false:denied_by_rule',
      'metered:true:allowed',
      'paid:true:allowed',
      'web_fetch:true:allowed',
    ]);
    assert.equal(one(DiagnosticsChannels.ToolResult).length, 3);
    const egress = one(DiagnosticsChannels.EgressDecision);
    assert.ok(egress.some((m) => m.host === ALLOWED && m.allow && m.reason === 'allowed'));
    assert.ok(one(DiagnosticsChannels.EgressClose).some((m) => m.host === ALLOWED && m.bytesIn > 0));
    const charges = one(DiagnosticsChannels.QuotaCharge);
    assert.ok(charges.some((m) => m.quota === 'cost_usd' && m.amount === 0.1 && m.allowed));
    assert.ok(charges.some((m) => m.quota === 'api_calls' && m.limit === 8 && m.subagentId === secret));
    // The metered tool reserved its maximum (0.1) and settled to 0.04: 0.06 came back, and the
    // running net after the refund is the two charges (0.2) minus it.
    assert.equal(charges.filter((m) => m.quota === 'cost_usd' && m.amount === 0.1 && m.allowed).length, 2);
    const refunds = one(DiagnosticsChannels.QuotaRefund);
    assert.equal(refunds.length, 1);
    const refund = refunds[0];
    assert.ok(refund !== undefined);
    assert.equal(refund.subagentId, secret);
    assert.equal(refund.quota, 'cost_usd');
    assert.ok(Math.abs(refund.amount - 0.06) < 1e-9, String(refund.amount));
    assert.ok(Math.abs(refund.used - 0.14) < 1e-9, String(refund.used));
    assert.equal(refund.limit, 0.25);
    assert.equal(one(DiagnosticsChannels.Violation)[0]?.reason, 'tool_denied');
    const exits = one(DiagnosticsChannels.Exit);
    assert.deepEqual(exits.map((m) => m.status).sort(), ['completed', 'terminated']);
    assert.ok(exits.some((m) => m.status === 'terminated' && typeof m.killMs === 'number' && m.killMs >= 0));
    const all = JSON.stringify([...got.values()]);
    assert.ok(!all.includes('QUERY-SECRET'), 'no path or query string in any message');
    assert.ok(!/password|proxy-authorization/i.test(all), 'no credential in any message');
  });

  void test('a channel reports no subscriber once the last one leaves (publishers then build nothing)', () => {
    for (const name of Object.values(DiagnosticsChannels)) {
      assert.match(name, /^subagent-guard:[a-z]+\.[a-z_]+$/);
      const off = subscribeTo(name, () => undefined);
      assert.equal(channels[name].hasSubscribers, true);
      off();
      assert.equal(channels[name].hasSubscribers, false, name);
    }
  });
});

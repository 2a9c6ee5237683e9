/**
 * Variable tool cost end to end: a real child makes concurrent calls to a tool whose maximum is
 * reserved before its handler runs and settled to what the handler reports. The cap must hold
 * under concurrency, settlement must give unused reservations back, and an overrun is the
 * parent's error, not the subagent's death.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import type { Orchestrator, ToolDefinition } from '../../src/spawner/types.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig } from '../helpers/spawner-config.js';
import { removeDir } from '../helpers/spawner-harness.js';

const PARALLEL = `export default async (task, ctx) => {
  const settled = await Promise.allSettled(
    Array.from({ length: task.n }, () => ctx.tools.call('metered', task.args)),
  );
  return settled.map((s) => (s.status === 'fulfilled' ? 'ok' : s.reason?.code ?? 'error'));
};`;

const SERIAL = `export default async (task, ctx) => {
  const out = [];
  for (let i = 0; i < task.n; i++) {
    try { await ctx.tools.call('metered', task.args); out.push('ok'); }
    catch (e) { out.push(e?.code ?? 'error'); }
  }
  return out;
};`;

let dir = '';
let ran = 0;
const metered: ToolDefinition = {
  description: 'reserves args.max, reports args.actual after a short wait',
  inputSchema: {
    type: 'object',
    properties: { max: { type: 'number' }, actual: { type: 'number' } },
    required: ['max', 'actual'],
    additionalProperties: false,
  },
  maxCostUsd: (args) => (args as { max: number }).max,
  handler: async (args, ctx) => {
    ran += 1;
    // Long enough that every concurrent call is decided while the first ones still hold their
    // reservations.
    await new Promise((r) => setTimeout(r, 150));
    ctx.reportCost?.((args as { actual: number }).actual);
    return { done: true };
  },
};

let audit: CollectedAudit;
let orchestrator: Orchestrator;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgtest-cost-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'parallel.mjs'), PARALLEL);
  writeFileSync(join(dir, 'serial.mjs'), SERIAL);
  const agent = (entry: string) => ({
    entry: join(dir, entry),
    tools: { allowed: ['metered'], denied: [] },
    constraints: { maxApiCalls: 100, maxCostUsd: 1, timeoutSeconds: 20 },
  });
  audit = collectAudit();
  orchestrator = await createOrchestrator({
    config: makeConfig(
      {
        main: {
          role: 'parent',
          subagents: { allowAgents: '*', maxConcurrent: 2, maxChildren: 4, maxSpawnsPerMinute: 100 },
        },
        parallel: agent('parallel.mjs'),
        serial: agent('serial.mjs'),
      },
      { baseDir: dir },
    ),
    logger: audit.logger,
    tools: { metered },
  });
});

after(async () => {
  await orchestrator.close();
  removeDir(dir);
});

void describe('variable tool cost with a real child', () => {
  void test('concurrent calls from a child end it with cost_exceeded exactly when a reservation would cross max_cost_usd', async () => {
    ran = 0;
    // 0.3 reserved each against 1.00: three fit (0.9), the fourth would make 1.2.
    const o = await orchestrator.run({
      parent: 'main',
      agent: 'parallel',
      task: { n: 8, args: { max: 0.3, actual: 0.3 } },
    });
    assert.ok(o.status === 'terminated', o.status);
    assert.equal(o.reason, 'cost_exceeded');
    assert.equal(ran, 3, 'only the calls whose reservation fitted reached the handler');
    assert.ok(o.usage.costUsd <= 1, `spent ${o.usage.costUsd}`);
    assert.ok(Math.abs(o.usage.costUsd - 0.9) < 1e-9, `spent ${o.usage.costUsd}`);
    const refused = audit
      .events('tool.decision')
      .filter((r) => r['subagentId'] === o.id && r['reason'] === 'cost_exceeded');
    assert.equal(refused.length, 1, 'the first refused reservation ends it; one record');
  });

  void test('settled calls give back what they did not use, so more calls fit than their maxima would allow', async () => {
    ran = 0;
    const o = await orchestrator.run({
      parent: 'main',
      agent: 'serial',
      // 5 × 0.6 reserved would be 3.00 against 1.00; settled at 0.1 each the fifth still fits
      // (0.4 spent + 0.6 reserved = exactly the cap).
      task: { n: 5, args: { max: 0.6, actual: 0.1 } },
    });
    assert.ok(o.status === 'completed', o.status);
    assert.deepEqual(o.output, Array(5).fill('ok'));
    assert.ok(Math.abs(o.usage.costUsd - 0.5) < 1e-9, `spent ${o.usage.costUsd}`);
    const results = audit.events('tool.result').filter((r) => r['subagentId'] === o.id);
    assert.equal(results.length, 5);
    assert.ok(results.every((r) => r['costUsd'] === 0.1 && r['reservedUsd'] === 0.6));
  });

  void test('a handler that reports more than it reserved fails that call with SG_TOOL_COST_OVERRUN; the subagent keeps running', async () => {
    const o = await orchestrator.run({
      parent: 'main',
      agent: 'serial',
      task: { n: 2, args: { max: 0.1, actual: 0.2 } },
    });
    assert.ok(o.status === 'completed', o.status);
    assert.deepEqual(o.output, ['SG_TOOL_COST_OVERRUN', 'SG_TOOL_COST_OVERRUN']);
    // Charged exactly the reservations: the cap accounting never absorbs an overrun.
    assert.ok(Math.abs(o.usage.costUsd - 0.2) < 1e-9, `spent ${o.usage.costUsd}`);
  });
});

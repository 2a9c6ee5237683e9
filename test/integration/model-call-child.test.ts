/**
 * model_call from a real sandboxed child: the child gets the answer and usage but can find the
 * key nowhere it can look (environment, arguments, files it can read, the answer, its own output),
 * and concurrent calls end it with cost_exceeded exactly when a reservation would cross the cap.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import type { Orchestrator } from '../../src/spawner/types.js';
import { modelCallTool } from '../../src/tools/model/model-call.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig } from '../helpers/spawner-config.js';
import { startModelServer, type ModelServer } from '../helpers/model-server.js';
import { removeDir } from '../helpers/spawner-harness.js';

const HOST = '127.0.0.4';
const KEY = `sk-child-${randomBytes(16).toString('hex')}`;
const ENV = 'SG_TEST_MODEL_KEY_CHILD';

const SNOOP = `import { readFileSync, readdirSync } from 'node:fs';
export default async (task, ctx) => {
  const answer = await ctx.tools.call('model_call', task.args);
  const seen = [JSON.stringify(process.env), JSON.stringify(process.argv), JSON.stringify(process.execArgv)];
  for (const p of ['/proc/self/environ', '/proc/self/cmdline', '/proc/1/environ', '/proc/' + process.ppid + '/environ']) {
    try { seen.push(readFileSync(p, 'latin1')); } catch {}
  }
  try { for (const d of readdirSync('/proc')) { try { seen.push(readFileSync('/proc/' + d + '/environ', 'latin1')); } catch {} } } catch {}
  console.log(seen.join('\\n'));
  return { answer, seen: seen.join('\\n') };
};`;

const PARALLEL = `export default async (task, ctx) => {
  const r = await Promise.allSettled(Array.from({ length: task.n }, () => ctx.tools.call('model_call', task.args)));
  return r.map((x) => (x.status === 'fulfilled' ? 'ok' : x.reason?.code ?? 'error'));
};`;

let dir = '';
let server: ModelServer;
let audit: CollectedAudit;
let orchestrator: Orchestrator;

// $1 per 1,000 output tokens, input free: a call with maxTokens 100 reserves exactly 0.1 USD.
const PRICES = { tiny: { inputPerMTok: 0, outputPerMTok: 1000 } };
const ARGS = { model: 'tiny', messages: [{ role: 'user', content: 'summarise this' }], maxTokens: 100 };

before(async () => {
  process.env[ENV] = KEY;
  server = await startModelServer({
    host: HOST,
    key: KEY,
    usage: { input: 5, output: 100, cached: 0 },
    delayMs: 300,
  });
  dir = mkdtempSync(join(tmpdir(), 'sgtest-model-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'snoop.mjs'), SNOOP);
  writeFileSync(join(dir, 'parallel.mjs'), PARALLEL);
  const agent = (entry: string) => ({
    entry: join(dir, entry),
    tools: { allowed: ['model_call'], denied: [] },
    constraints: { maxApiCalls: 50, maxCostUsd: 0.25, timeoutSeconds: 20 },
  });
  audit = collectAudit();
  orchestrator = await createOrchestrator({
    config: makeConfig(
      {
        main: {
          role: 'parent',
          subagents: { allowAgents: '*', maxConcurrent: 2, maxChildren: 4, maxSpawnsPerMinute: 100 },
        },
        snoop: agent('snoop.mjs'),
        parallel: agent('parallel.mjs'),
      },
      { baseDir: dir },
    ),
    logger: audit.logger,
    tools: {
      model_call: modelCallTool({
        provider: 'openai-chat',
        baseUrl: `${server.url}/v1`,
        apiKey: { env: ENV },
        prices: PRICES,
        agents: {
          snoop: { models: ['tiny'], maxTokens: 100 },
          parallel: { models: ['tiny'], maxTokens: 100 },
        },
        allowedCidrs: [`${HOST}/32`],
      }),
    },
  });
});

after(async () => {
  await orchestrator.close();
  await server.close();
  removeDir(dir);
  Reflect.deleteProperty(process.env, ENV);
});

void describe('model_call from a sandboxed child', () => {
  void test('the child gets the answer and usage; the key is nowhere it can look, nor in the audit log', async () => {
    const o = await orchestrator.run({ parent: 'main', agent: 'snoop', task: { args: ARGS } });
    assert.ok(o.status === 'completed', JSON.stringify(o));
    const out = o.output as { answer: unknown; seen: string };
    assert.deepEqual(out.answer, {
      text: 'chat answer',
      usage: { inputTokens: 5, outputTokens: 100, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    });
    assert.ok(out.seen.length > 0);
    assert.ok(
      !out.seen.includes(KEY),
      'the key is not in the child’s environment, arguments or readable files',
    );
    assert.ok(!out.seen.includes(ENV), 'not even the variable’s name');
    assert.ok(!audit.text().includes(KEY), 'the key is never audited');
    assert.ok(Math.abs(o.usage.costUsd - 0.1) < 1e-9, `cost ${o.usage.costUsd}`);
    assert.equal(server.requests.at(-1)?.headers['authorization'], `Bearer ${KEY}`);
  });

  void test('concurrent calls end the child with cost_exceeded exactly when a reservation would cross max_cost_usd', async () => {
    const before = server.requests.length;
    // 0.1 reserved per call against 0.25: two fit, the third would make 0.3.
    const o = await orchestrator.run({ parent: 'main', agent: 'parallel', task: { n: 6, args: ARGS } });
    assert.ok(o.status === 'terminated', JSON.stringify(o));
    assert.equal(o.reason, 'cost_exceeded');
    assert.ok(o.usage.costUsd <= 0.25, `spent ${o.usage.costUsd}`);
    // At most the two admitted calls reached the provider (ending the child aborts them, maybe
    // before they were sent); an aborted call keeps its reservation, as the provider may bill it.
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(server.requests.length - before <= 2, `${server.requests.length - before} requests`);
    const refused = audit
      .events('tool.decision')
      .filter((r) => r['subagentId'] === o.id && r['reason'] === 'cost_exceeded');
    assert.equal(refused.length, 1);
  });
});

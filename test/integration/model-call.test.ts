/**
 * model_call through the real broker against a loopback server speaking each provider's
 * documented wire format: the key arrives in the provider's header, the cost is the reported
 * usage × the price table, and nothing the subagent or the audit log sees carries the key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ToolAcl } from '../../src/policy/tools.js';
import { Meter } from '../../src/spawner/meter.js';
import { ToolBroker, type BrokerOutcome, type BrokerSession } from '../../src/tools/broker.js';
import { modelCallTool, type ModelCallOptions } from '../../src/tools/model/model-call.js';
import { collectAudit } from '../helpers/spawner-audit.js';
import { startModelServer, type ModelServer } from '../helpers/model-server.js';

const HOST = '127.0.0.3';
const KEY = `sk-test-${randomBytes(16).toString('hex')}`;
const ENV = 'SG_TEST_MODEL_KEY_BROKER';
const USAGE = { input: 1000, output: 200, cached: 400, cacheWrite: 100 };
const PRICE = { inputPerMTok: 3, cachedInputPerMTok: 0.3, cacheWriteInputPerMTok: 3.75, outputPerMTok: 15 };

let server: ModelServer;

before(async () => {
  process.env[ENV] = KEY;
  server = await startModelServer({ host: HOST, key: KEY, usage: USAGE });
});

after(async () => {
  Reflect.deleteProperty(process.env, ENV);
  await server.close();
});

function session(agent: string, maxCostUsd = 1): BrokerSession & { meter: Meter } {
  const meter = new Meter({
    maxMemoryMb: 256,
    maxApiCalls: 100,
    maxCostUsd,
    timeoutSeconds: 60,
    noMemoryPersistence: true,
  });
  return {
    subagentId: 'sub-1',
    agent,
    parent: 'main',
    acl: new ToolAcl({ allowed: ['model_call'], denied: [] }),
    takeApiCall: () => meter.takeApiCall(),
    reserveCost: (usd) => meter.reserveCost(usd),
    settleCost: (r, c) => {
      meter.settleCost(r, c);
    },
    signal: new AbortController().signal,
    proxyUrl: 'http://u:p@127.0.0.1:1',
    meter,
  };
}

const spent = (s: { meter: Meter }): number =>
  s.meter.usage(0, { requests: 0, bytesIn: 0, bytesOut: 0 }).costUsd;

function tool(over: Partial<ModelCallOptions> = {}): ModelCallOptions {
  return {
    provider: 'openai-chat',
    baseUrl: `${server.url}/v1`,
    apiKey: { env: ENV },
    prices: { 'test-model': PRICE, other: PRICE },
    agents: { writer: { models: ['test-model'], maxTokens: 300 } },
    allowedCidrs: [`${HOST}/32`],
    ...over,
  };
}

const ARGS = {
  model: 'test-model',
  messages: [
    { role: 'system', content: 'be brief' },
    // Long enough that the usage the server reports is possible: a token is at least a byte.
    { role: 'user', content: 'hello '.repeat(400) },
  ],
  maxTokens: 256,
};

async function call(opts: ModelCallOptions, args: unknown = ARGS, s = session('writer')) {
  const audit = collectAudit();
  const broker = new ToolBroker({ tools: { model_call: modelCallTool(opts) }, logger: audit.logger });
  const out: BrokerOutcome = await broker.call(s, 'model_call', args);
  return { out, audit, s };
}

void describe('model_call against each provider’s wire format', () => {
  const cases = [
    { provider: 'openai-chat', base: '/v1', path: '/v1/chat/completions', text: 'chat answer', openai: true },
    {
      provider: 'openai-responses',
      base: '/v1',
      path: '/v1/responses',
      text: 'responses answer',
      openai: true,
    },
    { provider: 'anthropic', base: '', path: '/v1/messages', text: 'anthropic answer', openai: false },
  ] as const;
  for (const c of cases) {
    void test(`${c.provider}: the key goes in its header, the child gets the answer and usage, the cost is usage × price`, async () => {
      const before = server.requests.length;
      const { out, audit, s } = await call(tool({ provider: c.provider, baseUrl: `${server.url}${c.base}` }));
      assert.equal(out.kind, 'ok', JSON.stringify(out));
      const seen = server.requests.slice(before);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.path, c.path);
      const usage = c.openai
        ? { inputTokens: 1000, outputTokens: 200, cachedInputTokens: 400, cacheWriteInputTokens: 0 }
        : { inputTokens: 1000, outputTokens: 200, cachedInputTokens: 400, cacheWriteInputTokens: 100 };
      assert.deepEqual(out.value, { text: c.text, usage });
      const expected =
        (usage.inputTokens * 3 +
          usage.cachedInputTokens * 0.3 +
          usage.cacheWriteInputTokens * 3.75 +
          200 * 15) /
        1e6;
      assert.ok(Math.abs(spent(s) - expected) < 1e-9, `spent ${spent(s)}, expected ${expected}`);
      const result = audit.events('tool.result')[0];
      assert.ok(result !== undefined && Math.abs(Number(result['costUsd']) - expected) < 1e-9);
      assert.ok(Number(result['reservedUsd']) >= expected, 'the reservation bounded the actual cost');
      assert.ok(!audit.text().includes(KEY), 'the key is never audited');
      const body = seen[0].body;
      if (c.provider === 'anthropic') assert.equal(body['system'], 'be brief');
      if (c.provider === 'openai-responses') assert.equal(body['instructions'], 'be brief');
    });
  }

  void test('a model outside the agent’s list, or over its token limit, is SG_MODEL_NOT_ALLOWED and sends nothing', async () => {
    const before = server.requests.length;
    for (const [agent, args] of [
      ['writer', { ...ARGS, model: 'other' }],
      ['writer', { ...ARGS, model: 'unpriced' }],
      ['stranger', ARGS],
      ['writer', { ...ARGS, maxTokens: 301 }],
    ] as const) {
      const { out, s } = await call(tool(), args, session(agent));
      assert.equal(
        out.kind === 'error' ? out.error.code : out.kind,
        'SG_MODEL_NOT_ALLOWED',
        `${agent} ${JSON.stringify(args)}`,
      );
      assert.equal(spent(s), 0);
    }
    assert.equal(server.requests.length, before);
  });

  void test('an unset key variable is SG_MODEL_KEY_MISSING; a literal key in the options is refused up front', async () => {
    const { out, s } = await call(tool({ apiKey: { env: 'SG_TEST_MODEL_KEY_UNSET' } }));
    assert.equal(out.kind === 'error' ? out.error.code : out.kind, 'SG_MODEL_KEY_MISSING');
    assert.equal(spent(s), 0);
    assert.throws(() => modelCallTool(tool({ apiKey: KEY as unknown as { env: string } })), {
      code: 'SG_TOOL_DEFINITION_INVALID',
    });
  });

  void test('a loopback provider is refused unless its range is configured: SG_MODEL_UPSTREAM, no connection', async () => {
    const before = server.connections();
    const { out, s } = await call(tool({ allowedCidrs: [] }));
    assert.equal(out.kind === 'error' ? out.error.code : out.kind, 'SG_MODEL_UPSTREAM');
    assert.match(out.kind === 'error' ? out.error.message : '', /address_prohibited/);
    assert.equal(server.connections(), before);
    assert.equal(spent(s), 0);
    // A name that resolves to a metadata address is refused even with a broad exception.
    const meta = await call(
      tool({
        baseUrl: 'http://models.internal.test/v1',
        allowedCidrs: ['169.254.0.0/16'],
        resolver: () => Promise.resolve([{ address: '169.254.169.254', family: 4 }]),
      }),
    );
    assert.match(meta.out.kind === 'error' ? meta.out.error.message : '', /metadata_prohibited/);
  });

  void test('an upstream error that echoes the key reaches neither the subagent nor the audit log', async () => {
    const failing = await startModelServer({ host: HOST, key: KEY, usage: USAGE, failWith: 401 });
    try {
      const { out, audit, s } = await call(tool({ baseUrl: `${failing.url}/v1` }));
      assert.equal(out.kind === 'error' ? out.error.code : out.kind, 'SG_MODEL_UPSTREAM');
      assert.match(out.kind === 'error' ? out.error.message : '', /HTTP 401 \(invalid_api_key\)/);
      assert.ok(!JSON.stringify(out).includes(KEY));
      assert.ok(!audit.text().includes(KEY));
      assert.equal(spent(s), 0, 'a refused request is not billed');
    } finally {
      await failing.close();
    }
  });

  void test('usage beyond what the reservation allowed is SG_TOOL_COST_OVERRUN, charged exactly the reservation', async () => {
    // 1,500 input tokens reported for a 5-byte prompt: impossible for a real tokenizer.
    const { out, audit, s } = await call(tool(), { ...ARGS, messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(out.kind === 'error' ? out.error.code : out.kind, 'SG_TOOL_COST_OVERRUN');
    const reserved = Number(audit.events('tool.result')[0]?.['reservedUsd']);
    assert.ok(
      reserved > 0 && Math.abs(spent(s) - reserved) < 1e-12,
      `spent ${spent(s)}, reserved ${reserved}`,
    );
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolError } from '../../../src/errors.js';
import { MAX_ERROR_MESSAGE_TO_CHILD } from '../../../src/ipc/limits.js';
import { ToolAcl } from '../../../src/policy/tools.js';
import { ToolBroker, type BrokerSession } from '../../../src/tools/broker.js';
import type { ToolDefinition } from '../../../src/tools/types.js';
import { collectAudit } from '../../helpers/spawner-audit.js';

function session(
  allowed: string[],
  denied: string[] = [],
  budget: { calls?: number; costUsd?: number } = {},
): BrokerSession & { calls: () => number; cost: () => number } {
  let calls = 0;
  let cost = 0;
  const maxCalls = budget.calls ?? 10;
  const maxCost = budget.costUsd ?? 0;
  return {
    subagentId: 'sub-1',
    agent: 'worker',
    parent: 'main',
    acl: new ToolAcl({ allowed, denied }),
    takeApiCall: () => (calls < maxCalls ? (calls++, true) : false),
    reserveCost: (usd) => (cost + usd <= maxCost + 1e-9 ? ((cost += usd), true) : false),
    signal: new AbortController().signal,
    proxyUrl: 'http://sub-1:secret-password@127.0.0.1:1',
    calls: () => calls,
    cost: () => cost,
  };
}

function echoTool(over: Partial<ToolDefinition> = {}): ToolDefinition {
  return {
    description: 'echo',
    inputSchema: {
      type: 'object',
      properties: { x: { type: 'number' } },
      required: ['x'],
      additionalProperties: false,
    },
    handler: (args) => Promise.resolve({ echoed: args }),
    ...over,
  };
}

void describe('ToolBroker', () => {
  void test('an allowed call with valid args runs the handler and counts one API call', async () => {
    const audit = collectAudit();
    const broker = new ToolBroker({ tools: { echo: echoTool() }, logger: audit.logger });
    const s = session(['echo']);
    const out = await broker.call(s, 'echo', { x: 1 });
    assert.deepEqual(out, { kind: 'ok', value: { echoed: { x: 1 } } });
    assert.equal(s.calls(), 1);
    const decisions = audit.events('tool.decision');
    assert.equal(decisions.length, 1);
    assert.equal(decisions[0]?.['decision'], 'allow');
    assert.equal(audit.events('tool.result').length, 1);
  });

  void test('denied, not-allowed and unknown tools are tool_denied violations and the handler never runs', async (t) => {
    let ran = 0;
    const tools = { echo: echoTool({ handler: () => ((ran += 1), Promise.resolve(null)) }) };
    const cases = [
      { name: 'denied by rule', allowed: ['*'], denied: ['echo'], tool: 'echo', reason: 'denied_by_rule' },
      {
        name: 'not in the allowlist',
        allowed: ['web_fetch'],
        denied: [],
        tool: 'echo',
        reason: 'not_allowed',
      },
      { name: 'allowed but undefined', allowed: ['*'], denied: [], tool: 'ghost', reason: 'unknown_tool' },
      {
        name: 'alias of a denied tool',
        allowed: ['*'],
        denied: ['exec'],
        tool: 'BASH',
        reason: 'denied_by_rule',
      },
    ];
    for (const c of cases) {
      await t.test(c.name, async () => {
        const audit = collectAudit();
        const broker = new ToolBroker({ tools, logger: audit.logger });
        const s = session(c.allowed, c.denied);
        const out = await broker.call(s, c.tool, { x: 1 });
        assert.ok(out.kind === 'violation');
        assert.equal(out.reason, 'tool_denied');
        assert.equal(s.calls(), 0, 'a denied call consumes no budget');
        const decisions = audit.events('tool.decision');
        assert.equal(decisions.length, 1);
        assert.equal(decisions[0]?.['reason'], c.reason);
      });
    }
    assert.equal(ran, 0);
  });

  void test('invalid args are an error result (SG_TOOL_ARGS_INVALID), not a violation', async () => {
    let ran = 0;
    const broker = new ToolBroker({
      tools: { echo: echoTool({ handler: () => ((ran += 1), Promise.resolve(null)) }) },
      logger: collectAudit().logger,
    });
    const out = await broker.call(session(['echo']), 'echo', { x: 'not a number', extra: true });
    assert.ok(out.kind === 'error');
    assert.equal(out.error.code, 'SG_TOOL_ARGS_INVALID');
    assert.equal(ran, 0);
  });

  void test('a handler error reaches the subagent clipped to MAX_ERROR_MESSAGE_TO_CHILD', async () => {
    const long = 'e'.repeat(MAX_ERROR_MESSAGE_TO_CHILD * 5);
    const broker = new ToolBroker({
      tools: {
        plain: echoTool({ inputSchema: {}, handler: () => Promise.reject(new Error(long)) }),
        coded: echoTool({
          inputSchema: {},
          handler: () => Promise.reject(new ToolError('SG_TOOL_FAILED', long)),
        }),
      },
      logger: collectAudit().logger,
    });
    const plain = await broker.call(session(['plain']), 'plain', {});
    const coded = await broker.call(session(['coded']), 'coded', {});
    assert.ok(plain.kind === 'error' && coded.kind === 'error');
    assert.equal(plain.error.message, `tool 'plain' failed: ${long.slice(0, MAX_ERROR_MESSAGE_TO_CHILD)}`);
    assert.equal(coded.error.message, long.slice(0, MAX_ERROR_MESSAGE_TO_CHILD));
  });

  void test('the call beyond max_api_calls is refused as api_calls_exceeded', async () => {
    const broker = new ToolBroker({ tools: { echo: echoTool() }, logger: collectAudit().logger });
    const s = session(['echo'], [], { calls: 2 });
    assert.equal((await broker.call(s, 'echo', { x: 1 })).kind, 'ok');
    assert.equal((await broker.call(s, 'echo', { x: 2 })).kind, 'ok');
    const third = await broker.call(s, 'echo', { x: 3 });
    assert.deepEqual(third.kind === 'violation' ? third.reason : third.kind, 'api_calls_exceeded');
  });

  void test('the call that would exceed max_cost_usd is refused before its handler runs', async () => {
    let ran = 0;
    const broker = new ToolBroker({
      tools: { paid: echoTool({ costUsd: 0.1, handler: () => ((ran += 1), Promise.resolve(1)) }) },
      logger: collectAudit().logger,
    });
    const s = session(['paid'], [], { costUsd: 0.25 });
    assert.equal((await broker.call(s, 'paid', { x: 1 })).kind, 'ok');
    assert.equal((await broker.call(s, 'paid', { x: 1 })).kind, 'ok');
    const third = await broker.call(s, 'paid', { x: 1 });
    assert.equal(third.kind === 'violation' ? third.reason : third.kind, 'cost_exceeded');
    assert.equal(ran, 2);
  });

  void test('handler failures, non-JSON and oversized results are error results', async (t) => {
    const cases: { name: string; handler: ToolDefinition['handler']; code: string }[] = [
      { name: 'throws', handler: () => Promise.reject(new Error('boom')), code: 'SG_TOOL_FAILED' },
      {
        name: 'throws a GuardError',
        handler: () => Promise.reject(new ToolError('SG_TOOL_ARGS_INVALID', 'nope')),
        code: 'SG_TOOL_ARGS_INVALID',
      },
      { name: 'returns a BigInt', handler: () => Promise.resolve(10n), code: 'SG_TOOL_FAILED' },
      { name: 'returns too much', handler: () => Promise.resolve('x'.repeat(2000)), code: 'SG_TOOL_FAILED' },
    ];
    for (const c of cases) {
      await t.test(c.name, async () => {
        const broker = new ToolBroker({
          tools: { t: echoTool({ handler: c.handler }) },
          logger: collectAudit().logger,
          maxResultBytes: 1000,
        });
        const out = await broker.call(session(['t']), 't', { x: 1 });
        assert.ok(out.kind === 'error');
        assert.equal(out.error.code, c.code);
      });
    }
  });

  void test('user handlers never receive the subagent credential', async () => {
    let seen: unknown;
    const broker = new ToolBroker({
      tools: { spy: echoTool({ handler: (_a, ctx) => ((seen = ctx), Promise.resolve(null)) }) },
      logger: collectAudit().logger,
    });
    await broker.call(session(['spy']), 'spy', { x: 1 });
    assert.deepEqual(Object.keys(seen as object).sort(), ['agent', 'reportCost', 'signal', 'subagentId']);
    assert.ok(!JSON.stringify(seen).includes('secret-password'));
  });

  void test('invalid tool definitions are rejected up front with SG_TOOL_DEFINITION_INVALID, naming the tool', () => {
    const logger = collectAudit().logger;
    const bad = [
      { description: 'x', inputSchema: { type: 'nonsense' }, handler: () => Promise.resolve(null) },
      { description: 'x', inputSchema: {}, handler: 'not a function' },
      { description: 'x', inputSchema: {}, costUsd: -1, handler: () => Promise.resolve(null) },
    ];
    for (const def of bad) {
      assert.throws(
        () => new ToolBroker({ tools: { bad: def as unknown as ToolDefinition }, logger }),
        (err: unknown) =>
          err instanceof ToolError &&
          err.code === 'SG_TOOL_DEFINITION_INVALID' &&
          err.message.includes("tool 'bad'"),
      );
    }
  });

  void test('the audit log never contains tool arguments', async () => {
    const audit = collectAudit();
    const broker = new ToolBroker({ tools: { echo: echoTool({ inputSchema: {} }) }, logger: audit.logger });
    await broker.call(session(['echo']), 'echo', { token: 'TOP-SECRET-ARG' });
    assert.ok(!audit.text().includes('TOP-SECRET-ARG'));
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolAcl } from '../../../src/policy/tools.js';
import { Meter } from '../../../src/spawner/meter.js';
import { ToolBroker, type BrokerOutcome, type BrokerSession } from '../../../src/tools/broker.js';
import type { ToolContext, ToolDefinition } from '../../../src/tools/types.js';
import { collectAudit } from '../../helpers/spawner-audit.js';

/** A session whose cost budget is the spawner's real Meter. */
function session(maxCostUsd: number): BrokerSession & { meter: Meter } {
  const meter = new Meter({
    maxMemoryMb: 256,
    maxApiCalls: 1000,
    maxCostUsd,
    timeoutSeconds: 60,
    noMemoryPersistence: true,
  });
  return {
    subagentId: 'sub-1',
    agent: 'worker',
    parent: 'main',
    acl: new ToolAcl({ allowed: ['*'], denied: [] }),
    takeApiCall: () => meter.takeApiCall(),
    reserveCost: (usd) => meter.reserveCost(usd),
    settleCost: (reserved, charged) => {
      meter.settleCost(reserved, charged);
    },
    signal: new AbortController().signal,
    proxyUrl: 'http://sub-1:secret-password@127.0.0.1:1',
    meter,
  };
}

const spent = (s: { meter: Meter }): number =>
  s.meter.usage(0, { requests: 0, bytesIn: 0, bytesOut: 0 }).costUsd;

const schema = {
  type: 'object',
  // Untyped: ajv refuses NaN and Infinity as numbers, and these tests pass them through on purpose.
  properties: { max: {}, actual: {} },
  required: ['max', 'actual'],
  additionalProperties: false,
};

/** A tool that reserves args.max and reports args.actual (a negative actual: reports nothing). */
function variable(over: Partial<ToolDefinition> = {}): ToolDefinition {
  return {
    description: 'variable',
    inputSchema: schema,
    maxCostUsd: (args) => (args as { max: number }).max,
    handler: (args, ctx) => {
      const { actual } = args as { actual: number };
      if (actual >= 0) ctx.reportCost?.(actual);
      return Promise.resolve({ ok: true });
    },
    ...over,
  };
}

const codeOf = (o: BrokerOutcome): string =>
  o.kind === 'error' ? o.error.code : o.kind === 'violation' ? o.reason : 'ok';

void describe('ToolBroker variable cost (reserve, then settle)', () => {
  void test('a call reserves its maximum, then is charged what the handler reported', async () => {
    const audit = collectAudit();
    const broker = new ToolBroker({ tools: { v: variable() }, logger: audit.logger });
    const s = session(1);
    const out = await broker.call(s, 'v', { max: 0.5, actual: 0.123456789 });
    assert.equal(codeOf(out), 'ok');
    assert.equal(spent(s), 0.123456789);
    const result = audit.events('tool.result')[0];
    assert.equal(result?.['costUsd'], 0.123456789);
    assert.equal(result['reservedUsd'], 0.5);
    assert.equal(audit.events('tool.result').length, 1);
    assert.equal(audit.events('tool.decision').length, 1);
  });

  void test('while a call runs its whole reservation counts; what it did not use is given back', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const broker = new ToolBroker({
      tools: {
        v: variable({
          handler: async (_a, ctx) => {
            await gate;
            ctx.reportCost?.(0.01);
            return null;
          },
        }),
      },
      logger: collectAudit().logger,
    });
    const s = session(1);
    const pending = broker.call(s, 'v', { max: 0.6, actual: 0 });
    assert.equal(spent(s), 0.6);
    // A second call that would fit only after the first settles is refused now.
    const second = broker.call(s, 'v', { max: 0.5, actual: 0 });
    assert.equal(codeOf(await second), 'cost_exceeded');
    release();
    assert.equal(codeOf(await pending), 'ok');
    assert.equal(spent(s), 0.01);
  });

  void test('concurrent calls never pass the cap: exactly the ones whose reservation fits are admitted', async () => {
    let ran = 0;
    const gates: (() => void)[] = [];
    const broker = new ToolBroker({
      tools: {
        v: variable({
          handler: async (_a, ctx) => {
            ran += 1;
            await new Promise<void>((r) => gates.push(r));
            ctx.reportCost?.(0.3);
            return null;
          },
        }),
      },
      logger: collectAudit().logger,
    });
    const s = session(1);
    // 0.3 each: three fit in 1.0 (0.9), the fourth would make 1.2.
    const calls = Array.from({ length: 10 }, () => broker.call(s, 'v', { max: 0.3, actual: 0 }));
    await new Promise((r) => setImmediate(r));
    assert.equal(ran, 3);
    for (const g of gates) g();
    const codes = (await Promise.all(calls.map((c) => Promise.resolve(c)))).map(codeOf);
    assert.deepEqual(codes.slice(0, 3), ['ok', 'ok', 'ok']);
    assert.ok(codes.slice(3).every((c) => c === 'cost_exceeded'));
    assert.ok(Math.abs(spent(s) - 0.9) < 1e-12);
  });

  void test('a reservation exactly at the cap is admitted; one nano-dollar more is cost_exceeded', async () => {
    const broker = new ToolBroker({ tools: { v: variable() }, logger: collectAudit().logger });
    const s = session(0.25);
    assert.equal(codeOf(await broker.call(s, 'v', { max: 0.25, actual: 0.25 })), 'ok');
    const t = session(0.25);
    assert.equal(codeOf(await broker.call(t, 'v', { max: 0.250000001, actual: 0 })), 'cost_exceeded');
    assert.equal(spent(t), 0);
  });

  void test('a handler that reports nothing is charged its whole reservation', async () => {
    const broker = new ToolBroker({ tools: { v: variable() }, logger: collectAudit().logger });
    const s = session(1);
    assert.equal(codeOf(await broker.call(s, 'v', { max: 0.2, actual: -1 })), 'ok');
    assert.equal(spent(s), 0.2);
  });

  void test('a handler that throws after reporting is charged what it reported', async () => {
    const broker = new ToolBroker({
      tools: {
        v: variable({
          handler: (_a, ctx) => {
            ctx.reportCost?.(0.05);
            return Promise.reject(new Error('upstream broke'));
          },
        }),
      },
      logger: collectAudit().logger,
    });
    const s = session(1);
    assert.equal(codeOf(await broker.call(s, 'v', { max: 0.2, actual: 0 })), 'SG_TOOL_FAILED');
    assert.equal(spent(s), 0.05);
  });

  void test('reporting more than reserved is SG_TOOL_COST_OVERRUN, charged the reservation, even if the handler swallows it', async () => {
    const audit = collectAudit();
    let thrown: unknown;
    const broker = new ToolBroker({
      tools: {
        v: variable({
          handler: (_a, ctx) => {
            try {
              ctx.reportCost?.(0.3);
            } catch (err) {
              thrown = err;
            }
            return Promise.resolve({ answer: 'fine' });
          },
        }),
      },
      logger: audit.logger,
    });
    const s = session(1);
    const out = await broker.call(s, 'v', { max: 0.2, actual: 0 });
    assert.equal(codeOf(out), 'SG_TOOL_COST_OVERRUN');
    assert.equal((thrown as { code?: string }).code, 'SG_TOOL_COST_OVERRUN');
    assert.equal(spent(s), 0.2);
    const results = audit.events('tool.result');
    assert.equal(results.length, 1);
    assert.equal(results[0]?.['code'], 'SG_TOOL_COST_OVERRUN');
    assert.equal(results[0]['costUsd'], 0.2);
  });

  void test('invalid figures are SG_TOOL_COST_INVALID: before the handler for a maximum, after it for a report', async (t) => {
    const cases: {
      name: string;
      def: Partial<ToolDefinition>;
      args: object;
      ran: boolean;
      charged: number;
    }[] = [
      { name: 'maximum is NaN', def: {}, args: { max: Number.NaN, actual: 0 }, ran: false, charged: 0 },
      { name: 'maximum is negative', def: {}, args: { max: -1, actual: 0 }, ran: false, charged: 0 },
      {
        name: 'maximum function throws',
        def: {
          maxCostUsd: () => {
            throw new Error('no');
          },
        },
        args: { max: 0, actual: 0 },
        ran: false,
        charged: 0,
      },
      {
        name: 'maximum is not a number',
        def: { maxCostUsd: () => '0.1' as unknown as number },
        args: { max: 0, actual: 0 },
        ran: false,
        charged: 0,
      },
      { name: 'report is negative', def: {}, args: { max: 0.1, actual: -0.5 }, ran: true, charged: 0.1 },
      { name: 'report is infinite', def: {}, args: { max: 0.1, actual: Infinity }, ran: true, charged: 0.1 },
    ];
    for (const c of cases) {
      await t.test(c.name, async () => {
        let ran = false;
        const audit = collectAudit();
        const broker = new ToolBroker({
          tools: {
            v: variable({
              handler: (args, ctx) => {
                ran = true;
                const { actual } = args as { actual: number };
                if (actual !== 0) ctx.reportCost?.(actual);
                return Promise.resolve(null);
              },
              ...c.def,
            }),
          },
          logger: audit.logger,
        });
        const s = session(1);
        const out = await broker.call(s, 'v', c.args);
        assert.equal(codeOf(out), 'SG_TOOL_COST_INVALID');
        assert.equal(ran, c.ran);
        assert.equal(spent(s), c.charged);
        // Exactly one record says how the call ended.
        const finals = c.ran ? audit.events('tool.result') : audit.events('tool.decision');
        assert.equal(finals.length, 1);
        if (!c.ran) assert.equal(finals[0]?.['reason'], 'cost_invalid');
        assert.equal(audit.events('tool.result').length, c.ran ? 1 : 0);
      });
    }
  });

  void test('a report after the call ended throws SG_TOOL_COST_INVALID and changes nothing', async () => {
    let late: ToolContext['reportCost'];
    const broker = new ToolBroker({
      tools: {
        v: variable({
          handler: (_a, ctx) => {
            late = ctx.reportCost;
            ctx.reportCost?.(0.01);
            return Promise.resolve(null);
          },
        }),
      },
      logger: collectAudit().logger,
    });
    const s = session(1);
    assert.equal(codeOf(await broker.call(s, 'v', { max: 0.1, actual: 0 })), 'ok');
    assert.throws(() => late?.(0.01), { code: 'SG_TOOL_COST_INVALID' });
    assert.equal(spent(s), 0.01);
  });

  void test('an invalid numeric maxCostUsd is refused when the broker is built (SG_TOOL_DEFINITION_INVALID)', () => {
    const logger = collectAudit().logger;
    assert.throws(
      () =>
        new ToolBroker({
          tools: { v: variable({ maxCostUsd: -1 }) },
          logger,
        }),
      { code: 'SG_TOOL_DEFINITION_INVALID' },
    );
  });
});

/**
 * The parent's message handler as a safety net and a log-rate limiter: whatever throws or rejects
 * while acting on a child's message ends that child with one `protocol_violation`; `log` lines
 * over the rate are dropped and counted, and a flood far beyond it is a violation.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import type { ParentMessage } from '../../../src/ipc/index.js';
import {
  LOG_BURST_LINES,
  LOG_FLOOD_BURST_LINES,
  LOG_FLOOD_LINES_PER_SECOND,
  LOG_LINES_PER_SECOND,
} from '../../../src/ipc/limits.js';
import { ToolAcl } from '../../../src/policy/tools.js';
import { ChildMessageHandler } from '../../../src/spawner/messages.js';
import { Meter } from '../../../src/spawner/meter.js';
import type { Outcome } from '../../../src/spawner/types.js';
import { ToolBroker, type BrokerSession } from '../../../src/tools/broker.js';
import { eventually } from '../../helpers/eventually.js';
import { collectAudit } from '../../helpers/spawner-audit.js';
import { makeAgent } from '../../helpers/spawner-config.js';

interface Harness {
  handler: ChildMessageHandler;
  sent: ParentMessage[];
  ends: { reason: string; detail: string }[];
  clock: { ms: number };
}

function harness(
  opts: {
    broker?: ToolBroker;
    spawn?: () => { result: Promise<Outcome> };
    logger?: Logger;
  } = {},
): Harness {
  const sent: ParentMessage[] = [];
  const ends: { reason: string; detail: string }[] = [];
  const clock = { ms: 0 };
  const logger: Logger = opts.logger ?? pino({ level: 'silent' });
  const session: BrokerSession = {
    subagentId: 's1',
    agent: 'worker',
    parent: 'main',
    acl: new ToolAcl({ allowed: ['echo'], denied: [] }),
    takeApiCall: () => true,
    reserveCost: () => true,
    signal: new AbortController().signal,
    proxyUrl: 'http://s1:pw@127.0.0.1:1',
  };
  let ending = false;
  const handler = new ChildMessageHandler({
    send: (m) => sent.push(m),
    startMessage: () => ({ type: 'abort', reason: 'stand-in start' }),
    session,
    broker: opts.broker ?? new ToolBroker({ logger }),
    meter: new Meter(makeAgent('worker').constraints),
    logger,
    who: { subagentId: 's1' },
    spawn: opts.spawn ?? (() => ({ result: new Promise<Outcome>(() => undefined) })),
    isEnding: () => ending,
    terminate: (reason, detail) => {
      if (ending) return;
      ending = true;
      ends.push({ reason, detail });
    },
    complete: () => {
      ending = true;
    },
    maxOutputBytes: 1000,
    mask: (t) => t,
    now: () => clock.ms,
  });
  handler.handle({ type: 'ready' });
  return { handler, sent, ends, clock };
}

const echo = {
  description: 'echo',
  inputSchema: { type: 'object' },
  handler: (args: unknown) => Promise.resolve(args),
};

void describe('ChildMessageHandler safety net', () => {
  void test('a broker promise that rejects ends the child with protocol_violation', async () => {
    // A real broker whose audit logger throws on the result record: its promise rejects.
    const logger: Logger = pino({
      level: 'info',
      hooks: {
        logMethod(args, method) {
          const first: unknown = args[0];
          if (
            typeof first === 'object' &&
            first !== null &&
            'event' in first &&
            first.event === 'tool.result'
          ) {
            throw new Error('audit sink failed');
          }
          method.apply(this, args);
        },
      },
    });
    const h = harness({ broker: new ToolBroker({ tools: { echo }, logger }), logger });
    h.handler.handle({ type: 'tool_call', callId: 1, name: 'echo', args: {} });
    await eventually(() => {
      assert.deepEqual(
        h.ends.map((e) => [e.reason, /answering tool call 1: Error: audit sink failed/.test(e.detail)]),
        [['protocol_violation', true]],
      );
    });
  });

  void test('a nested spawn whose result rejects ends the child with protocol_violation', async () => {
    const h = harness({ spawn: () => ({ result: Promise.reject(new TypeError('broken outcome')) }) });
    h.handler.handle({ type: 'spawn', callId: 3, agent: 'a', task: null });
    await eventually(() => {
      assert.deepEqual(
        h.ends.map((e) => e.reason),
        ['protocol_violation'],
      );
    });
  });

  void test('a synchronous throw while handling a message ends the child, and handle() does not throw', () => {
    const h = harness({
      spawn: () => {
        throw Object.assign(new RangeError('Maximum call stack size exceeded'), {});
      },
    });
    // Not a SpawnDeniedError: answered as a spawn error, not thrown.
    h.handler.handle({ type: 'spawn', callId: 4, agent: 'a', task: null });
    assert.equal(h.sent.at(-1)?.type, 'spawn_result');
    const throwing = harness();
    // A child message the handler cannot digest (a getter that throws stands in for any bug).
    const msg = { type: 'log' as const, msg: 'x', fields: {} };
    Object.defineProperty(msg, 'msg', {
      get() {
        throw new Error('boom');
      },
    });
    assert.doesNotThrow(() => {
      throwing.handler.handle(msg);
    });
    assert.deepEqual(
      throwing.ends.map((e) => e.reason),
      ['protocol_violation'],
    );
  });

  void test('a tool result too deep for a frame becomes an error answer, not a violation', async () => {
    let deep: unknown = null;
    for (let i = 0; i < 100; i++) deep = [deep];
    const logger: Logger = pino({ level: 'silent' });
    const broker = new ToolBroker({
      tools: { echo: { ...echo, handler: () => Promise.resolve(deep) } },
      logger,
    });
    const sent: ParentMessage[] = [];
    const h = harness({ broker, logger });
    // Route sends through the real encoder so its shape check applies.
    const { encodeFrame } = await import('../../../src/ipc/framing.js');
    h.sent.push = (...items: ParentMessage[]): number => {
      for (const m of items) {
        encodeFrame(m);
        sent.push(m);
      }
      return sent.length;
    };
    h.handler.handle({ type: 'tool_call', callId: 9, name: 'echo', args: {} });
    const answer = await eventually(() => {
      const a = sent.at(-1);
      assert.ok(a !== undefined, 'no answer yet');
      return a;
    });
    assert.deepEqual(h.ends, []);
    assert.ok(answer.type === 'tool_result' && !answer.ok, 'an error answer');
    assert.equal(answer.error.code, 'SG_IPC_PROTOCOL');
  });
});

void describe('ChildMessageHandler call ids', () => {
  /** A broker whose echo tool counts its runs. */
  function counting(): { broker: ToolBroker; runs: unknown[] } {
    const runs: unknown[] = [];
    const broker = new ToolBroker({
      tools: {
        echo: {
          ...echo,
          handler: (args: unknown) => {
            runs.push(args);
            return Promise.resolve(args);
          },
        },
      },
      logger: pino({ level: 'silent' }),
    });
    return { broker, runs };
  }

  void test('distinct call ids are all answered and end nothing', async () => {
    const { broker, runs } = counting();
    const h = harness({ broker });
    for (const callId of [1, 2, 3])
      h.handler.handle({ type: 'tool_call', callId, name: 'echo', args: { callId } });
    await eventually(() => {
      assert.deepEqual(
        h.sent.filter((m) => m.type === 'tool_result').map((m) => m.callId),
        [1, 2, 3],
      );
    });
    assert.equal(runs.length, 3);
    assert.deepEqual(h.ends, []);
  });

  void test('a tool_call reusing an id still in flight is a protocol_violation and never runs', () => {
    const { broker, runs } = counting();
    const h = harness({ broker });
    h.handler.handle({ type: 'tool_call', callId: 7, name: 'echo', args: { n: 1 } });
    h.handler.handle({ type: 'tool_call', callId: 7, name: 'echo', args: { n: 2 } });
    assert.deepEqual(h.ends, [{ reason: 'protocol_violation', detail: 'call id 7 was already used' }]);
    assert.equal(runs.length, 1);
  });

  void test('a call id reused after its answer was sent is still a protocol_violation', async () => {
    const { broker, runs } = counting();
    const h = harness({ broker });
    h.handler.handle({ type: 'tool_call', callId: 1, name: 'echo', args: {} });
    await eventually(() => {
      assert.equal(h.sent.at(-1)?.type, 'tool_result');
    });
    h.handler.handle({ type: 'tool_call', callId: 1, name: 'echo', args: {} });
    assert.deepEqual(
      h.ends.map((e) => e.reason),
      ['protocol_violation'],
    );
    assert.equal(runs.length, 1);
  });

  void test('a spawn reusing a tool call id is a protocol_violation and spawns nothing', () => {
    let spawns = 0;
    const { broker } = counting();
    const h = harness({
      broker,
      spawn: () => {
        spawns++;
        return { result: new Promise<Outcome>(() => undefined) };
      },
    });
    h.handler.handle({ type: 'tool_call', callId: 5, name: 'echo', args: {} });
    h.handler.handle({ type: 'spawn', callId: 5, agent: 'a', task: null });
    assert.deepEqual(h.ends, [{ reason: 'protocol_violation', detail: 'call id 5 was already used' }]);
    assert.equal(spawns, 0);
  });
});

void describe('ChildMessageHandler log rate', () => {
  void test(`writes a burst of ${LOG_BURST_LINES}, then ${LOG_LINES_PER_SECOND}/s; the rest are dropped and counted`, () => {
    const audit = collectAudit();
    const h = harness({ logger: audit.logger });
    for (let i = 0; i < LOG_BURST_LINES + 50; i++) h.handler.handle({ type: 'log', msg: `l${i}` }, 20);
    assert.equal(h.handler.droppedLogLines, 50);
    h.clock.ms += 1000;
    for (let i = 0; i < LOG_LINES_PER_SECOND + 10; i++) h.handler.handle({ type: 'log', msg: `m${i}` }, 20);
    assert.equal(h.handler.droppedLogLines, 60);
    const lines = audit.events('subagent.log').filter((r) => typeof r['text'] === 'string');
    assert.equal(
      lines.filter((r) => /^[lm]\d+$/.test(String(r['text']))).length,
      LOG_BURST_LINES + LOG_LINES_PER_SECOND,
    );
    assert.equal(lines.filter((r) => String(r['text']).includes('log rate over')).length, 1);
    assert.deepEqual(h.ends, []);
  });

  void test('a flood far beyond the rate is a protocol_violation after the flood burst', () => {
    const h = harness();
    let sent = 0;
    while (h.ends.length === 0 && sent < 100_000) {
      h.handler.handle({ type: 'log', msg: 'x' }, 30);
      sent += 1;
    }
    assert.deepEqual(
      h.ends.map((e) => e.reason),
      ['protocol_violation'],
    );
    assert.match(h.ends[0]?.detail ?? '', /log flood/);
    assert.equal(sent, LOG_FLOOD_BURST_LINES + 1);
  });

  void test('a chatty subagent below the flood rate only loses lines, for as long as it runs', () => {
    const h = harness();
    // 60 s at 90 % of the flood rate.
    const perSecond = Math.floor(LOG_FLOOD_LINES_PER_SECOND * 0.9);
    for (let s = 0; s < 60; s++) {
      for (let i = 0; i < perSecond; i++) {
        h.clock.ms += 1000 / perSecond;
        h.handler.handle({ type: 'log', msg: 'x' }, 30);
      }
    }
    assert.deepEqual(h.ends, []);
    assert.ok(h.handler.droppedLogLines > 0);
  });

  void test('a flood of large frames is a violation after a few MiB', () => {
    const h = harness();
    let sent = 0;
    while (h.ends.length === 0 && sent < 10_000) {
      h.handler.handle({ type: 'log', msg: 'x' }, 60 * 1024);
      sent += 1;
    }
    assert.equal(h.ends[0]?.reason, 'protocol_violation');
    assert.ok(sent < LOG_BURST_LINES + 100, `violation after ${sent} frames`);
  });
});

/**
 * The IPC limits have one home (src/ipc/limits.ts) and both ends keep to the same numbers: a
 * subagent's runtime trims what it sends to exactly what the parent accepts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { MAX_FRAME_BYTES, MAX_LOG_FIELDS_BYTES, MAX_PAYLOAD_BYTES } from '../../../src/ipc/limits.js';
import { TERMINATION_REASONS, VIOLATION_REASONS, isViolation } from '../../../src/ipc/outcome.js';
import { ToolAcl } from '../../../src/policy/tools.js';
import { sanitizeFields } from '../../../src/runtime/client.js';
import { ChildMessageHandler } from '../../../src/spawner/messages.js';
import { Meter } from '../../../src/spawner/meter.js';
import { MAX_OUTPUT_BYTES } from '../../../src/spawner/subagent.js';
import type { Outcome } from '../../../src/spawner/types.js';
import { ToolBroker } from '../../../src/tools/broker.js';
import { MAX_TOOL_RESULT_BYTES } from '../../../src/tools/limits.js';
import { collectAudit } from '../../helpers/spawner-audit.js';
import { makeAgent } from '../../helpers/spawner-config.js';

/** `{ "s": "xxx…" }` serialising to exactly `bytes` UTF-8 bytes. */
function fieldsOf(bytes: number): Record<string, unknown> {
  const envelope = Buffer.byteLength(JSON.stringify({ s: '' }), 'utf8');
  return { s: 'x'.repeat(bytes - envelope) };
}

/** The parent's handler, writing `log` lines to a collecting audit logger. */
function parentLog(fields: Record<string, unknown>): unknown {
  const audit = collectAudit();
  const handler = new ChildMessageHandler({
    send: () => undefined,
    startMessage: () => ({ type: 'abort', reason: 'stand-in start' }),
    session: {
      subagentId: 's1',
      agent: 'worker',
      parent: 'main',
      acl: new ToolAcl({ allowed: [], denied: [] }),
      takeApiCall: () => true,
      reserveCost: () => true,
      signal: new AbortController().signal,
      proxyUrl: 'http://s1:pw@127.0.0.1:1',
    },
    broker: new ToolBroker({ logger: pino({ level: 'silent' }) }),
    meter: new Meter(makeAgent('worker').constraints),
    logger: audit.logger,
    who: { subagentId: 's1' },
    spawn: () => ({ result: new Promise<Outcome>(() => undefined) }),
    isEnding: () => false,
    terminate: () => undefined,
    complete: () => undefined,
    maxOutputBytes: 1000,
    mask: (t) => t,
    now: () => 0,
  });
  handler.handle({ type: 'ready' });
  handler.handle({ type: 'log', msg: 'line', fields });
  const logs = audit.events('subagent.log');
  assert.equal(logs.length, 1);
  return logs[0]?.['fields'];
}

void describe('IPC limits', () => {
  void test('log fields of exactly MAX_LOG_FIELDS_BYTES pass the runtime and are written whole by the parent', () => {
    const fields = fieldsOf(MAX_LOG_FIELDS_BYTES);
    const sent = sanitizeFields(fields);
    assert.deepEqual(sent, fields);
    assert.deepEqual(parentLog(fields), fields);
  });

  void test('log fields one byte over MAX_LOG_FIELDS_BYTES are replaced by both ends', () => {
    const fields = fieldsOf(MAX_LOG_FIELDS_BYTES + 1);
    assert.deepEqual(sanitizeFields(fields), { fields_truncated: true });
    assert.deepEqual(parentLog(fields), { truncated: true, bytes: MAX_LOG_FIELDS_BYTES + 1 });
  });

  void test('a subagent output and a tool result share one payload cap, below the frame cap', () => {
    assert.equal(MAX_OUTPUT_BYTES, MAX_PAYLOAD_BYTES);
    assert.equal(MAX_TOOL_RESULT_BYTES, MAX_PAYLOAD_BYTES);
    // The rest of the frame is for the envelope (call id, type, a nested outcome's fields).
    assert.ok(MAX_PAYLOAD_BYTES <= (MAX_FRAME_BYTES * 3) / 4);
  });
});

void describe('termination reasons', () => {
  void test('the violations are every termination reason but cancelled and shutdown', () => {
    assert.deepEqual(
      TERMINATION_REASONS.filter((r) => !VIOLATION_REASONS.includes(r as never)),
      ['cancelled', 'shutdown'],
    );
    for (const r of TERMINATION_REASONS)
      assert.equal(isViolation(r), VIOLATION_REASONS.includes(r as never), r);
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { defineSubagent, SubagentCallError } from '../../../src/runtime/index.js';
import { parentMessageValidator } from '../../../src/runtime/parent-messages.js';
import { ParentMessageSchema } from '../../../src/ipc/messages.js';

void describe('runtime', () => {
  void test('defineSubagent returns the function unchanged', () => {
    const fn = (task: { n: number }): number => task.n + 1;
    assert.equal(defineSubagent(fn), fn);
  });

  void test('SubagentCallError carries the parent error code', () => {
    const e = new SubagentCallError('SG_TOOL_FAILED', 'x');
    assert.equal(e.code, 'SG_TOOL_FAILED');
    assert.ok(e instanceof Error);
  });

  const start = {
    type: 'start',
    id: 'a',
    agent: 'b',
    parent: 'c',
    task: { t: 1 },
    egress: { proxyUrl: 'http://u:p@localhost', socketPath: '/run/sg/gateway.sock' },
    limits: { maxOutputBytes: 10 },
  };
  const cases: [string, unknown][] = [
    ['start', start],
    ['tool_result ok', { type: 'tool_result', callId: 1, ok: true, value: [1] }],
    ['tool_result error', { type: 'tool_result', callId: 2, ok: false, error: { code: 'X', message: 'y' } }],
    ['spawn_result outcome', { type: 'spawn_result', callId: 3, outcome: { status: 'completed' } }],
    ['spawn_result error', { type: 'spawn_result', callId: 3, error: { code: 'X', message: 'y' } }],
    ['abort', { type: 'abort', reason: 'timeout' }],
  ];
  for (const [name, msg] of cases) {
    void test(`the child-side validator accepts a valid ${name} exactly like the zod schema`, () => {
      const light = parentMessageValidator.safeParse(msg);
      const zod = ParentMessageSchema.safeParse(msg);
      assert.equal(light.success, true);
      assert.equal(zod.success, true);
      assert.deepEqual(light.data, zod.data);
    });
  }

  const invalid: [string, unknown][] = [
    ['an unknown type', { type: 'exec' }],
    ['a start with an extra key', { ...start, extra: 1 }],
    ['a start without egress', { ...start, egress: undefined }],
    ['a tool_result with callId 0', { type: 'tool_result', callId: 0, ok: true, value: 1 }],
    ['a non-object', 'start'],
  ];
  for (const [name, msg] of invalid) {
    void test(`the child-side validator rejects ${name}`, () => {
      assert.equal(parentMessageValidator.safeParse(msg).success, false);
    });
  }
});

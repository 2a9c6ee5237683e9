import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { combineToolLayers } from '../../../src/config/tool-policy.js';

void describe('combining tool layers', () => {
  void test('no allow list anywhere means no tools', () => {
    assert.deepEqual(combineToolLayers([{ deny: ['exec'] }, {}]).policy, { allowed: [], denied: ['exec'] });
  });

  void test('deny lists from every layer are all kept (deny wins)', () => {
    const r = combineToolLayers([{ deny: ['exec'] }, { allow: ['*'], deny: ['write', 'exec'] }]);
    assert.deepEqual(r.policy, { allowed: ['*'], denied: ['exec', 'write'] });
  });

  const table: [string[], string[], string[]][] = [
    [['*'], ['web_fetch'], ['web_fetch']],
    [['web_fetch'], ['*'], ['web_fetch']],
    [['group:web'], ['web_fetch', 'read'], ['web_fetch']],
    [['group:web'], ['group:web'], ['group:web']],
    [['group:web', 'read'], ['web_*'], ['web_search', 'web_fetch']],
    [['web_*'], ['web_f*'], ['web_f*']],
    [['web_f*'], ['web_*'], ['web_f*']],
    [['bash'], ['exec'], ['exec']],
    [['exec'], ['bash'], ['exec']],
    [['ba*'], ['exec'], ['exec']],
    [['read'], ['write'], []],
    [['group:fs'], ['group:runtime'], []],
  ];
  for (const [a, b, expected] of table) {
    void test(`${JSON.stringify(a)} ∩ ${JSON.stringify(b)} = ${JSON.stringify(expected)}`, () => {
      const r = combineToolLayers([{ allow: a }, { allow: b }]);
      assert.deepEqual(r.policy.allowed, expected);
      assert.deepEqual(r.unrepresentable, []);
    });
  }

  void test('two overlapping wildcards that no single pattern expresses are left out and reported', () => {
    const r = combineToolLayers([{ allow: ['web_*'] }, { allow: ['*_fetch'] }]);
    assert.deepEqual(r.policy.allowed, []);
    assert.deepEqual(r.unrepresentable, ['web_* ∩ *_fetch']);
  });
});

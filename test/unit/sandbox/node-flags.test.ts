import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HEAP_FLAG_COSTS_STARTUP, PERMISSION_FLAG, nodeFlags } from '../../../src/sandbox/command.js';

void describe('child node flags and startup cost', () => {
  void test('the V8 heap cap can be left out; the permission model never is', () => {
    const withCap = nodeFlags(['/a'], 200);
    const without = nodeFlags(['/a'], 200, { heapCap: false });
    assert.ok(withCap.includes('--max-old-space-size=150'));
    assert.ok(!without.some((f) => f.startsWith('--max-old-space-size')));
    for (const flags of [withCap, without]) {
      assert.ok(flags.includes(PERMISSION_FLAG));
      assert.ok(flags.includes('--allow-fs-read=/a'));
      assert.ok(flags.includes('--no-addons'));
    }
  });

  void test('only Node 20 pays for a heap flag (its V8 then drops Node’s built-in code cache)', () => {
    assert.equal(HEAP_FLAG_COSTS_STARTUP, process.versions.node.split('.')[0] === '20');
  });
});

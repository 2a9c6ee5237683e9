import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolError } from '../../../src/errors.js';
import { jsonDepth, sanitizedParse } from '../../../src/tools/builtin/sanitized-parse.js';

void describe('sanitized_parse', () => {
  void test('parses ordinary JSON', () => {
    assert.deepEqual(sanitizedParse('{"a":[1,2,{"b":"c"}]}'), { a: [1, 2, { b: 'c' }] });
  });

  void test('drops prototype-pollution keys at every level', () => {
    const v = sanitizedParse(
      '{"__proto__":{"polluted":1},"a":{"constructor":{"prototype":{"x":1}},"ok":true}}',
    );
    assert.deepEqual(JSON.parse(JSON.stringify(v)), { a: { ok: true } });
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  void test('rejects text over maxBytes, nesting over maxDepth and invalid JSON with tool errors', () => {
    const cases: [string, { maxBytes?: number; maxDepth?: number }, RegExp][] = [
      ['"' + 'x'.repeat(100) + '"', { maxBytes: 50 }, /over the 50-byte limit/],
      ['['.repeat(10) + ']'.repeat(10), { maxDepth: 5 }, /deeper than 5/],
      ['{"a":', {}, /invalid JSON/],
    ];
    for (const [text, opts, re] of cases) {
      assert.throws(
        () => sanitizedParse(text, opts),
        (err: unknown) => err instanceof ToolError && err.code === 'SG_TOOL_FAILED' && re.test(err.message),
      );
    }
  });

  void test('a million nested brackets are refused without recursion', () => {
    const text = '['.repeat(1_000_000);
    assert.throws(() => sanitizedParse(text, { maxBytes: 2_000_000, maxDepth: 256 }), /deeper than 256/);
  });

  void test('brackets inside strings do not count toward depth', () => {
    assert.equal(jsonDepth('{"a":"[[[[\\"[[["}', 2).depth, 1);
    assert.deepEqual(sanitizedParse('["[[[[[["]', { maxDepth: 1 }), ['[[[[[[']);
  });
});

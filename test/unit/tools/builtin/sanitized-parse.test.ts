import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolError } from '../../../../src/errors.js';
import { ByteBudget, BytePace } from '../../../../src/tools/budget.js';
import {
  jsonDepth,
  SANITIZED_PARSE_LIMITS,
  sanitizedParse,
  sanitizedParseTool,
} from '../../../../src/tools/builtin/sanitized-parse.js';
import { MAX_TOOL_RESULT_BYTES } from '../../../../src/tools/limits.js';

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
    const text = '['.repeat(700_000);
    assert.throws(() => sanitizedParse(text, { maxBytes: 2_000_000, maxDepth: 256 }), /deeper than 256/);
  });

  void test('brackets inside strings do not count toward depth', () => {
    assert.equal(jsonDepth('{"a":"[[[[\\"[[["}', 2).depth, 1);
    assert.deepEqual(sanitizedParse('["[[[[[["]', { maxDepth: 1 }), ['[[[[[[']);
  });

  void test('refuses a text longer than the result cap before scanning or parsing it', () => {
    assert.equal(SANITIZED_PARSE_LIMITS.hardMaxBytes, MAX_TOOL_RESULT_BYTES);
    // Over the cap, and both too deep and invalid: the size refusal shows neither the depth scan
    // nor the parser ran (on main this text was scanned: 800 KB was under the 1 MiB ceiling).
    const text = '['.repeat(800 * 1024);
    assert.throws(
      () => sanitizedParse(text, { maxBytes: 2 * 1024 * 1024 }),
      (err: unknown) => err instanceof ToolError && /over the 786432-byte limit/.test(err.message),
    );
  });

  void test('the tool yields to the event loop while it removes poison keys from a large value', async () => {
    const n = 30_000;
    const text = `[${Array.from({ length: n }, () => '{"__proto__":0,"i":0}').join(',')}]`;
    assert.ok(text.length < SANITIZED_PARSE_LIMITS.hardMaxBytes, `${text.length} bytes`);
    let spins = 0;
    let done = false;
    const spin = (): void => {
      spins += 1;
      if (!done) setImmediate(spin);
    };
    setImmediate(spin);
    const value = (await sanitizedParseTool.handler(
      { text, maxBytes: SANITIZED_PARSE_LIMITS.hardMaxBytes },
      {
        subagentId: 's',
        agent: 'a',
        signal: new AbortController().signal,
        proxyUrl: 'http://u:p@127.0.0.1:1',
        maxResultBytes: MAX_TOOL_RESULT_BYTES,
        inFlight: new ByteBudget(1),
        pace: new BytePace(1e9, 1e9),
      },
    )) as Record<string, unknown>[];
    done = true;
    assert.equal(value.length, n);
    assert.ok(
      value.every((o) => !Object.hasOwn(o, '__proto__') && o['i'] === 0),
      'poison keys dropped, the rest kept',
    );
    assert.ok(spins >= 3, `other work ran while the value was sanitised (${spins} turns)`);
  });
});

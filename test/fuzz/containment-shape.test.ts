/**
 * The linear depth/key scan that guards every IPC frame agrees with a walk of the parsed value,
 * for random JSON whose strings are full of quotes, backslashes and brackets (fixed seed).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jsonShapeProblem } from '../../src/ipc/shape.js';
import { check, runs } from '../helpers/security-fuzz.js';

/** Depth and largest key count of a parsed JSON value, by an explicit stack. */
function shapeOf(value: unknown): { depth: number; keys: number } {
  let depth = 0;
  let keys = 0;
  const stack: { v: unknown; d: number }[] = [{ v: value, d: 0 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { v, d } = top;
    if (typeof v !== 'object' || v === null) continue;
    depth = Math.max(depth, d + 1);
    const children = Array.isArray(v) ? (v as unknown[]) : Object.values(v);
    if (!Array.isArray(v)) keys = Math.max(keys, children.length);
    for (const c of children) stack.push({ v: c, d: d + 1 });
  }
  return { depth, keys };
}

const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '[', ']', '{', '}', ':', ',', 'a', 'é') });
const value = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tricky,
    fc.integer(),
    fc.constant(null),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(tricky, tie('node'), { maxKeys: 5 }),
  ),
})).node;

void describe('jsonShapeProblem', () => {
  void test('agrees with a walk of the parsed value on depth and keys, as text and as bytes', async () => {
    await check(
      'ipc-shape',
      fc.property(
        value,
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 5 }),
        (v, maxDepth, maxKeys) => {
          const text = JSON.stringify(v);
          const shape = shapeOf(JSON.parse(text));
          const expectOk = shape.depth <= maxDepth && shape.keys <= maxKeys;
          const limits = { maxDepth, maxKeys };
          assert.equal(jsonShapeProblem(text, limits) === null, expectOk, text);
          assert.equal(jsonShapeProblem(Buffer.from(text, 'utf8'), limits) === null, expectOk, text);
        },
      ),
      runs(2000),
    );
  });
});

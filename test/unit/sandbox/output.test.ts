import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { OutputDrain } from '../../../src/sandbox/output.js';
import type { OutputLine } from '../../../src/sandbox/types.js';

void describe('OutputDrain', () => {
  void test('forwards lines until the budget is spent, then drains silently', async () => {
    const stream = new PassThrough();
    const lines: OutputLine[] = [];
    const drain = new OutputDrain(stream, 'stdout', 20, (l) => lines.push(l));
    stream.write('hello\nworld\n');
    stream.write('x'.repeat(10_000) + '\n');
    stream.end('late line\n');
    await once(stream, 'end');
    assert.deepEqual(
      lines.slice(0, 2).map((l) => l.text),
      ['hello', 'world'],
    );
    assert.ok(lines.some((l) => /truncated/.test(l.text)));
    assert.equal(
      lines.some((l) => l.text === 'late line'),
      false,
    );
    assert.equal(drain.bytes, 12 + 10_001 + 10);
    assert.ok(drain.tail.endsWith('late line\n'));
  });

  void test('keeps at most a 4 KiB tail and truncates long lines', async () => {
    const stream = new PassThrough();
    const lines: OutputLine[] = [];
    const drain = new OutputDrain(stream, 'stderr', 1_000_000, (l) => lines.push(l));
    stream.end('y'.repeat(100_000) + '\n');
    await once(stream, 'end');
    assert.ok(drain.tail.length <= 4096);
    assert.ok(lines.every((l) => l.text.length <= 1025 && l.stream === 'stderr'));
  });

  void test('a throwing listener does not stop draining', async () => {
    const stream = new PassThrough();
    const drain = new OutputDrain(stream, 'stdout', 1000, () => {
      throw new Error('listener bug');
    });
    stream.end('a\nb\n');
    await once(stream, 'end');
    assert.equal(drain.bytes, 4);
  });
});

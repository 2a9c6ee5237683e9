import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CliIo } from '../../../src/cli/io.js';
import { main, withCode } from '../../../src/cli/main.js';

function fakeIo(): CliIo & { err(): string } {
  const err: string[] = [];
  return {
    stdout: { write: () => true },
    stderr: { write: (c: string) => err.push(c) },
    env: {},
    cwd: process.cwd(),
    stopSignal: new Promise<void>(() => undefined),
    err: () => err.join(''),
  };
}

void describe('CLI usage errors', () => {
  void test('the code ends the first line of a multi-line message, never a line of its own', () => {
    assert.equal(withCode('bad flag\n\nusage: x\n', 'SG_USAGE'), 'bad flag [SG_USAGE]\n\nusage: x');
    assert.equal(withCode('one line', 'SG_USAGE'), 'one line [SG_USAGE]');
  });

  // Regression: a message ending with the usage text printed a stray " [SG_USAGE]" line.
  for (const argv of [
    ['gateway', 'serve'],
    ['gateway', 'serve', '--bogus'],
    ['run', '--config'],
    ['doctor', '--x'],
  ]) {
    void test(`\`${argv.join(' ')}\` prints no line holding only the code`, async () => {
      const io = fakeIo();
      assert.equal(await main(argv, io), 2);
      const lines = io.err().split('\n');
      assert.match(lines[0] ?? '', /\[SG_USAGE\]$/);
      assert.ok(!lines.some((l) => /^\s*\[SG_[A-Z_]+\]\s*$/.test(l)), io.err());
    });
  }
});

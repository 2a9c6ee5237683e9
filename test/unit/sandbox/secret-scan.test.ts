import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanForSecrets } from '../../../src/sandbox/secret-scan.js';

let dir = '';

before(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sgtest-secret-scan-')));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function tree(name: string, files: readonly string[]): string {
  const root = join(dir, name);
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    if (f.endsWith('/')) mkdirSync(join(root, f), { recursive: true });
    else writeFileSync(join(root, f), 'x');
  }
  return root;
}

void describe('scanForSecrets', () => {
  void test('finds secret-looking names at any depth, and directories such as .ssh/ without entering them', () => {
    const root = tree('mixed', [
      'agent.mjs',
      '.env.production',
      'conf/credentials.json',
      'conf/id_rsa',
      'conf/id_rsa.pub',
      'a/b/c/tls.key',
      '.ssh/config',
      'README.md',
    ]);
    const s = scanForSecrets([root]);
    assert.deepEqual(
      [...s.found].sort(),
      [
        join(root, '.env.production'),
        join(root, '.ssh'),
        join(root, 'a/b/c/tls.key'),
        join(root, 'conf/credentials.json'),
        join(root, 'conf/id_rsa'),
      ].sort(),
    );
    assert.deepEqual(s.incomplete, []);
  });

  void test('a root that is itself a secret file is reported', () => {
    const root = tree('single', ['server.pem']);
    assert.deepEqual(scanForSecrets([join(root, 'server.pem')]).found, [join(root, 'server.pem')]);
  });

  void test('does not descend node_modules nor follow symlinks', () => {
    const outside = tree('outside', ['.npmrc']);
    const root = tree('linked', ['node_modules/pkg/test.key', 'agent.mjs']);
    symlinkSync(outside, join(root, 'elsewhere'));
    assert.deepEqual(scanForSecrets([root]).found, []);
  });

  void test('stops at the entry bound and says so', () => {
    const root = tree(
      'many',
      Array.from({ length: 50 }, (_, i) => `f${i}.txt`),
    );
    const s = scanForSecrets([root], { maxEntries: 10 });
    assert.equal(s.entries, 10);
    assert.match(s.incomplete[0] ?? '', /stopped after 10 entries/);
  });

  void test('stops at the depth bound and says so', () => {
    const root = tree('deep', ['1/2/3/4/.env']);
    const s = scanForSecrets([root], { maxDepth: 2 });
    assert.deepEqual(s.found, []);
    assert.match(s.incomplete.join('\n'), /not below depth 2/);
  });
});

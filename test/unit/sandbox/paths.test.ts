import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertSafePermissionPath,
  entryReadDir,
  runtimeBootstrapPath,
  runtimeReadPaths,
} from '../../../src/sandbox/paths.js';
import { fixturesDir } from '../../helpers/paths.js';

void describe('sandbox paths', () => {
  void test('runtimeBootstrapPath points at the compiled bootstrap next to this build', () => {
    assert.ok(runtimeBootstrapPath.endsWith('/runtime/bootstrap.js'));
    assert.ok(existsSync(runtimeBootstrapPath));
  });

  void test('runtimeReadPaths are the compiled sources, the package.json and undici only', () => {
    const paths = runtimeReadPaths();
    assert.equal(paths.length, 3);
    assert.ok(paths.some((p) => p.endsWith('/package.json')));
    assert.ok(paths.some((p) => /\/undici$/.test(p)));
    assert.equal(
      paths.some((p) => p.endsWith('/node_modules')),
      false,
    );
  });

  void test("entryReadDir is the entry's own directory", () => {
    assert.equal(entryReadDir(join(fixturesDir, 'agents', 'echo.mjs')), join(fixturesDir, 'agents'));
  });

  const badEntries: [string, string][] = [
    ['a relative path', 'agents/echo.mjs'],
    ['a missing file', '/nonexistent/dir/agent.mjs'],
  ];
  for (const [name, entry] of badEntries) {
    void test(`entryReadDir refuses ${name} with SG_SANDBOX_ENTRY`, () => {
      assert.throws(() => entryReadDir(entry), { code: 'SG_SANDBOX_ENTRY' });
    });
  }

  void test('refuses paths the Node 20 permission flag would misread (comma, wildcard)', () => {
    for (const p of ['/a,/etc', '/a/*', '/a\nb'])
      assert.throws(
        () => {
          assertSafePermissionPath(p);
        },
        { code: 'SG_SANDBOX_ENTRY' },
      );
    assert.doesNotThrow(() => {
      assertSafePermissionPath('/home/user/agents v2/x');
    });
  });
});

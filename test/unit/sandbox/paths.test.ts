import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  agentReadPaths,
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

void describe('agentReadPaths (the launcher path, off the event loop) refuses unsafe grants', () => {
  const make = (files: Record<string, string>, links: Record<string, string> = {}): string => {
    const dir = mkdtempSync(join(tmpdir(), 'grant-'));
    for (const [rel, body] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), body);
    }
    for (const [rel, to] of Object.entries(links)) symlinkSync(to, join(dir, rel));
    return realpathSync(dir);
  };
  const outcome = async (
    fn: () => string[] | Promise<string[]>,
  ): Promise<{ paths: string[] } | { code: string; message: string }> => {
    try {
      return { paths: await fn() };
    } catch (err) {
      const e = err as { code: string; message: string };
      return { code: e.code, message: e.message };
    }
  };
  const cases: [string, () => { entryDir: string; grants?: string[]; protectedPaths?: string[] }][] = [
    ['a clean entry directory', () => ({ entryDir: make({ 'agent.mjs': '', 'lib/util.mjs': '' }) })],
    ['a secret file deep below it', () => ({ entryDir: make({ 'agent.mjs': '', 'a/b/.env': 'K=1' }) })],
    ['a symlink leading outside it', () => ({ entryDir: make({ 'agent.mjs': '' }, { out: tmpdir() }) })],
    [
      'a protected file inside a grant',
      () => {
        const grant = make({ 'data.json': '{}', 'audit.log': '' });
        return {
          entryDir: make({ 'agent.mjs': '' }),
          grants: [grant],
          protectedPaths: [join(grant, 'audit.log')],
        };
      },
    ],
    [
      'a grant that does not exist',
      () => ({ entryDir: make({ 'agent.mjs': '' }), grants: ['/nonexistent-grant'] }),
    ],
  ];
  for (const [name, setup] of cases) {
    void test(name, async (t) => {
      const c = setup();
      t.after(() => {
        rmSync(c.entryDir, { recursive: true, force: true });
        for (const g of c.grants ?? [])
          if (g.startsWith(tmpdir())) rmSync(g, { recursive: true, force: true });
      });
      const entry = join(c.entryDir, 'agent.mjs');
      const opts = { grants: c.grants ?? [], protectedPaths: c.protectedPaths ?? [] };
      const got = await outcome(() => agentReadPaths(entry, opts));
      if (name !== 'a clean entry directory') {
        assert.ok('code' in got, `${name} must be refused`);
        assert.equal(got.code, 'SG_SANDBOX_READ_GRANT');
      } else assert.ok('paths' in got && got.paths.includes(c.entryDir), JSON.stringify(got));
    });
  }
});

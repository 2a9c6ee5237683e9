/**
 * The published package as a consumer gets it: `npm pack` of the built tree, checked by publint
 * and arethetypeswrong, unpacked into an app's node_modules (npm's flat layout) where the CLI
 * checks the shipped example config, the JSON Schema resolves as `subagent-guard/schema.json`,
 * every source map points at a shipped file, and README's TypeScript entry snippet type-checks
 * against the packed declarations.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = (name: string): string => join(repoRoot, 'node_modules', '.bin', name);

let work = '';
let tarball = '';
let app = '';
let pkg = '';

function run(cmd: string, args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Links every package of the repo's node_modules into `dir` (the app's dependencies, flat as npm lays them out). */
function linkDependencies(dir: string): void {
  for (const name of readdirSync(join(repoRoot, 'node_modules'))) {
    if (name.startsWith('.') || name === 'subagent-guard') continue;
    symlinkSync(join(repoRoot, 'node_modules', name), join(dir, name));
  }
}

before(() => {
  work = mkdtempSync(join(tmpdir(), 'sg-pack-'));
  const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot);
  assert.equal(packed.status, 0, packed.out);
  const info = JSON.parse(packed.out.slice(packed.out.indexOf('['))) as { filename: string }[];
  tarball = join(work, info[0]?.filename ?? '');
  app = join(work, 'app');
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  const x = run('tar', ['-xzf', tarball, '-C', join(app, 'node_modules')], work);
  assert.equal(x.status, 0, x.out);
  pkg = join(app, 'node_modules', 'subagent-guard');
  renameSync(join(app, 'node_modules', 'package'), pkg);
  linkDependencies(join(app, 'node_modules'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
});

after(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

void describe('the packed package', { timeout: 240_000 }, () => {
  void test('passes publint', () => {
    const r = run(bin('publint'), ['run', pkg, '--pack', 'false', '--strict'], app);
    assert.equal(r.status, 0, r.out);
  });

  void test('passes arethetypeswrong for ESM consumers (node16 and bundler resolution)', () => {
    const r = run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped'], work);
    assert.equal(r.status, 0, r.out);
  });

  void test('ships LICENSE (Apache-2.0), repository/homepage/bugs, and no install-time scripts', () => {
    assert.match(readFileSync(join(pkg, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(manifest['license'], 'Apache-2.0');
    for (const k of ['repository', 'homepage', 'bugs']) assert.ok(manifest[k] !== undefined, `${k} is set`);
    const scripts = (manifest['scripts'] ?? {}) as Record<string, string>;
    for (const k of ['prepare', 'preinstall', 'install', 'postinstall']) {
      assert.equal(scripts[k], undefined, `no ${k} script runs for consumers`);
    }
  });

  void test('every source map points at files that are in the package', () => {
    const maps: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith('.map')) maps.push(join(d, e.name));
      }
    };
    walk(join(pkg, 'dist'));
    assert.ok(maps.length > 0);
    const missing: string[] = [];
    for (const m of maps) {
      const { sources } = JSON.parse(readFileSync(m, 'utf8')) as { sources: string[] };
      for (const s of sources) if (!existsSync(resolve(dirname(m), s))) missing.push(`${m}: ${s}`);
    }
    assert.deepEqual(missing.slice(0, 5), []);
  });

  void test('`check` passes on the shipped openclaw.example.json from node_modules', () => {
    const r = run(
      process.execPath,
      [join(pkg, 'dist/cli/main.js'), 'check', 'node_modules/subagent-guard/openclaw.example.json'],
      app,
    );
    assert.equal(r.status, 0, r.out);
  });

  void test('exports the JSON Schema as subagent-guard/schema.json', () => {
    const r = run(
      process.execPath,
      ['--input-type=module', '-e', "console.log(import.meta.resolve('subagent-guard/schema.json'))"],
      app,
    );
    assert.equal(r.status, 0, r.out);
    const path = fileURLToPath(r.out.trim());
    assert.equal(path, join(pkg, 'schemas', 'openclaw.schema.json'));
    const schema = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    assert.equal(typeof schema['$schema'], 'string');
  });

  void test("README's TypeScript API snippet type-checks against the packed declarations", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const api = readme.slice(readme.indexOf('\n## API'));
    const snippet = /```ts\n([\s\S]*?)```/.exec(api)?.[1];
    assert.ok(snippet?.includes("from 'subagent-guard'"), 'the API section opens with a ts snippet');
    writeFileSync(join(app, 'entry.ts'), snippet ?? '');
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['entry.ts'],
      }),
    );
    const r = run(bin('tsc'), ['-p', 'tsconfig.json'], app);
    assert.equal(r.status, 0, r.out);
  });
});

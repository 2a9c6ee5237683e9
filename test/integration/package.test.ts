/**
 * The published package as a consumer gets it: `npm pack` of the built tree, checked by publint
 * and arethetypeswrong, unpacked into an app's node_modules (npm's flat layout) where the CLI
 * checks the shipped example config, the JSON Schema resolves as `subagent-guard/schema.json`,
 * every source map points at a shipped file, and README's TypeScript entry snippet type-checks
 * against the packed declarations. The same package in pnpm's symlinked layout (every package a
 * link into `.pnpm/`) must give a subagent the same egress as npm's, at every isolation level.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
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
let pnpmApp = '';

const AGENT = `import { defineSubagent } from 'subagent-guard/runtime';
export default defineSubagent(async (task) => {
  const res = await fetch(task.url);
  return { status: res.status, body: await res.text() };
});
`;

// An app's own orchestrator: one subagent fetches from a loopback origin through the gateway.
const HOST = `import { createServer } from 'node:http';
import { createOrchestrator, parseConfig } from 'subagent-guard';
const server = createServer((req, res) => res.end('hello')).listen(0, '127.0.0.2');
await new Promise((r) => server.once('listening', r));
const port = server.address().port;
const config = parseConfig({
  audit: { path: './audit.log' },
  agents: {
    main: { role: 'parent', subagents: { allowAgents: ['fetcher'] } },
    fetcher: {
      entry: './agents/fetcher.mjs',
      network: { allowed_domains: ['api.test'], allowed_ports: [port], allowed_cidrs: ['127.0.0.2/32'] },
    },
  },
}, { baseDir: process.cwd() });
const o = await createOrchestrator({
  config,
  isolation: process.argv[2],
  warnWeakerIsolation: false,
  resolver: async () => [{ address: '127.0.0.2', family: 4 }],
});
try {
  const out = await o.run({ parent: 'main', agent: 'fetcher', task: { url: 'http://api.test:' + port + '/' } });
  console.log(JSON.stringify({ level: o.isolation, ...out, usage: undefined }));
} finally {
  await o.close();
  server.close();
}
`;

function writeApp(dir: string): void {
  mkdirSync(join(dir, 'agents'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  writeFileSync(join(dir, 'agents', 'fetcher.mjs'), AGENT);
  writeFileSync(join(dir, 'host.mjs'), HOST);
}

/**
 * pnpm's layout: `node_modules/subagent-guard` links to `.pnpm/subagent-guard@V/node_modules/
 * subagent-guard` (a real directory), whose dependencies are links beside it to
 * `.pnpm/<dep>@V/node_modules/<dep>` (here links themselves, to the repo's installed copies).
 */
function writePnpmLayout(dir: string): void {
  const store = join(dir, 'node_modules', '.pnpm');
  const own = join(store, 'subagent-guard@0.0.0', 'node_modules');
  mkdirSync(own, { recursive: true });
  const x = run('tar', ['-xzf', tarball, '-C', own], dir);
  assert.equal(x.status, 0, x.out);
  renameSync(join(own, 'package'), join(own, 'subagent-guard'));
  for (const name of readdirSync(join(repoRoot, 'node_modules'))) {
    if (name.startsWith('.') || name === 'subagent-guard') continue;
    const at = join(store, `${name}@0.0.0`, 'node_modules');
    mkdirSync(at, { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules', name), join(at, name));
    symlinkSync(join('..', '..', `${name}@0.0.0`, 'node_modules', name), join(own, name));
  }
  symlinkSync(
    join('.pnpm', 'subagent-guard@0.0.0', 'node_modules', 'subagent-guard'),
    join(dir, 'node_modules', 'subagent-guard'),
  );
}

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
  writeApp(app);
  pnpmApp = join(work, 'pnpm-app');
  writeApp(pnpmApp);
  writePnpmLayout(pnpmApp);
  // Process-level children of a root orchestrator run as uid 65534: the apps must be readable to it.
  chmodSync(work, 0o755);
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

void describe('a subagent of an app in npm and pnpm layouts', { timeout: 120_000 }, () => {
  for (const layout of ['npm', 'pnpm'] as const) {
    for (const level of ['process', 'auto'] as const) {
      void test(`${layout} layout, isolation '${level}': the subagent's fetch reaches an allowed origin`, () => {
        const dir = layout === 'npm' ? app : pnpmApp;
        const r = run(process.execPath, ['host.mjs', level], dir);
        assert.equal(r.status, 0, r.out);
        const line = r.out.trim().split('\n').at(-1) ?? '';
        const outcome = JSON.parse(line) as { status: string; output?: unknown; level: string };
        assert.deepEqual(
          { status: outcome.status, output: outcome.output },
          { status: 'completed', output: { status: 200, body: 'hello' } },
          line,
        );
      });
    }
  }
});

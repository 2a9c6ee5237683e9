/**
 * scripts/bundle-runtime.mjs: the child bootstrap as one module. Runs the script on a copy of the
 * compiled runtime (never on the build under test) and drives the bundled bootstrap over fd 3
 * like the parent does.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { FrameDecoder, encodeFrame } from '../../../src/ipc/framing.js';
import { repoRoot } from '../../helpers/paths.js';

const SCRIPT = join(repoRoot, 'scripts', 'bundle-runtime.mjs');
const BUILT = join(repoRoot, 'build', 'src');
let root = '';
let esbuildMissing = false;
let wasBundled = false;

function bundle(): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  try {
    createRequire(import.meta.url).resolve('esbuild');
  } catch {
    esbuildMissing = true;
    return;
  }
  // Inside build/ so that package resolution and the package.json "type" lookup work as in dist/.
  root = mkdtempSync(join(repoRoot, 'build', '.bundle-test-'));
  for (const part of ['runtime', 'ipc', 'errors.js'])
    cpSync(join(BUILT, part), join(root, part), { recursive: true });
  // Either form may be in build/ (tsc alone leaves it modular; a build that bundles, bundled).
  wasBundled = readFileSync(join(root, 'runtime', 'bootstrap.js'), 'utf8').startsWith('// Generated');
});

after(() => {
  if (root !== '') rmSync(root, { recursive: true, force: true });
});

/** Runs the bootstrap at `path` on `entry`, answers its one tool call with an error, returns its result. */
async function runBootstrap(path: string, entry: string): Promise<unknown> {
  const child = spawn(process.execPath, [path, entry], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const io = child.stdio[3] as Duplex;
  const decoder = new FrameDecoder();
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no result within 10 s; stderr: ${stderr}`));
      }, 10_000);
      io.on('data', (chunk: Buffer) => {
        for (const m of decoder.push(chunk) as { type: string; callId?: number }[]) {
          if (m.type === 'ready') {
            io.write(
              encodeFrame({
                type: 'start',
                id: 'b1',
                agent: 'a',
                parent: 'p',
                task: null,
                egress: { proxyUrl: 'http://u:p@127.0.0.1:9' },
                limits: { maxOutputBytes: 1024 },
              }),
            );
          } else if (m.type === 'tool_call') {
            io.write(
              encodeFrame({
                type: 'tool_result',
                callId: m.callId,
                ok: false,
                error: { code: 'SG_TOOL_FAILED', message: 'no' },
              }),
            );
          } else if (m.type === 'result') {
            clearTimeout(timer);
            resolve(m);
          }
        }
      });
    });
  } finally {
    child.kill('SIGKILL');
  }
}

void describe('bundle-runtime', () => {
  void test('bundles the bootstrap into one module that imports only builtins and the shared types module', (t) => {
    if (esbuildMissing) {
      t.skip('esbuild is not installed');
      return;
    }
    const r = bundle();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, wasBundled ? /already bundled/ : /\(\d+ modules, \d+ bytes\)/);
    const code = readFileSync(join(root, 'runtime', 'bootstrap.js'), 'utf8');
    const specifiers = [...code.matchAll(/(?:from|import)\s*"([^"]+)"/g)].map((m) => m[1]);
    assert.ok(specifiers.length > 0);
    for (const s of specifiers)
      assert.ok(s === './types.js' || s?.startsWith('node:'), `unexpected import ${s}`);
    assert.ok(specifiers.includes('./types.js'), 'types.js stays a separate, shared module');
    assert.ok(existsSync(join(root, 'runtime', 'bootstrap.js.map')));
    // A second run leaves it alone.
    const again = bundle();
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /already bundled/);
    assert.equal(readFileSync(join(root, 'runtime', 'bootstrap.js'), 'utf8'), code);
  });

  void test('the bundled bootstrap runs an entry, and the entry sees the same SubagentCallError class', async (t) => {
    if (esbuildMissing) {
      t.skip('esbuild is not installed');
      return;
    }
    assert.equal(bundle().status, 0);
    const entry = join(root, 'identity-agent.js');
    writeFileSync(
      entry,
      `import { SubagentCallError } from './runtime/index.js';
export default async (task, ctx) => {
  try { await ctx.tools.call('x', {}); return 'no error'; }
  catch (e) { return { same: e instanceof SubagentCallError, code: e.code }; }
};`,
    );
    const result = await runBootstrap(join(root, 'runtime', 'bootstrap.js'), entry);
    assert.deepEqual(result, { type: 'result', ok: true, output: { same: true, code: 'SG_TOOL_FAILED' } });
  });
});

/**
 * `@opentelemetry/api` is an optional peer: an app without it still loads the whole package, and
 * only `instrumentOpenTelemetry()` fails, with SG_OTEL_MISSING and the loader's cause. The peer is
 * made unresolvable for one real Node process by a module resolve hook (nothing is uninstalled).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { repoRoot } from '../helpers/paths.js';

const run = promisify(execFile);
/** The compiled package entry next to this compiled test (build/src/index.js). */
const entry = new URL('../../src/index.js', import.meta.url).href;

let dir = '';

before(() => {
  // Inside the checkout, so a bare `@opentelemetry/api` would resolve from its node_modules.
  dir = mkdtempSync(join(repoRoot, 'build', 'otel-missing-'));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    [
      'export async function resolve(specifier, context, next) {',
      "  if (specifier === '@opentelemetry/api' || specifier.startsWith('@opentelemetry/api/')) {",
      "    const err = new Error(`Cannot find package '${specifier}'`);",
      "    err.code = 'ERR_MODULE_NOT_FOUND';",
      '    throw err;',
      '  }',
      '  return next(specifier, context);',
      '}',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'register.mjs'),
    "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n",
  );
  writeFileSync(
    join(dir, 'app.mjs'),
    [
      `const pkg = await import(${JSON.stringify(entry)});`,
      'const out = { loaded: typeof pkg.createOrchestrator === "function" };',
      'try {',
      '  await pkg.instrumentOpenTelemetry();',
      '  out.instrumented = true;',
      '} catch (e) {',
      '  out.code = e.code; out.message = e.message; out.causeCode = e.cause?.code;',
      '  out.isGuardError = e instanceof pkg.GuardError;',
      '}',
      'try {',
      "  await import('@opentelemetry/api');",
      '  out.peerVisible = true;',
      '} catch { out.peerVisible = false; }',
      'console.log(JSON.stringify(out));',
    ].join('\n'),
  );
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

void describe('OpenTelemetry without its optional peer', () => {
  void test('the package loads; instrumentOpenTelemetry() fails with SG_OTEL_MISSING and the cause', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--no-warnings', '--import', pathToFileURL(join(dir, 'register.mjs')).href, join(dir, 'app.mjs')],
      { timeout: 30_000 },
    );
    const out = JSON.parse(stdout.trim()) as Record<string, unknown>;
    assert.equal(out.peerVisible, false, 'the hook must hide the peer, or this test proves nothing');
    assert.equal(out.loaded, true, 'the package loads without @opentelemetry/api');
    assert.equal(out.instrumented, undefined);
    assert.equal(out.code, 'SG_OTEL_MISSING');
    assert.equal(out.isGuardError, true);
    assert.equal(out.causeCode, 'ERR_MODULE_NOT_FOUND');
    assert.match(String(out.message), /npm install @opentelemetry\/api/);
  });

  void test('with the peer present (control), the same script instruments without error', async () => {
    const { stdout } = await run(process.execPath, ['--no-warnings', join(dir, 'app.mjs')], {
      timeout: 30_000,
    });
    const out = JSON.parse(stdout.trim()) as Record<string, unknown>;
    assert.equal(out.peerVisible, true);
    assert.equal(out.instrumented, true, JSON.stringify(out));
  });
});

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ConfigError,
  ErrorCodes,
  GuardError,
  InternalError,
  SpawnDeniedError,
  ToolError,
  errorMessage,
  isGuardError,
  toError,
} from '../../src/errors.js';
import type * as Errors from '../../src/errors.js';
import { repoRoot } from '../helpers/paths.js';

/** Rows of the docs/errors.md table: `| \`SG_X\` | meaning | how to fix |`. */
function documentedCodes(): Map<string, { meaning: string; fix: string }> {
  const text = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, { meaning: string; fix: string }>();
  for (const line of text.split('\n')) {
    const m = /^\|\s*`(SG_[A-Z0-9_]+)`\s*\|(.*)\|(.*)\|\s*$/.exec(line);
    if (m === null) continue;
    const [, code = '', meaning = '', fix = ''] = m;
    assert.ok(!rows.has(code), `docs/errors.md lists ${code} twice`);
    rows.set(code, { meaning: meaning.trim(), fix: fix.trim() });
  }
  return rows;
}

void describe('error registry and docs/errors.md', () => {
  const documented = documentedCodes();
  const registered = Object.keys(ErrorCodes);

  void test('every registered code is documented with a meaning and a fix', () => {
    const missing = registered.filter((c) => !documented.has(c));
    assert.deepEqual(missing, [], `add a row to docs/errors.md for: ${missing.join(', ')}`);
    for (const [code, row] of documented) {
      assert.ok(row.meaning.length > 0 && row.fix.length > 0, `${code}: empty meaning or fix`);
    }
  });

  void test('every documented code exists in the registry', () => {
    const stale = [...documented.keys()].filter((c) => !registered.includes(c));
    assert.deepEqual(stale, [], `docs/errors.md lists codes not in src/errors.ts: ${stale.join(', ')}`);
  });

  void test('codes follow SG_<AREA>_<DETAIL> (or SG_USAGE)', () => {
    for (const code of registered) assert.match(code, /^SG_[A-Z]+(_[A-Z0-9]+)*$/);
  });

  void test('ConfigError carries every issue, its code and no stack in the message', () => {
    const err = new ConfigError(
      [
        { path: '/agents/a/entry', message: 'does not exist' },
        { path: '', message: 'bad' },
      ],
      { source: 'x.json' },
    );
    assert.ok(err instanceof GuardError);
    assert.equal(err.code, 'SG_CONFIG_INVALID');
    assert.equal(err.issues.length, 2);
    assert.ok(Object.isFrozen(err.issues));
    assert.equal(err.message, 'x.json is invalid (2 problems):\n  /agents/a/entry: does not exist\n  /: bad');
  });
});

type ErrorsModule = typeof Errors;

/** Loads a separate copy of the compiled errors module, as a second copy of the package would be. */
async function loadCopy(): Promise<ErrorsModule> {
  const here = fileURLToPath(new URL('../../src/errors.js', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'sg-errors-copy-'));
  copies.push(dir);
  const file = join(dir, 'errors.js');
  copyFileSync(here, file);
  return (await import(pathToFileURL(file).href)) as ErrorsModule;
}
const copies: string[] = [];

void describe('errors across two copies of the package', () => {
  after(() => {
    for (const d of copies) rmSync(d, { recursive: true, force: true });
  });

  void test('a copy really is a second module: its classes are not ours', async () => {
    const other = await loadCopy();
    assert.notEqual(other.GuardError, GuardError);
    assert.notEqual(Object.getPrototypeOf(new other.ToolError('SG_TOOL_FAILED', 'x')), ToolError.prototype);
  });

  void test('instanceof and isGuardError recognise an error thrown by the other copy', async () => {
    const other = await loadCopy();
    const foreign = new other.ConfigError([{ path: '/a', message: 'bad' }]);
    assert.ok(foreign instanceof GuardError);
    assert.ok(foreign instanceof ConfigError);
    assert.ok(isGuardError(foreign));
    assert.equal(foreign.code, 'SG_CONFIG_INVALID');
    const ours = new SpawnDeniedError('rate_exceeded', 'too fast');
    assert.ok(ours instanceof other.GuardError);
    assert.ok(ours instanceof other.SpawnDeniedError);
    assert.ok(other.isGuardError(ours));
    assert.ok(new other.InternalError('x') instanceof InternalError);
  });

  void test('a brand answers only for its own class: a foreign ConfigError is no ToolError', async () => {
    const other = await loadCopy();
    const foreign = new other.ConfigError([{ path: '', message: 'bad' }]);
    assert.equal(foreign instanceof ToolError, false);
    assert.equal(foreign instanceof SpawnDeniedError, false);
    assert.equal(new GuardError('SG_USAGE', 'x') instanceof other.UsageError, false);
  });

  void test('a user subclass without a brand matches its own instances only', async () => {
    const other = await loadCopy();
    class AppError extends GuardError {}
    assert.ok(new AppError('SG_USAGE', 'x') instanceof AppError);
    assert.ok(new AppError('SG_USAGE', 'x') instanceof GuardError);
    assert.ok(new AppError('SG_USAGE', 'x') instanceof other.GuardError);
    assert.equal(new other.GuardError('SG_USAGE', 'x') instanceof AppError, false);
    assert.equal(new GuardError('SG_USAGE', 'x') instanceof AppError, false);
  });

  void test('plain errors, look-alikes and hostile objects are not guard errors', () => {
    assert.equal(isGuardError(new Error('x')), false);
    assert.equal(isGuardError({ code: 'SG_USAGE', message: 'x', name: 'GuardError' }), false);
    assert.equal(isGuardError(null), false);
    assert.equal(isGuardError('SG_USAGE'), false);
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    assert.equal(isGuardError(hostile), false);
    assert.equal(hostile instanceof GuardError, false);
  });
});

void describe('toError and errorMessage', () => {
  void test('an Error is returned as is', () => {
    const e = new TypeError('boom');
    assert.equal(toError(e), e);
    assert.equal(errorMessage(e), 'boom');
  });

  void test('a non-error becomes an Error with its string form and keeps it as the cause', () => {
    const e = toError(42);
    assert.ok(e instanceof Error);
    assert.equal(e.message, '42');
    assert.equal(e.cause, 42);
    assert.equal(errorMessage('plain text'), 'plain text');
    assert.equal(errorMessage(undefined), 'undefined');
  });

  void test('a value whose toString throws is described by its type, and nothing throws', () => {
    const evil = {
      toString(): string {
        throw new Error('no');
      },
    };
    assert.equal(errorMessage(evil), 'non-error thrown (object)');
    assert.equal(toError(evil).message, 'non-error thrown (object)');
    assert.equal(errorMessage(Object.create(null)), 'non-error thrown (object)');
  });

  void test('an InternalError carries SG_INTERNAL and says it is internal', () => {
    const e = new InternalError('no credential at start');
    assert.ok(e instanceof GuardError);
    assert.equal(e.code, 'SG_INTERNAL');
    assert.equal(e.message, 'internal: no credential at start');
    assert.equal(e.name, 'InternalError');
  });
});

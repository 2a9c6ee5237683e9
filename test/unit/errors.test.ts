import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, ErrorCodes, GuardError } from '../../src/errors.js';
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

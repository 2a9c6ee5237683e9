import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError, type ConfigIssue } from '../../../src/errors.js';
import { parseConfig } from '../../../src/config/index.js';
import { fixturesDir } from '../../helpers/paths.js';

/** Directory of the config fixtures; relative `entry` paths in inline configs resolve against `valid/`. */
export const configFixtures = join(fixturesDir, 'config');
export const validDir = join(configFixtures, 'valid');
export const NOOP_ENTRY = '../agents/noop.mjs';

/** Parses `value` expecting a ConfigError; returns its issues. */
export function issuesOf(value: unknown, baseDir = validDir): readonly ConfigIssue[] {
  try {
    parseConfig(value, { source: 'inline-test', baseDir });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'SG_CONFIG_INVALID');
    return err.issues;
  }
  assert.fail('expected the configuration to be rejected');
}

/** A subagent definition that is valid on its own (its entry exists relative to `validDir`). */
export function subagent(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    entry: NOOP_ENTRY,
    tools_allowed: ['web_fetch'],
    network: { allowed_domains: ['api.example.com'] },
    ...extra,
  };
}

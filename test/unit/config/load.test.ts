import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig, readConfigFile } from '../../../src/config/index.js';
import { ConfigReadError } from '../../../src/errors.js';
import { configFixtures } from './helpers.js';

void describe('loadConfig', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-config-'));
    mkdirSync(join(dir, 'agents'));
    copyFileSync(join(configFixtures, 'agents', 'noop.mjs'), join(dir, 'agents', 'run.mjs'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  void test('reads strict JSON and resolves entry against the file, not the working directory', async () => {
    const file = join(dir, 'openclaw.json');
    writeFileSync(file, JSON.stringify({ agents: { w: { entry: './agents/run.mjs' } } }));
    const c = await loadConfig(file);
    assert.equal(c.source, file);
    assert.equal(c.agents.w?.entry, join(dir, 'agents', 'run.mjs'));
    assert.equal((await readConfigFile(file)).syntax, 'json');
  });

  void test('reads JSON5 content (comments, trailing commas, unquoted keys) even in a .json file, and a BOM', async () => {
    const file = join(dir, 'json5-content.json');
    writeFileSync(file, "\uFEFF// comment\n{ agents: { w: { entry: './agents/run.mjs', }, }, }\n");
    const c = await loadConfig(file);
    assert.ok(c.agents.w);
    assert.equal((await readConfigFile(file)).syntax, 'json5');
  });

  void test('a syntax error is SG_CONFIG_READ with file:line:col', async () => {
    const err = await loadConfig(join(configFixtures, 'invalid', 'syntax.json5')).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigReadError);
    assert.equal(err.code, 'SG_CONFIG_READ');
    assert.match(err.message, /syntax\.json5:4:5: not valid JSON or JSON5/);
  });

  void test('a missing file is SG_CONFIG_READ naming the path', async () => {
    const file = join(dir, 'nope.json');
    const err = await loadConfig(file).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigReadError);
    assert.ok(err.message.includes(file));
    assert.match(err.message, /no such file/);
  });

  void test('a directory is SG_CONFIG_READ', async () => {
    const err = await loadConfig(dir).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigReadError);
    assert.match(err.message, /not a regular file/);
  });

  void test('an invalid config is SG_CONFIG_INVALID with the file as source', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ agents: { w: { network: { allowed_domains: ['*'] } } } }));
    const err = await loadConfig(file).catch((e: unknown) => e);
    assert.ok(err instanceof Error && 'code' in err && err.code === 'SG_CONFIG_INVALID');
    assert.ok(err.message.startsWith(`${file} is invalid (1 problem)`));
  });
});

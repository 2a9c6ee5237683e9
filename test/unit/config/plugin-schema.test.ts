import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import JSON5 from 'json5';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { loadConfig } from '../../../src/config/index.js';
import { buildPluginJsonSchema, buildPluginManifest } from '../../../src/config/json-schema.js';
import { repoRoot } from '../../helpers/paths.js';
import { validDir } from './helpers.js';

const read = (...p: string[]): unknown => JSON.parse(readFileSync(join(repoRoot, ...p), 'utf8'));
const pluginConfigOf = (file: string): unknown => {
  const doc = JSON5.parse<{ plugins: { entries: Record<string, { config: unknown }> } }>(
    readFileSync(file, 'utf8'),
  );
  return doc.plugins.entries['subagent-guard']?.config;
};

void describe('the plugin entry schema (plugins.entries["subagent-guard"].config)', () => {
  void test('schemas/plugin-config.schema.json and openclaw.plugin.json match the zod schema (regenerate: npm run build && node scripts/gen-schema.mjs)', () => {
    assert.deepEqual(read('schemas', 'plugin-config.schema.json'), buildPluginJsonSchema());
    assert.deepEqual(read('openclaw.plugin.json'), buildPluginManifest());
  });

  void test('the manifest names the plugin id OpenClaw keys the entry by, and ships with the package', () => {
    const manifest = read('openclaw.plugin.json') as {
      id: string;
      configSchema: { additionalProperties: unknown };
    };
    assert.equal(manifest.id, 'subagent-guard');
    assert.equal(manifest.configSchema.additionalProperties, false);
    const pkg = read('package.json') as { files: string[] };
    assert.ok(pkg.files.includes('openclaw.plugin.json'));
  });

  void test('its JSON Schema accepts the plugin config of the shipped example and the fixture, and refuses a typo', async () => {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    const validate = ajv.compile(read('schemas', 'plugin-config.schema.json') as object);
    for (const file of [
      join(repoRoot, 'examples', 'openclaw', 'openclaw.json'),
      join(validDir, 'openclaw-native.json5'),
    ]) {
      assert.ok(validate(pluginConfigOf(file)), `${file}: ${ajv.errorsText(validate.errors)}`);
      const c = await loadConfig(file);
      assert.equal(c.format, 'openclaw');
    }
    assert.equal(validate({ agents: { w: { netwrk: {} } } }), false);
    assert.equal(validate({ agents: { 'a.b': {} } }), false, 'OpenClaw ids have no dots');
    assert.equal(validate({ agents: { w: { subagents: { maxSpawnDepth: 6 } } } }), false);
  });
});

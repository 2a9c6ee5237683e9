#!/usr/bin/env node
// Regenerates, from the zod schemas (the single source of truth): schemas/openclaw.schema.json (the
// security-proxy shape), schemas/plugin-config.schema.json (our plugin entry in OpenClaw's own
// file), the openclaw.plugin.json manifest that carries it as configSchema, and
// schemas/audit-record.schema.json (one audit log record, from src/audit/record-schema.ts).
// Usage: npm run build && node scripts/gen-schema.mjs [--check]
//   --check: exit 1 (without writing) when a committed file differs from the generated one.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

let mod;
try {
  mod = await import(join(root, 'dist', 'config', 'json-schema.js'));
} catch (err) {
  console.error(`cannot load dist/config/json-schema.js (run \`npm run build\` first): ${err.message}`);
  process.exit(2);
}
let audit;
try {
  audit = await import(join(root, 'dist', 'audit', 'record-schema.js'));
} catch (err) {
  console.error(`cannot load dist/audit/record-schema.js (run \`npm run build\` first): ${err.message}`);
  process.exit(2);
}
const outputs = [
  [join(root, 'schemas', 'openclaw.schema.json'), mod.buildJsonSchema()],
  [join(root, 'schemas', 'plugin-config.schema.json'), mod.buildPluginJsonSchema()],
  [join(root, 'openclaw.plugin.json'), mod.buildPluginManifest()],
  [join(root, 'schemas', 'audit-record.schema.json'), audit.buildAuditRecordJsonSchema()],
];

if (process.argv.includes('--check')) {
  let stale = 0;
  for (const [file, schema] of outputs) {
    let current;
    try {
      current = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      current = undefined;
    }
    if (!isDeepStrictEqual(current, schema)) {
      console.error(`${file} is out of date: run \`npm run build && node scripts/gen-schema.mjs\``);
      stale++;
    }
  }
  if (stale > 0) process.exit(1);
  console.log('schemas are up to date');
  process.exit(0);
}

for (const [file, schema] of outputs) {
  let text = `${JSON.stringify(schema, null, 2)}\n`;
  try {
    // Format like the rest of the repository so `prettier --check` stays green.
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(file)) ?? {};
    text = await prettier.format(text, { ...options, parser: 'json' });
  } catch {
    // prettier is a dev dependency; without it the plain JSON is still valid.
  }
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}

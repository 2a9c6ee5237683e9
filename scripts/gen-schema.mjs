#!/usr/bin/env node
// Regenerates schemas/openclaw.schema.json from the zod schema (the single source of truth).
// Usage: npm run build && node scripts/gen-schema.mjs [--check]
//   --check: exit 1 (without writing) when the committed file differs from the generated one.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'schemas', 'openclaw.schema.json');

let mod;
try {
  mod = await import(join(root, 'dist', 'config', 'json-schema.js'));
} catch (err) {
  console.error(`cannot load dist/config/json-schema.js (run \`npm run build\` first): ${err.message}`);
  process.exit(2);
}
const schema = mod.buildJsonSchema();

if (process.argv.includes('--check')) {
  let current;
  try {
    current = JSON.parse(readFileSync(target, 'utf8'));
  } catch {
    current = undefined;
  }
  if (!isDeepStrictEqual(current, schema)) {
    console.error(
      'schemas/openclaw.schema.json is out of date: run `npm run build && node scripts/gen-schema.mjs`',
    );
    process.exit(1);
  }
  console.log('schemas/openclaw.schema.json is up to date');
  process.exit(0);
}

let text = `${JSON.stringify(schema, null, 2)}\n`;
try {
  // Format like the rest of the repository so `prettier --check` stays green.
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(target)) ?? {};
  text = await prettier.format(text, { ...options, parser: 'json' });
} catch {
  // prettier is a dev dependency; without it the plain JSON is still valid.
}
writeFileSync(target, text);
console.log(`wrote ${target}`);

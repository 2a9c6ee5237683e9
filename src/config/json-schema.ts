/**
 * The published JSON Schema (draft 2020-12) of the security-proxy shape, generated from the zod
 * schema so the two cannot disagree. `scripts/gen-schema.mjs` writes it to
 * `schemas/openclaw.schema.json`; a test fails when the committed file drifts.
 */
import * as z from 'zod';
import { SecurityProxyConfigSchema } from './schema.js';

/** Builds the JSON Schema object for `schemas/openclaw.schema.json`. */
export function buildJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(SecurityProxyConfigSchema, { target: 'draft-2020-12', io: 'input' });
  const { $schema, ...rest } = generated;
  return {
    $schema: $schema ?? 'https://json-schema.org/draft/2020-12/schema',
    title: 'subagent-guard openclaw.json',
    ...rest,
  };
}

export { buildPluginJsonSchema, buildPluginManifest } from './plugin-schema.js';

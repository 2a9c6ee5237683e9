/**
 * The published JSON Schema (draft 2020-12) of the security-proxy shape, generated from the zod
 * schema so the two cannot disagree. `scripts/gen-schema.mjs` writes it to
 * `schemas/openclaw.schema.json`; a test fails when the committed file drifts.
 */
import { isDeepStrictEqual } from 'node:util';
import * as z from 'zod';
import { InternalError } from '../errors.js';
import { SecurityProxyConfigSchema } from './schema.js';

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `role` constant of one generated agent branch. */
function roleOf(branch: JsonObject): unknown {
  const props = branch['properties'];
  const role = isObject(props) ? props['role'] : undefined;
  return isObject(role) ? role['const'] : undefined;
}

/**
 * Rewrites the agent entry's `anyOf: [parent, subagent]` (what zod emits for the union) into ONE
 * object schema discriminated by `role`: every key of either branch in `properties` with
 * `additionalProperties: false`, and an `if role == "parent"` that forbids the subagent-only keys
 * (`else`: the parent-only ones). A validator (and an editor) then reports a typo such as
 * `tools_alowed` once, as the unknown key it is, instead of once per branch plus false errors from
 * the branch the entry was never meant to match ("must have required property 'role'").
 */
export function discriminateAgentSchema(agentSchema: JsonObject): JsonObject {
  const branches = agentSchema['anyOf'];
  if (!Array.isArray(branches) || branches.length !== 2 || !branches.every(isObject)) {
    throw new InternalError('agent JSON Schema: expected anyOf [parent, subagent] from the zod union');
  }
  const parent = branches.find((b) => roleOf(b) === 'parent');
  const subagent = branches.find((b) => roleOf(b) === 'subagent');
  const pProps = parent?.['properties'];
  const sProps = subagent?.['properties'];
  if (parent === undefined || subagent === undefined || !isObject(pProps) || !isObject(sProps)) {
    throw new InternalError('agent JSON Schema: the union must have one "parent" and one "subagent" branch');
  }
  const properties: JsonObject = {
    role: {
      type: 'string',
      enum: ['parent', 'subagent'],
      description:
        '"subagent" (default): spawned in isolation by a parent. "parent": run by your own code (the orchestrator); never spawned.',
    },
  };
  const onlyParent: JsonObject = {};
  const onlySubagent: JsonObject = {};
  for (const key of new Set([...Object.keys(pProps), ...Object.keys(sProps)])) {
    if (key === 'role') continue;
    const p = pProps[key];
    const s = sProps[key];
    if (p !== undefined && s !== undefined && isDeepStrictEqual(p, s)) {
      properties[key] = p;
    } else if (p !== undefined && s !== undefined) {
      // The same key with a different meaning per role: each branch carries its own schema.
      properties[key] = true;
      onlyParent[key] = p;
      onlySubagent[key] = s;
    } else if (p !== undefined) {
      properties[key] = p;
      onlySubagent[key] = false;
    } else {
      properties[key] = s;
      onlyParent[key] = false;
    }
  }
  return {
    type: 'object',
    description: `${String(subagent['description'])} With role "parent": ${String(parent['description'])}`,
    properties,
    additionalProperties: false,
    if: { properties: { role: { const: 'parent' } }, required: ['role'] },
    then: { properties: onlyParent },
    else: { properties: onlySubagent },
  };
}

/** Builds the JSON Schema object for `schemas/openclaw.schema.json`. */
export function buildJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(SecurityProxyConfigSchema, { target: 'draft-2020-12', io: 'input' });
  const { $schema, ...rest } = generated;
  const props = rest.properties;
  const agents = isObject(props) ? props['agents'] : undefined;
  const entry = isObject(agents) ? agents['additionalProperties'] : undefined;
  if (!isObject(agents) || !isObject(entry)) {
    throw new InternalError('agent JSON Schema: properties.agents.additionalProperties not found');
  }
  agents['additionalProperties'] = discriminateAgentSchema(entry);
  return {
    $schema: $schema ?? 'https://json-schema.org/draft/2020-12/schema',
    title: 'subagent-guard openclaw.json',
    ...rest,
  };
}

export { buildPluginJsonSchema, buildPluginManifest } from './plugin-schema.js';

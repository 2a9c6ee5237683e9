/**
 * Reading the pieces of OpenClaw's native shape: which keys are read (and validated), which are
 * reported as ignored, and how agents are collected from `agents.list[]` / `agents.entries{}`.
 */
import * as z from 'zod';
import { LIMITS } from './defaults.js';
import { validateWith } from './issues.js';
import { AGENT_NAME_RE, agentNameMessage } from './patterns.js';
import { childPointer } from './pointer.js';
import {
  ConstraintsSchema,
  EntrySchema,
  ReadPathsSchema,
  NetworkSectionSchema,
  ProxyUrlSchema,
  ToolPatternSchema,
} from './schema.js';
import type { ParseContext } from './seed.js';
import { toolPatterns, type ToolLayer } from './tool-policy.js';
import type { IgnoredKey } from './types.js';

const count = (min: number, max: number) => z.number().int().min(min).max(max).optional();

/** OpenClaw `subagents` keys read here (others are ignored). */
export const NativeSpawnSchema = z.looseObject({
  allowAgents: z.array(z.string().min(1)).optional(),
  maxConcurrent: count(1, LIMITS.maxSpawnLimit),
  maxSpawnDepth: count(1, LIMITS.maxSpawnDepth),
  maxChildrenPerAgent: count(1, LIMITS.maxSpawnLimit),
  runTimeoutSeconds: count(0, LIMITS.maxTimeoutSeconds),
  maxSpawnsPerMinute: count(1, LIMITS.maxSpawnLimit),
});
/** OpenClaw `tools` keys read here (others are ignored). */
export const NativeToolsSchema = z.looseObject({
  allow: z.array(ToolPatternSchema).optional(),
  alsoAllow: z.array(ToolPatternSchema).optional(),
  deny: z.array(ToolPatternSchema).optional(),
});
/** Agent-level keys read here; `entry`, `description`, `proxy`, `constraints`, `network` are this package's extensions. */
export const NativeAgentSchema = z.looseObject({
  id: z.string().optional(),
  default: z.boolean().optional(),
  description: z.string().max(2000).optional(),
  entry: EntrySchema.optional(),
  read_paths: ReadPathsSchema.optional(),
  proxy: ProxyUrlSchema.optional(),
  tools: NativeToolsSchema.optional(),
  subagents: NativeSpawnSchema.optional(),
  constraints: ConstraintsSchema.optional(),
  network: NetworkSectionSchema.optional(),
});
/** OpenClaw `proxy` section: OpenClaw's own outbound proxy, read only to validate and report it. */
export const NativeProxySchema = z.looseObject({
  enabled: z.boolean().optional(),
  proxyUrl: ProxyUrlSchema.optional(),
  loopbackMode: z.enum(['gateway-only', 'proxy', 'block']).optional(),
});

/** An OpenClaw agent entry, validated. */
export type NativeAgent = z.output<typeof NativeAgentSchema>;
/** An OpenClaw `subagents` section, validated. */
export type NativeSpawn = z.output<typeof NativeSpawnSchema>;

/** Keys read at each level; every other key is reported as ignored. */
export const ROOT_KEYS = ['$schema', 'agents', 'tools', 'proxy'];
/** Keys read under `agents`. */
export const AGENTS_KEYS = ['defaults', 'list', 'entries'];
/** Keys read on one agent. */
export const AGENT_KEYS = [
  'id',
  'default',
  'description',
  'entry',
  'read_paths',
  'proxy',
  'tools',
  'subagents',
  'constraints',
  'network',
];
/** Keys read under `agents.defaults`. */
export const DEFAULTS_KEYS = ['tools', 'subagents', 'constraints', 'network'];
/** Keys read under `tools`. */
export const TOOLS_KEYS = ['allow', 'alsoAllow', 'deny'];
/** Keys read under `subagents`. */
export const SPAWN_KEYS = [
  'allowAgents',
  'maxConcurrent',
  'maxSpawnDepth',
  'maxChildrenPerAgent',
  'runTimeoutSeconds',
  'maxSpawnsPerMinute',
];

/** True for a plain (non-array) object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Why policy keys on the parent are not enforced. */
export const PARENT_NOTE =
  'the parent (default) agent is run by your own code and never spawned, so this is not enforced on it; ignored';
const IGNORED = 'OpenClaw key with no meaning for subagent-guard; ignored';
const SPECIAL: Readonly<Record<string, string>> = {
  profile:
    'tool profiles are not expanded here; list tools in tools.allow (no allow list = no tools); ignored',
  model: 'model selection is up to the subagent program; ignored',
  sandbox: "OpenClaw's sandbox settings do not apply; subagent-guard always isolates subagents; ignored",
};

/** Records every key of `obj` not in `known` as ignored. */
export function ignoreRest(
  obj: Record<string, unknown>,
  known: readonly string[],
  path: string,
  ignored: IgnoredKey[],
): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key))
      ignored.push({ path: childPointer(path, key), message: SPECIAL[key] ?? IGNORED });
  }
}

/** Reads `tools` at `path`: validates allow/alsoAllow/deny, reports the rest. */
export function readToolLayer(
  raw: unknown,
  path: string,
  ctx: ParseContext,
  ignored: IgnoredKey[],
): ToolLayer & { set: boolean } {
  if (raw === undefined) return { set: false };
  if (!isRecord(raw)) {
    ctx.issues.add(path, 'expected an object with "allow" and/or "deny" lists');
    return { set: false };
  }
  validateWith(NativeToolsSchema, raw, path, ctx.issues);
  ignoreRest(raw, path === '/tools' ? [...TOOLS_KEYS, 'subagents'] : TOOLS_KEYS, path, ignored);
  const allow =
    raw.allow === undefined ? undefined : toolPatterns(raw.allow, childPointer(path, 'allow'), ctx.issues);
  const also =
    raw.alsoAllow === undefined
      ? undefined
      : toolPatterns(raw.alsoAllow, childPointer(path, 'alsoAllow'), ctx.issues);
  const deny = toolPatterns(raw.deny, childPointer(path, 'deny'), ctx.issues);
  const allowAll =
    allow === undefined && also === undefined ? undefined : [...(allow ?? []), ...(also ?? [])];
  return { allow: allowAll, deny, set: true };
}

/** One agent as written (before defaults are merged), with where it came from. */
export interface RawAgent {
  readonly name: string;
  readonly path: string;
  readonly raw: Record<string, unknown>;
  readonly parsed: NativeAgent | undefined;
  readonly layer: ToolLayer & { set: boolean };
}

/** Collects agents from `agents.list[]` and `agents.entries{}`. */
export function collectAgents(
  agents: Record<string, unknown>,
  ctx: ParseContext,
  ignored: IgnoredKey[],
): RawAgent[] {
  const out: RawAgent[] = [];
  const seen = new Set<string>();
  const add = (idRaw: unknown, raw: unknown, path: string, idPath: string): void => {
    if (!isRecord(raw)) {
      ctx.issues.add(path, 'expected an object describing the agent');
      return;
    }
    if (typeof idRaw !== 'string') {
      ctx.issues.add(idPath, 'is required: expected the agent id, a string');
      return;
    }
    const name = idRaw.toLowerCase();
    if (!AGENT_NAME_RE.test(name)) {
      ctx.issues.add(idPath, agentNameMessage(name));
      return;
    }
    if (seen.has(name)) {
      ctx.issues.add(
        idPath,
        `duplicate agent id ${JSON.stringify(name)}; ids are compared case-insensitively`,
      );
      return;
    }
    seen.add(name);
    const parsed = validateWith(NativeAgentSchema, raw, path, ctx.issues);
    ignoreRest(raw, AGENT_KEYS, path, ignored);
    out.push({
      name,
      path,
      raw,
      parsed,
      layer: readToolLayer(raw.tools, childPointer(path, 'tools'), ctx, ignored),
    });
  };
  if (agents.list !== undefined) {
    if (!Array.isArray(agents.list))
      ctx.issues.add('/agents/list', 'expected an array of agents, each with an "id"');
    else
      agents.list.forEach((item: unknown, i) => {
        const path = childPointer('/agents/list', i);
        add(isRecord(item) ? item.id : undefined, item, path, childPointer(path, 'id'));
      });
  }
  if (agents.entries !== undefined) {
    if (!isRecord(agents.entries))
      ctx.issues.add('/agents/entries', 'expected an object mapping agent ids to agents');
    else
      for (const [id, item] of Object.entries(agents.entries)) {
        const path = childPointer('/agents/entries', id);
        if (isRecord(item) && item.id !== undefined && item.id !== id) {
          ctx.issues.add(
            childPointer(path, 'id'),
            `differs from the entry's key ${JSON.stringify(id)}; remove it or make them equal`,
          );
          continue;
        }
        add(id, item, path, path);
      }
  }
  return out;
}

/** The parent: the first agent marked `default: true`, else `main`, else the first (as OpenClaw picks its default agent). */
export function pickParent(list: readonly RawAgent[], ignored: IgnoredKey[]): string | undefined {
  const marked = list.filter((a) => a.raw.default === true);
  for (const extra of marked.slice(1)) {
    ignored.push({
      path: childPointer(extra.path, 'default'),
      message: `only one default agent; "${marked[0]?.name ?? ''}" is the parent`,
    });
  }
  return marked[0]?.name ?? list.find((a) => a.name === 'main')?.name ?? list[0]?.name;
}

/**
 * Reading the pieces of OpenClaw's native shape: which keys are read (and validated), which are
 * reported as ignored, and how agents are collected from `agents.list[]` / `agents.entries{}`.
 */
import * as z from 'zod';
import { LIMITS } from './defaults.js';
import { OPENCLAW_SHAPE } from './openclaw-shape.generated.js';
import { validateWith } from './issues.js';
import { badIdMessage, isOpenClawAgentId } from './openclaw-reject.js';
import { childPointer } from './pointer.js';
import type { ParseContext } from './security-proxy.js';
import type { IgnoredKey } from './types.js';

const count = (min: number, max: number) => z.number().int().min(min).max(max).optional();
const { limits } = OPENCLAW_SHAPE;

/** `agents.defaults.subagents` keys read here (OpenClaw's own; the rest are ignored). */
export const NativeSpawnSchema = z.looseObject({
  allowAgents: z.array(z.string().min(1)).optional(),
  maxConcurrent: count(1, LIMITS.maxSpawnLimit),
  maxSpawnDepth: count(limits.maxSpawnDepth.min, limits.maxSpawnDepth.max),
  maxChildrenPerAgent: count(limits.maxChildrenPerAgent.min, limits.maxChildrenPerAgent.max),
  runTimeoutSeconds: count(0, LIMITS.maxTimeoutSeconds),
});
/** Keys of one OpenClaw agent entry read here; our own settings come from the plugin entry. */
export const NativeAgentSchema = z.looseObject({
  default: z.boolean().optional(),
  description: z.string().max(2000).optional(),
  // Read and checked layer by layer in openclaw-tools.ts (unknown groups are warnings there).
  tools: z.unknown().optional(),
  subagents: z.looseObject({ allowAgents: z.array(z.string().min(1)).optional() }).optional(),
});

/** An OpenClaw agent entry, validated. */
export type NativeAgent = z.output<typeof NativeAgentSchema>;
/** Spawn settings merged from OpenClaw's defaults and our plugin entry. */
export interface NativeSpawn {
  readonly allowAgents?: readonly string[] | undefined;
  readonly maxConcurrent?: number | undefined;
  readonly maxSpawnDepth?: number | undefined;
  readonly maxChildrenPerAgent?: number | undefined;
  readonly runTimeoutSeconds?: number | undefined;
  readonly maxSpawnsPerMinute?: number | undefined;
}

/** Keys read at each level; every other key OpenClaw accepts is reported as ignored. */
export const ROOT_KEYS = ['$schema', 'agents', 'tools', 'plugins'];
/** Keys read under `agents` (`list` is the legacy roster, migrated). */
export const AGENTS_KEYS = ['ownership', 'defaults', 'list', 'entries'];
/** Keys read on one agent. */
export const AGENT_KEYS = ['id', 'default', 'description', 'tools', 'subagents'];
/** Keys read under `agents.defaults`. */
export const DEFAULTS_KEYS = ['subagents', 'systemAgent'];
/** Keys read under `agents.defaults.subagents`. */
export const SPAWN_KEYS = [
  'allowAgents',
  'maxConcurrent',
  'maxSpawnDepth',
  'maxChildrenPerAgent',
  'runTimeoutSeconds',
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
  proxy:
    'OpenClaw\'s own outbound proxy (what OpenClaw itself sends through); never used as subagent-guard\'s upstream, which is plugins.entries["subagent-guard"].config.gateway.upstream; ignored',
  gateway:
    'OpenClaw\'s own gateway server settings; subagent-guard\'s egress gateway is configured at plugins.entries["subagent-guard"].config.gateway; ignored',
  model:
    'model selection is up to the subagent program; the model only selects the tools.byProvider entry that applies',
  sandbox:
    "OpenClaw's sandbox settings do not apply (subagent-guard always isolates subagents); sandbox.mode only decides whether tools.sandbox.tools applies",
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

/** One agent as written (before defaults are merged), with where it came from. */
export interface RawAgent {
  readonly name: string;
  readonly path: string;
  readonly raw: Record<string, unknown>;
  readonly parsed: NativeAgent | undefined;
}

/** Collects agents from `agents.entries{}` and the legacy `agents.list[]` (with a notice). */
export function collectAgents(
  agents: Record<string, unknown>,
  ctx: ParseContext,
  ignored: IgnoredKey[],
  notices: IgnoredKey[],
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
    if (!isOpenClawAgentId(idRaw)) {
      ctx.issues.add(idPath, badIdMessage(idRaw), 'SG_CONFIG_OPENCLAW_REJECTED');
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
    out.push({ name, path, raw, parsed });
  };
  if (agents.list !== undefined) {
    if (Array.isArray(agents.list))
      notices.push({
        path: '/agents/list',
        message:
          "agents.list is OpenClaw's legacy roster: OpenClaw moves it to keyed agents.entries (run `openclaw doctor --fix`); read here as agents.entries",
      });
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
        add(id, item, path, path);
      }
  }
  return out;
}

/**
 * The parent: the plugin entry's `parent`, else a legacy `default: true` entry, else OpenClaw's
 * system agent (`agents.defaults.systemAgent.agentId`), else `main`, else
 * the first agent (as OpenClaw picked its default agent before explicit ownership).
 */
export function pickParent(
  list: readonly RawAgent[],
  configured: string | undefined,
  systemAgent: unknown,
  notices: IgnoredKey[],
): string | undefined {
  const marked = list.filter((a) => a.raw.default === true);
  for (const m of marked) {
    notices.push({
      path: childPointer(m.path, 'default'),
      message:
        'default: true is a retired OpenClaw marker (OpenClaw removes it when it migrates the file); name the parent at plugins.entries["subagent-guard"].config.parent',
    });
  }
  if (configured !== undefined) return configured.toLowerCase();
  const owner = typeof systemAgent === 'string' ? systemAgent.trim().toLowerCase() : undefined;
  return (
    marked[0]?.name ??
    list.find((a) => a.name === owner)?.name ??
    list.find((a) => a.name === 'main')?.name ??
    list[0]?.name
  );
}

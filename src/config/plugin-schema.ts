/**
 * subagent-guard's settings inside OpenClaw's own file: `plugins.entries["subagent-guard"].config`,
 * the one place OpenClaw's strict schema leaves to a plugin. OpenClaw validates that object against
 * the `configSchema` of our `openclaw.plugin.json`, generated from the zod schema below, so both
 * readers of one openclaw.json agree. Everything OpenClaw itself defines (agents, tools, subagents
 * limits, proxy) stays where OpenClaw puts it; only our extensions live here.
 */
import * as z from 'zod';
import { LIMITS } from './defaults.js';
import { OPENCLAW_SHAPE, OPENCLAW_VERSION } from './openclaw-shape.generated.js';
import {
  AuditSchema,
  ConstraintsSchema,
  EntrySchema,
  GatewaySchema,
  NetworkSectionSchema,
  PolicyModeSchema,
  PoolSchema,
  ProxyUrlSchema,
  ReadPathsSchema,
} from './schema.js';

/** The plugin id: the key under `plugins.entries` and the manifest's `id`. */
export const PLUGIN_ID = 'subagent-guard';
/** Tools the OpenClaw plugin registers (the manifest's `contracts.tools`). */
export const PLUGIN_TOOLS = ['guarded_fetch'] as const;

const { limits } = OPENCLAW_SHAPE;
const int = (min: number, max: number, what: string) =>
  z
    .number()
    .int({ error: `${what} must be an integer` })
    .min(min, { error: (iss) => `${what} must be at least ${min}, got ${String(iss.input)}` })
    .max(max, { error: (iss) => `${what} must be at most ${max}, got ${String(iss.input)}` });

// OpenClaw's id pattern is case-insensitive; JSON Schema has no flags, so spell both cases.
const ID_SOURCE = OPENCLAW_SHAPE.agentIdPattern.source.replace(/a-z/g, 'A-Za-z');
/** An agent id as OpenClaw accepts it under `agents.entries`. */
export const OPENCLAW_AGENT_ID_RE = new RegExp(
  OPENCLAW_SHAPE.agentIdPattern.source,
  OPENCLAW_SHAPE.agentIdPattern.flags,
);
const AgentIdSchema = z.string().regex(new RegExp(ID_SOURCE), {
  error: `expected an OpenClaw agent id: 1-64 letters, digits, "_" or "-", not starting with "-" (${OPENCLAW_SHAPE.agentIdPattern.source}, any case)`,
});

/** Per-agent spawn limits OpenClaw only accepts in `agents.defaults.subagents` (or not at all). */
export const PluginSpawnSchema = z
  .strictObject({
    maxConcurrent: int(1, LIMITS.maxSpawnLimit, 'maxConcurrent')
      .optional()
      .describe(
        'Its children running at once; more wait in a queue. Default: agents.defaults.subagents.maxConcurrent, else 1.',
      ),
    maxChildrenPerAgent: int(
      limits.maxChildrenPerAgent.min,
      limits.maxChildrenPerAgent.max,
      'maxChildrenPerAgent',
    )
      .optional()
      .describe(
        'Its children running + queued at once. Default: agents.defaults.subagents.maxChildrenPerAgent, else 1.',
      ),
    maxSpawnDepth: int(limits.maxSpawnDepth.min, limits.maxSpawnDepth.max, 'maxSpawnDepth')
      .optional()
      .describe(
        'Nesting depth below it (1 = its children may not spawn). Default: agents.defaults.subagents.maxSpawnDepth, else 1.',
      ),
    runTimeoutSeconds: int(1, LIMITS.maxTimeoutSeconds, 'runTimeoutSeconds')
      .optional()
      .describe("Wall-clock limit of the children it spawns (the tightest of their parents' wins)."),
    maxSpawnsPerMinute: int(1, LIMITS.maxSpawnLimit, 'maxSpawnsPerMinute')
      .optional()
      .describe('Spawns per rolling minute. Default: defaults.subagents.maxSpawnsPerMinute, else 10.'),
  })
  .describe("Spawn limits of this agent as a parent, beyond what OpenClaw's per-agent subagents accepts.");

/** Our settings for one OpenClaw agent, keyed by its `agents.entries` id. */
export const PluginAgentSchema = z
  .strictObject({
    entry: EntrySchema.optional(),
    read_paths: ReadPathsSchema.optional(),
    pool: PoolSchema.optional(),
    upstream: ProxyUrlSchema.optional().describe(
      "Upstream proxy for this agent's egress (overrides gateway.upstream). Never OpenClaw's proxy.proxyUrl.",
    ),
    tools_mode: PolicyModeSchema.optional().describe(
      'Mode of this agent\'s tool policy (OpenClaw\'s tools layers): "enforce" (default) or "report" (a tool the policy does not allow runs and is recorded with enforced: false; deny rules and quotas stay enforced).',
    ),
    constraints: ConstraintsSchema.optional(),
    network: NetworkSectionSchema.optional(),
    subagents: PluginSpawnSchema.optional(),
  })
  .describe('subagent-guard settings of one agent of agents.entries.');

/** Settings merged into every agent. */
export const PluginDefaultsSchema = z
  .strictObject({
    tools_mode: PolicyModeSchema.optional().describe('Tool policy mode of every agent. Default "enforce".'),
    constraints: ConstraintsSchema.optional(),
    network: NetworkSectionSchema.optional(),
    subagents: z
      .strictObject({
        maxSpawnsPerMinute: int(1, LIMITS.maxSpawnLimit, 'maxSpawnsPerMinute')
          .optional()
          .describe('Spawns per rolling minute of every parent. Default 10.'),
      })
      .optional(),
  })
  .describe(
    'Defaults merged into every agent (an agent’s own values win; network lists are replaced, not merged).',
  );

/** What the OpenClaw plugin enforces inside the Gateway (ignored by the library and the CLI). */
export const PluginEnforceSchema = z
  .strictObject({
    host_network_tools: z
      .enum(['deny', 'allow'])
      .optional()
      .describe(
        'OpenClaw\'s host-side network tools (web_fetch, web_search, x_search, browser) for every agent: "deny" leaves guarded_fetch, per agent and audited, as the only path to the network. Default "deny".',
      ),
    spawn_release_timeout_seconds: int(1, LIMITS.maxTimeoutSeconds, 'spawn_release_timeout_seconds')
      .optional()
      .describe(
        'A sessions_spawn reservation whose subagent_ended never arrives is released after this many seconds. Default 3600.',
      ),
    tool_cost_usd: z
      .record(
        z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, { error: 'expected a tool name' }),
        z.number().min(0).max(1_000_000),
      )
      .optional()
      .describe(
        "Metered cost of one call of a tool, USD, counted against the agent's max_cost_usd per run. Default: 0 for every tool.",
      ),
  })
  .describe('What the OpenClaw plugin enforces in the Gateway.');

/** The whole `plugins.entries["subagent-guard"].config` object. */
export const PluginConfigSchema = z
  .strictObject({
    parent: AgentIdSchema.optional().describe(
      'The agent your own code runs (never spawned). Default: a legacy default: true entry, else agents.defaults.systemAgent.agentId, else "main", else the first entry.',
    ),
    gateway: GatewaySchema.optional(),
    audit: AuditSchema.optional(),
    defaults: PluginDefaultsSchema.optional(),
    agents: z.record(AgentIdSchema, PluginAgentSchema).optional().describe('Per agent id of agents.entries.'),
    enforce: PluginEnforceSchema.optional(),
  })
  .describe(`subagent-guard settings in an OpenClaw ${OPENCLAW_VERSION} openclaw.json.`);

/** The validated plugin config. */
export type PluginConfig = z.output<typeof PluginConfigSchema>;
/** The validated `enforce` section. */
export type PluginEnforce = z.output<typeof PluginEnforceSchema>;
/** One agent's validated plugin settings. */
export type PluginAgent = z.output<typeof PluginAgentSchema>;

/** Known keys at each level of the plugin config, for messages saying where a setting belongs. */
export const PLUGIN_KEYS = Object.freeze({
  agent: Object.keys(PluginAgentSchema.shape),
  spawn: Object.keys(PluginSpawnSchema.shape),
});

/** JSON Schema of the plugin config (`schemas/plugin-config.schema.json`, the manifest's configSchema). */
export function buildPluginJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(PluginConfigSchema, { target: 'draft-2020-12', io: 'input' });
  const { $schema, ...rest } = generated;
  return {
    $schema: $schema ?? 'https://json-schema.org/draft/2020-12/schema',
    title: 'subagent-guard plugin config (plugins.entries["subagent-guard"].config)',
    ...rest,
  };
}

/** The `openclaw.plugin.json` manifest OpenClaw validates our plugin entry's config with. */
export function buildPluginManifest(): Record<string, unknown> {
  const configSchema = buildPluginJsonSchema();
  delete configSchema.$schema;
  return {
    id: PLUGIN_ID,
    name: 'subagent-guard',
    description: 'Security-proxy subagents: tool ACLs, quotas, a filtering egress gateway and an audit log.',
    // Every tool the entry registers must be declared here, or OpenClaw refuses the registration.
    contracts: { tools: [...PLUGIN_TOOLS] },
    // The hooks must be in place before the first tool call, so the runtime loads at startup.
    activation: { onStartup: true },
    configSchema,
  };
}

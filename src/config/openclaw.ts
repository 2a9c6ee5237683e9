/**
 * OpenClaw's native shape, read as the pinned OpenClaw release defines it: `agents.ownership`,
 * `agents.defaults`, `agents.entries.<id>` (legacy `agents.list` migrated with a notice), the
 * top-level and per-agent `tools`, OpenClaw's `subagents` limits. Our own settings (entry, quotas,
 * network, spawn rates, upstream, gateway, audit) come from `plugins.entries["subagent-guard"].config`,
 * where OpenClaw accepts a plugin's settings, so one file passes both validators. Every key OpenClaw
 * would reject is an issue (SG_CONFIG_OPENCLAW_REJECTED); OpenClaw keys with no meaning here are
 * reported in `ignored[]`. `proxy.*` is OpenClaw's own outbound proxy and never our upstream.
 */
import {
  checkAllowAgentsList,
  checkAllowAgentsRefs,
  resolveEntry,
  resolveReadPaths,
  toConstraints,
  toPool,
  toSpawnPolicy,
  toUpstream,
  type AgentRef,
} from './agent-parts.js';
import { DEFAULT_CONSTRAINTS, DEFAULT_NETWORK } from './defaults.js';
import { IssueCollector, validateWith } from './issues.js';
import { nullProtoRecord } from './json.js';
import { normalizeNetwork } from './network.js';
import {
  AGENTS_KEYS,
  DEFAULTS_KEYS,
  NativeSpawnSchema,
  PARENT_NOTE,
  ROOT_KEYS,
  SPAWN_KEYS,
  collectAgents,
  ignoreRest,
  isRecord,
  pickParent,
  type NativeSpawn,
} from './openclaw-parts.js';
import { PLUGIN_CONFIG_POINTER, checkOpenClawAcceptance } from './openclaw-reject.js';
import { checkListen } from './patterns.js';
import { PLUGIN_ID, PluginConfigSchema, type PluginAgent, type PluginConfig } from './plugin-schema.js';
import { childPointer } from './pointer.js';
import { toAuditConfig, toGatewayConfig, type ParseContext } from './security-proxy.js';
import { resolveOpenclawToolPolicy } from './openclaw-tools.js';
import type { AgentConfig, GuardConfig, IgnoredKey } from './types.js';

/** Reads and validates our plugin entry's config; undefined when absent or invalid. */
function readPluginConfig(value: Record<string, unknown>, ctx: ParseContext): PluginConfig | undefined {
  const plugins = value.plugins;
  if (!isRecord(plugins) || !isRecord(plugins.entries)) return undefined;
  const entry = plugins.entries[PLUGIN_ID];
  if (entry === undefined) return undefined;
  if (!isRecord(entry)) {
    ctx.issues.add(childPointer('/plugins/entries', PLUGIN_ID), 'expected an object with a "config" object');
    return undefined;
  }
  if (entry.config === undefined) return undefined;
  return validateWith(PluginConfigSchema, entry.config, PLUGIN_CONFIG_POINTER, ctx.issues);
}

/** Parses a document of OpenClaw's native shape; returns undefined when `ctx.issues` got any problem. */
export function parseOpenClawShape(
  value: Record<string, unknown>,
  ctx: ParseContext,
): GuardConfig | undefined {
  const { issues } = ctx;
  const ignored: IgnoredKey[] = [];
  const notices: IgnoredKey[] = [];
  // First what OpenClaw itself rejects: those issues carry their own code and win over any
  // later message at the same path.
  checkOpenClawAcceptance(value, issues);
  ignoreRest(value, ROOT_KEYS, '', ignored);
  if (value.$schema !== undefined && typeof value.$schema !== 'string')
    issues.add('/$schema', 'expected a string');
  const plugin = readPluginConfig(value, ctx);
  const pluginAgents = plugin?.agents ?? {};

  const agentsRaw = isRecord(value.agents) ? value.agents : {};
  if (value.agents !== undefined && !isRecord(value.agents)) issues.add('/agents', 'expected an object');
  ignoreRest(agentsRaw, AGENTS_KEYS, '/agents', ignored);
  const defaultsRaw = isRecord(agentsRaw.defaults) ? agentsRaw.defaults : {};
  if (agentsRaw.defaults !== undefined && !isRecord(agentsRaw.defaults))
    issues.add('/agents/defaults', 'expected an object');
  ignoreRest(defaultsRaw, DEFAULTS_KEYS, '/agents/defaults', ignored);
  const defaultsSpawn =
    defaultsRaw.subagents === undefined
      ? {}
      : validateWith(NativeSpawnSchema, defaultsRaw.subagents, '/agents/defaults/subagents', issues);
  if (isRecord(defaultsRaw.subagents))
    ignoreRest(defaultsRaw.subagents, SPAWN_KEYS, '/agents/defaults/subagents', ignored);
  const pluginDefaultsNetPath = childPointer(PLUGIN_CONFIG_POINTER, 'defaults', 'network');
  const defaultsNetworkOk =
    normalizeNetwork(plugin?.defaults?.network, pluginDefaultsNetPath, issues) !== undefined;

  const list = collectAgents(agentsRaw, ctx, ignored, notices);
  const known = new Set(list.map((a) => a.name));
  for (const id of Object.keys(pluginAgents)) {
    if (!known.has(id.toLowerCase()))
      issues.add(
        childPointer(PLUGIN_CONFIG_POINTER, 'agents', id),
        `no agent ${JSON.stringify(id)} in agents.entries; settings here apply to an agent OpenClaw defines`,
      );
  }
  const pluginAgent = (name: string): { at: string; cfg: PluginAgent | undefined } => {
    const key = Object.keys(pluginAgents).find((k) => k.toLowerCase() === name);
    const at = childPointer(PLUGIN_CONFIG_POINTER, 'agents', key ?? name);
    return { at, cfg: key === undefined ? undefined : pluginAgents[key] };
  };
  if (plugin?.parent !== undefined && !known.has(plugin.parent.toLowerCase()))
    issues.add(
      childPointer(PLUGIN_CONFIG_POINTER, 'parent'),
      `no agent ${JSON.stringify(plugin.parent)} in agents.entries`,
    );
  const parent = pickParent(
    list,
    plugin?.parent,
    isRecord(defaultsRaw.systemAgent) ? defaultsRaw.systemAgent.agentId : undefined,
    notices,
  );

  const mergedSpawn = new Map<string, NativeSpawn>();
  const refs = new Map<string, AgentRef>();
  for (const a of list) {
    const spawnRaw = isRecord(a.raw.subagents) ? a.raw.subagents : {};
    if (isRecord(a.raw.subagents))
      ignoreRest(a.raw.subagents, ['allowAgents'], childPointer(a.path, 'subagents'), ignored);
    const allowPath =
      spawnRaw.allowAgents !== undefined
        ? childPointer(a.path, 'subagents', 'allowAgents')
        : '/agents/defaults/subagents/allowAgents';
    const allowRaw = spawnRaw.allowAgents ?? defaultsSpawn?.allowAgents;
    checkAllowAgentsList(allowRaw, allowPath, issues);
    const lowered = Array.isArray(allowRaw)
      ? allowRaw.map((n: unknown) => (typeof n === 'string' ? n.toLowerCase() : n))
      : allowRaw;
    refs.set(a.name, {
      role: a.name === parent ? 'parent' : 'subagent',
      allowAgents: lowered,
      allowAgentsPath: allowPath,
    });
    const own = pluginAgent(a.name).cfg?.subagents;
    mergedSpawn.set(a.name, {
      maxConcurrent: own?.maxConcurrent ?? defaultsSpawn?.maxConcurrent,
      maxChildrenPerAgent: own?.maxChildrenPerAgent ?? defaultsSpawn?.maxChildrenPerAgent,
      maxSpawnDepth: own?.maxSpawnDepth ?? defaultsSpawn?.maxSpawnDepth,
      runTimeoutSeconds: own?.runTimeoutSeconds ?? defaultsSpawn?.runTimeoutSeconds,
      maxSpawnsPerMinute: own?.maxSpawnsPerMinute ?? plugin?.defaults?.subagents?.maxSpawnsPerMinute,
      allowAgents: Array.isArray(lowered)
        ? lowered.filter((n): n is string => typeof n === 'string')
        : undefined,
    });
  }
  const droppedParents = new Set<string>();
  checkAllowAgentsRefs(refs, issues, (path, name) => {
    droppedParents.add(name);
    ignored.push({
      path,
      message: `${JSON.stringify(name)} is the parent agent; parents are never spawned, so it is dropped from allowAgents`,
    });
  });

  // A child's timeout: the tightest positive runTimeoutSeconds among the parents that may spawn it.
  const timeoutFor = (child: string): number | undefined => {
    const candidates = [defaultsSpawn?.runTimeoutSeconds];
    for (const [name, sp] of mergedSpawn) {
      if (
        name !== child &&
        (sp.allowAgents?.includes('*') === true || sp.allowAgents?.includes(child) === true)
      )
        candidates.push(sp.runTimeoutSeconds);
    }
    const positive = candidates.filter((t): t is number => t !== undefined && t > 0);
    return positive.length === 0 ? undefined : Math.min(...positive);
  };
  if (defaultsSpawn?.runTimeoutSeconds === 0) {
    ignored.push({
      path: '/agents/defaults/subagents/runTimeoutSeconds',
      message: `0 (no timeout) is not supported; subagents get ${DEFAULT_CONSTRAINTS.timeoutSeconds} s unless constraints.timeout_seconds says otherwise`,
    });
  }

  const gatewayUpstream = toUpstream(
    plugin?.gateway?.upstream,
    childPointer(PLUGIN_CONFIG_POINTER, 'gateway', 'upstream'),
    issues,
  );
  let listen: { host: string; port: number } | undefined;
  if (plugin?.gateway?.listen !== undefined) {
    const r = checkListen(plugin.gateway.listen);
    if (r.ok) listen = { host: r.host, port: r.port };
    else issues.add(childPointer(PLUGIN_CONFIG_POINTER, 'gateway', 'listen'), r.message);
  }

  const agents = nullProtoRecord<AgentConfig>();
  for (const a of list) {
    const role = a.name === parent ? 'parent' : 'subagent';
    const { at, cfg } = pluginAgent(a.name);
    const entry = resolveEntry(cfg?.entry, ctx.baseDir, childPointer(at, 'entry'), issues);
    const readPaths = resolveReadPaths(cfg?.read_paths, ctx.baseDir, childPointer(at, 'read_paths'), issues);
    const ownProxy = toUpstream(cfg?.upstream, childPointer(at, 'upstream'), issues);
    const scratch = new IssueCollector();
    const netPath = childPointer(at, 'network');
    const netOwn = normalizeNetwork(cfg?.network, netPath, issues);
    const network =
      netOwn !== undefined && defaultsNetworkOk
        ? normalizeNetwork({ ...plugin?.defaults?.network, ...cfg?.network }, netPath, scratch)
        : undefined;
    if (a.parsed === undefined || network === undefined || issues.hasWithin(a.path) || issues.hasWithin(at))
      continue;
    const spawn = mergedSpawn.get(a.name);
    const allow = spawn?.allowAgents?.filter((n) => !droppedParents.has(n));
    const subagents = toSpawnPolicy({
      ...(allow === undefined ? {} : { allowAgents: allow }),
      ...(spawn?.maxConcurrent === undefined ? {} : { maxConcurrent: spawn.maxConcurrent }),
      ...(spawn?.maxChildrenPerAgent === undefined ? {} : { maxChildren: spawn.maxChildrenPerAgent }),
      ...(spawn?.maxSpawnDepth === undefined ? {} : { maxSpawnDepth: spawn.maxSpawnDepth }),
      ...(spawn?.maxSpawnsPerMinute === undefined ? {} : { maxSpawnsPerMinute: spawn.maxSpawnsPerMinute }),
    });
    if (role === 'parent') {
      // The parent is the caller's own orchestrator: nothing here confines it, so say so.
      for (const key of [
        'entry',
        'read_paths',
        'pool',
        'upstream',
        'tools_mode',
        'constraints',
        'network',
      ] as const) {
        if (cfg?.[key] !== undefined) ignored.push({ path: childPointer(at, key), message: PARENT_NOTE });
      }
      if (a.raw.tools !== undefined)
        ignored.push({ path: childPointer(a.path, 'tools'), message: PARENT_NOTE });
      agents[a.name] = {
        name: a.name,
        role,
        description: a.parsed.description,
        entry: undefined,
        proxy: undefined,
        tools: { allowed: [], denied: [] },
        constraints: toConstraints(undefined),
        network: { ...DEFAULT_NETWORK },
        subagents,
        notes: nullProtoRecord(),
      };
      continue;
    }
    // Every tool layer OpenClaw applies to a sub-agent, with OpenClaw's catalog (openclaw-tools.ts).
    const tools = resolveOpenclawToolPolicy(
      { root: value, agentDefaults: defaultsRaw, agent: a.raw, agentPath: a.path, isSubagent: true },
      issues,
      ignored,
    );
    agents[a.name] = {
      name: a.name,
      role,
      description: a.parsed.description,
      entry,
      ...(readPaths === undefined ? {} : { readPaths }),
      ...toPool(cfg?.pool),
      proxy: ownProxy ?? gatewayUpstream,
      tools:
        (cfg?.tools_mode ?? plugin?.defaults?.tools_mode) === 'report'
          ? { ...tools.policy, mode: 'report' }
          : tools.policy,
      constraints: toConstraints(
        { ...plugin?.defaults?.constraints, ...cfg?.constraints },
        timeoutFor(a.name),
      ),
      network,
      subagents,
      notes: nullProtoRecord(),
    };
  }

  if (issues.size > 0) return undefined;
  const seen = new Set<string>();
  const unique = ignored.filter((i) => !seen.has(i.path) && seen.add(i.path));
  return {
    format: 'openclaw',
    source: ctx.source,
    baseDir: ctx.baseDir,
    gateway: toGatewayConfig(plugin?.gateway, gatewayUpstream, listen),
    audit: toAuditConfig(plugin?.audit, ctx.baseDir),
    agents,
    ignored: unique,
    notices,
  };
}

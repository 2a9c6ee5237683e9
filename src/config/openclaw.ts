/**
 * OpenClaw's native shape, normalised into the same model: `agents.defaults` merged into each of
 * `agents.list[]` (items with `id`) or `agents.entries` (a map), `tools.allow/deny` at the top level
 * and per agent, `subagents` limits, and `proxy.proxyUrl`. Keys with no meaning here are reported in
 * `ignored[]`, not refused, so an existing OpenClaw config loads. Keys this package reads are
 * validated as strictly as in the security-proxy shape.
 */
import {
  checkAllowAgentsList,
  checkAllowAgentsRefs,
  resolveEntry,
  resolveReadPaths,
  toConstraints,
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
  NativeAgentSchema,
  NativeProxySchema,
  PARENT_NOTE,
  ROOT_KEYS,
  SPAWN_KEYS,
  collectAgents,
  ignoreRest,
  isRecord,
  pickParent,
  readToolLayer,
  type NativeSpawn,
} from './openclaw-parts.js';
import { childPointer } from './pointer.js';
import { toAuditConfig, toGatewayConfig, type ParseContext } from './seed.js';
import { combineToolLayers, type ToolLayer } from './tool-policy.js';
import type { AgentConfig, GuardConfig, IgnoredKey } from './types.js';

/** Parses a document of OpenClaw's native shape; returns undefined when `ctx.issues` got any problem. */
export function parseOpenClawShape(
  value: Record<string, unknown>,
  ctx: ParseContext,
): GuardConfig | undefined {
  const { issues } = ctx;
  const ignored: IgnoredKey[] = [];
  ignoreRest(value, ROOT_KEYS, '', ignored);
  if (value.$schema !== undefined && typeof value.$schema !== 'string')
    issues.add('/$schema', 'expected a string');

  // proxy.* is the proxy OpenClaw itself sends through (typically `subagent-guard gateway serve`),
  // never this package's upstream: reading it as ours made the gateway proxy to itself.
  if (value.proxy !== undefined) {
    if (!isRecord(value.proxy)) issues.add('/proxy', 'expected an object with "enabled" and "proxyUrl"');
    else {
      validateWith(NativeProxySchema, value.proxy, '/proxy', issues);
      ignoreRest(value.proxy, ['enabled', 'proxyUrl', 'loopbackMode'], '/proxy', ignored);
      if (toUpstream(value.proxy.proxyUrl, '/proxy/proxyUrl', issues) !== undefined)
        ignored.push({
          path: '/proxy/proxyUrl',
          message:
            "OpenClaw's own outbound proxy (point it at `subagent-guard gateway serve`); never used as this package's upstream (that is gateway.upstream)",
        });
    }
  }

  const globalTools = readToolLayer(value.tools, '/tools', ctx, ignored);
  let subagentTools: ToolLayer & { set: boolean } = { set: false };
  if (isRecord(value.tools) && isRecord(value.tools.subagents)) {
    ignoreRest(value.tools.subagents, ['tools'], '/tools/subagents', ignored);
    subagentTools = readToolLayer(value.tools.subagents.tools, '/tools/subagents/tools', ctx, ignored);
  }

  const agentsRaw = isRecord(value.agents) ? value.agents : {};
  if (value.agents !== undefined && !isRecord(value.agents)) issues.add('/agents', 'expected an object');
  ignoreRest(agentsRaw, AGENTS_KEYS, '/agents', ignored);
  const defaultsRaw = isRecord(agentsRaw.defaults) ? agentsRaw.defaults : {};
  if (agentsRaw.defaults !== undefined && !isRecord(agentsRaw.defaults))
    issues.add('/agents/defaults', 'expected an object');
  const defaults = validateWith(
    NativeAgentSchema.pick({ tools: true, subagents: true, constraints: true, network: true }).loose(),
    defaultsRaw,
    '/agents/defaults',
    issues,
  );
  ignoreRest(defaultsRaw, DEFAULTS_KEYS, '/agents/defaults', ignored);
  const defaultsLayer = readToolLayer(defaultsRaw.tools, '/agents/defaults/tools', ctx, ignored);
  const defaultsNetworkOk =
    normalizeNetwork(defaultsRaw.network, '/agents/defaults/network', issues) !== undefined;
  if (isRecord(defaultsRaw.subagents))
    ignoreRest(defaultsRaw.subagents, SPAWN_KEYS, '/agents/defaults/subagents', ignored);

  const list = collectAgents(agentsRaw, ctx, ignored);
  const parent = pickParent(list, ignored);
  const mergedSpawn = new Map<string, NativeSpawn>();
  const refs = new Map<string, AgentRef>();
  for (const a of list) {
    const spawnRaw = isRecord(a.raw.subagents) ? a.raw.subagents : {};
    if (isRecord(a.raw.subagents))
      ignoreRest(a.raw.subagents, SPAWN_KEYS, childPointer(a.path, 'subagents'), ignored);
    const allowPath =
      spawnRaw.allowAgents !== undefined
        ? childPointer(a.path, 'subagents', 'allowAgents')
        : '/agents/defaults/subagents/allowAgents';
    const allowRaw =
      spawnRaw.allowAgents ??
      (isRecord(defaultsRaw.subagents) ? defaultsRaw.subagents.allowAgents : undefined);
    checkAllowAgentsList(allowRaw, allowPath, issues);
    const lowered = Array.isArray(allowRaw)
      ? allowRaw.map((n: unknown) => (typeof n === 'string' ? n.toLowerCase() : n))
      : allowRaw;
    refs.set(a.name, {
      role: a.name === parent ? 'parent' : 'subagent',
      allowAgents: lowered,
      allowAgentsPath: allowPath,
    });
    mergedSpawn.set(a.name, {
      ...defaults?.subagents,
      ...a.parsed?.subagents,
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
      message: `${JSON.stringify(name)} is the parent (default) agent; parents are never spawned, so it is dropped from allowAgents`,
    });
  });

  // A child's timeout: the tightest positive runTimeoutSeconds among the parents that may spawn it.
  const timeoutFor = (child: string): number | undefined => {
    const candidates = [defaults?.subagents?.runTimeoutSeconds];
    for (const [name, s] of mergedSpawn) {
      if (
        name !== child &&
        (s.allowAgents?.includes('*') === true || s.allowAgents?.includes(child) === true)
      )
        candidates.push(s.runTimeoutSeconds);
    }
    const positive = candidates.filter((t): t is number => t !== undefined && t > 0);
    return positive.length === 0 ? undefined : Math.min(...positive);
  };
  if (defaults?.subagents?.runTimeoutSeconds === 0) {
    ignored.push({
      path: '/agents/defaults/subagents/runTimeoutSeconds',
      message: `0 (no timeout) is not supported; subagents get ${DEFAULT_CONSTRAINTS.timeoutSeconds} s unless constraints.timeout_seconds says otherwise`,
    });
  }

  const agents = nullProtoRecord<AgentConfig>();
  for (const a of list) {
    const role = a.name === parent ? 'parent' : 'subagent';
    const entry = resolveEntry(a.raw.entry, ctx.baseDir, childPointer(a.path, 'entry'), issues);
    const readPaths = resolveReadPaths(
      a.raw.read_paths,
      ctx.baseDir,
      childPointer(a.path, 'read_paths'),
      issues,
    );
    const ownProxy = toUpstream(a.raw.proxy, childPointer(a.path, 'proxy'), issues);
    const scratch = new IssueCollector();
    const netPath = childPointer(a.path, 'network');
    const netOwn = normalizeNetwork(a.raw.network, netPath, issues);
    const network =
      netOwn !== undefined && defaultsNetworkOk
        ? normalizeNetwork(
            {
              ...(isRecord(defaultsRaw.network) ? defaultsRaw.network : {}),
              ...(isRecord(a.raw.network) ? a.raw.network : {}),
            },
            netPath,
            scratch,
          )
        : undefined;
    if (a.parsed === undefined || defaults === undefined || network === undefined || issues.hasWithin(a.path))
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
      for (const key of ['entry', 'read_paths', 'proxy', 'tools', 'constraints', 'network']) {
        if (a.raw[key] !== undefined) ignored.push({ path: childPointer(a.path, key), message: PARENT_NOTE });
      }
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
    const agentLayer: ToolLayer = {
      allow: a.layer.allow ?? defaultsLayer.allow,
      deny: [...(defaultsLayer.deny ?? []), ...(a.layer.deny ?? [])],
    };
    const tools = combineToolLayers([globalTools, subagentTools, agentLayer]);
    for (const u of tools.unrepresentable) {
      ignored.push({
        path: childPointer(a.path, 'tools'),
        message: `allow lists of several levels overlap as ${u}, which no single pattern expresses; those tools are not allowed`,
      });
    }
    agents[a.name] = {
      name: a.name,
      role,
      description: a.parsed.description,
      entry,
      ...(readPaths === undefined ? {} : { readPaths }),
      proxy: ownProxy,
      tools: tools.policy,
      constraints: toConstraints({ ...defaults.constraints, ...a.parsed.constraints }, timeoutFor(a.name)),
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
    gateway: toGatewayConfig(undefined, undefined),
    audit: toAuditConfig(undefined, ctx.baseDir),
    agents,
    ignored: unique,
  };
}

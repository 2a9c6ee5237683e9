/**
 * The security-proxy shape (the seed's openclaw.json): a map of agents keyed by name, strict.
 */
import { resolve } from 'node:path';
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
import { DEFAULT_AUDIT_LEVEL, DEFAULT_GATEWAY, DEFAULT_NETWORK } from './defaults.js';
import { validateWith, type IssueCollector } from './issues.js';
import { nullProtoRecord } from './json.js';
import { normalizeNetwork } from './network.js';
import { checkListen } from './patterns.js';
import { childPointer } from './pointer.js';
import { ParentSchema, RootSchema, SubagentSchema, type AuditInput, type GatewayInput } from './schema.js';
import { combineToolLayers, toolPatterns } from './tool-policy.js';
import type { AgentConfig, AuditConfig, GatewayConfig, GuardConfig, UpstreamProxy } from './types.js';

/** Where a configuration came from and where its problems go. */
export interface ParseContext {
  readonly source: string | undefined;
  readonly baseDir: string;
  readonly issues: IssueCollector;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Root keys of OpenClaw's own config, for a hint when one shows up in the security-proxy shape. */
const OPENCLAW_ROOT_KEYS: readonly string[] = [
  'tools',
  'proxy',
  'channels',
  'models',
  'session',
  'messages',
  'bindings',
  'skills',
  'plugins',
  'hooks',
  'meta',
  'env',
  'auth',
  'logging',
  'browser',
  'commands',
  'cron',
  'ui',
  'wizard',
];

const SUBAGENT_ONLY_KEYS: readonly string[] = [
  'entry',
  'read_paths',
  'pool',
  'proxy',
  'tools_allowed',
  'tools_denied',
  'tools_mode',
  'constraints',
  'network',
];

/** The gateway section with defaults; `upstream` is the gateway-wide upstream proxy. */
export function toGatewayConfig(
  g: GatewayInput | undefined,
  upstream: UpstreamProxy | undefined,
  listen?: { host: string; port: number },
): GatewayConfig {
  return {
    listen: listen ?? { host: DEFAULT_GATEWAY.host, port: DEFAULT_GATEWAY.port },
    upstream,
    connectTimeoutMs: g?.connect_timeout_ms ?? DEFAULT_GATEWAY.connectTimeoutMs,
    dnsTimeoutMs: g?.dns_timeout_ms ?? DEFAULT_GATEWAY.dnsTimeoutMs,
    idleTimeoutMs: g?.idle_timeout_ms ?? DEFAULT_GATEWAY.idleTimeoutMs,
    maxTunnels: g?.max_tunnels ?? DEFAULT_GATEWAY.maxTunnels,
    maxTunnelsPerSubagent: g?.max_tunnels_per_subagent ?? DEFAULT_GATEWAY.maxTunnelsPerSubagent,
    maxRequestsPerSecond: g?.max_requests_per_second ?? DEFAULT_GATEWAY.maxRequestsPerSecond,
    maxConnectionsPerSubagent: g?.max_connections_per_subagent ?? DEFAULT_GATEWAY.maxConnectionsPerSubagent,
    maxConnections: g?.max_connections ?? DEFAULT_GATEWAY.maxConnections,
    maxAuditRecordsPerSubagent:
      g?.max_audit_records_per_subagent ?? DEFAULT_GATEWAY.maxAuditRecordsPerSubagent,
    exchangeTimeoutMs: g?.exchange_timeout_ms ?? DEFAULT_GATEWAY.exchangeTimeoutMs,
  };
}

/** The audit section with defaults; a relative path is resolved against the config's directory. */
export function toAuditConfig(a: AuditInput | undefined, baseDir: string): AuditConfig {
  return {
    path: a?.path === undefined ? undefined : resolve(baseDir, a.path),
    level: a?.level ?? DEFAULT_AUDIT_LEVEL,
  };
}

function unknownKeyHint(role: 'parent' | 'subagent') {
  return (_pointer: string, key: string): string | undefined => {
    if (role === 'parent' && SUBAGENT_ONLY_KEYS.includes(key)) {
      return `"${key}" applies to subagents; a parent (role "parent") is run by your own code and is never spawned`;
    }
    if (role === 'subagent' && key === 'memory') {
      return '"memory" is an informational note accepted on parent agents only; subagents never keep state';
    }
    return undefined;
  };
}

/** Parses one agent of the security-proxy shape. */
function parseAgent(
  name: string,
  raw: Record<string, unknown>,
  path: string,
  upstream: UpstreamProxy | undefined,
  ctx: ParseContext,
): AgentConfig | undefined {
  const { issues } = ctx;
  const role = raw.role === 'parent' ? 'parent' : 'subagent';
  const hint = { unknownKeyHint: unknownKeyHint(role) };
  const spawnPath = childPointer(path, 'subagents');
  checkAllowAgentsList(
    isRecord(raw.subagents) ? raw.subagents.allowAgents : undefined,
    childPointer(spawnPath, 'allowAgents'),
    issues,
  );
  if (role === 'parent') {
    const parsed = validateWith(ParentSchema, raw, path, issues, hint);
    if (parsed === undefined || issues.hasWithin(path)) return undefined;
    return {
      name,
      role,
      description: parsed.description,
      entry: undefined,
      proxy: undefined,
      tools: { allowed: [], denied: [] },
      constraints: toConstraints(undefined),
      network: { ...DEFAULT_NETWORK },
      subagents: toSpawnPolicy(parsed.subagents),
      notes: parsed.memory === undefined ? nullProtoRecord() : nullProtoRecord([['memory', parsed.memory]]),
    };
  }
  const parsed = validateWith(SubagentSchema, raw, path, issues, hint);
  const allowed = toolPatterns(raw.tools_allowed, childPointer(path, 'tools_allowed'), issues);
  const denied = toolPatterns(raw.tools_denied, childPointer(path, 'tools_denied'), issues);
  const entry = resolveEntry(raw.entry, ctx.baseDir, childPointer(path, 'entry'), issues);
  const readPaths = resolveReadPaths(raw.read_paths, ctx.baseDir, childPointer(path, 'read_paths'), issues);
  const ownProxy = toUpstream(raw.proxy, childPointer(path, 'proxy'), issues);
  const network = normalizeNetwork(raw.network, childPointer(path, 'network'), issues);
  if (parsed === undefined || network === undefined || issues.hasWithin(path)) return undefined;
  const tools = combineToolLayers([
    { allow: raw.tools_allowed === undefined ? undefined : allowed, deny: denied },
  ]);
  return {
    name,
    role,
    description: parsed.description,
    entry,
    ...(readPaths === undefined ? {} : { readPaths }),
    ...toPool(parsed.pool),
    proxy: ownProxy ?? upstream,
    tools: parsed.tools_mode === 'report' ? { ...tools.policy, mode: 'report' } : tools.policy,
    constraints: toConstraints(parsed.constraints),
    network,
    subagents: toSpawnPolicy(parsed.subagents),
    notes: nullProtoRecord(),
  };
}

/** Parses a document of the security-proxy shape; returns undefined when `ctx.issues` got any problem. */
export function parseSecurityProxyShape(
  value: Record<string, unknown>,
  ctx: ParseContext,
): GuardConfig | undefined {
  const { issues } = ctx;
  const root = validateWith(RootSchema, value, '', issues, {
    unknownKeyHint: (pointer, key) =>
      pointer === '' && OPENCLAW_ROOT_KEYS.includes(key)
        ? "this looks like an OpenClaw key: a config in OpenClaw's own shape is recognised by agents.defaults, agents.list or agents.entries"
        : undefined,
  });

  const gatewayRaw = isRecord(value.gateway) ? value.gateway : {};
  let listen: { host: string; port: number } | undefined;
  if (typeof gatewayRaw.listen === 'string') {
    const r = checkListen(gatewayRaw.listen);
    if (r.ok) listen = { host: r.host, port: r.port };
    else issues.add('/gateway/listen', r.message);
  }
  const upstream = toUpstream(gatewayRaw.upstream, '/gateway/upstream', issues);

  const agents = nullProtoRecord<AgentConfig>();
  const refs = new Map<string, AgentRef>();
  const agentsRaw = isRecord(value.agents) ? value.agents : {};
  for (const [name, raw] of Object.entries(agentsRaw)) {
    const path = childPointer('/agents', name);
    if (!isRecord(raw)) {
      issues.add(path, 'expected an object describing the agent');
      continue;
    }
    const spawn = isRecord(raw.subagents) ? raw.subagents : {};
    refs.set(name, {
      role: raw.role === 'parent' ? 'parent' : 'subagent',
      allowAgents: spawn.allowAgents,
      allowAgentsPath: childPointer(path, 'subagents', 'allowAgents'),
    });
    const agent = parseAgent(name, raw, path, upstream, ctx);
    if (agent !== undefined) agents[name] = agent;
  }
  checkAllowAgentsRefs(refs, issues);

  if (root === undefined || issues.size > 0) return undefined;
  return {
    format: 'security-proxy',
    source: ctx.source,
    baseDir: ctx.baseDir,
    gateway: toGatewayConfig(root.gateway, upstream, listen),
    audit: toAuditConfig(root.audit, ctx.baseDir),
    agents,
    ignored: [],
  };
}

/**
 * The zod schemas of the security-proxy configuration shape: the single source of truth for the
 * parser and for the published JSON Schema (`schemas/openclaw.schema.json`, generated from
 * {@link SecurityProxyConfigSchema}). Strict: unknown keys are errors.
 *
 * These schemas check structure, types, ranges and string shapes. Canonicalisation and
 * cross-references (domains, CIDRs, `allowAgents`, `entry` files) are checked afterwards in code.
 */
import * as z from 'zod';
import { LIMITS } from './defaults.js';
import {
  AGENT_NAME_RE,
  ALLOW_AGENT_RE,
  CIDR_RE,
  DOMAIN_PATTERN_RE,
  LISTEN_RE,
  PROXY_URL_RE,
  TOOL_PATTERN_RE,
  agentNameMessage,
  checkCidr,
  checkDomainPattern,
  checkToolPattern,
} from './patterns.js';
import { redactUrl } from './redact.js';

/** Uses the precise check's message when the shape regex refuses a string. */
function messageFrom(check: (raw: string) => { ok: boolean; message?: string }, fallback: string) {
  return (iss: { input?: unknown }): string => {
    if (typeof iss.input !== 'string') return fallback;
    const r = check(iss.input);
    return r.ok || r.message === undefined ? fallback : r.message;
  };
}

const int = (min: number, max: number, what: string) =>
  z
    .number()
    .int()
    .min(min, { error: (iss) => `${what} must be at least ${min}, got ${String(iss.input)}` })
    .max(max, { error: (iss) => `${what} must be at most ${max}, got ${String(iss.input)}` });

/** An agent name (a key of `agents`). */
export const AgentNameSchema = z
  .string()
  .regex(AGENT_NAME_RE, { error: (iss) => agentNameMessage(iss.input) })
  .describe('Agent name: 1-64 letters, digits, "_", "." or "-"; not "defaults", "entries" or "list".');

/** A TCP port, 1-65535. */
export const PortSchema = z
  .number({ error: 'expected a port number from 1 to 65535' })
  .int({ error: 'expected a port number from 1 to 65535' })
  .min(1, { error: (iss) => `expected a port number from 1 to 65535, got ${String(iss.input)}` })
  .max(65535, { error: (iss) => `expected a port number from 1 to 65535, got ${String(iss.input)}` });

/** One `allowed_domains` item (shape only; canonicalised afterwards). */
export const DomainPatternSchema = z
  .string()
  .regex(DOMAIN_PATTERN_RE, {
    error: messageFrom(
      checkDomainPattern,
      'expected a host name ("api.example.com"), a rule ("*.example.com") or an IP',
    ),
  })
  .max(255)
  .describe('Exact host name, "*.example.com" (subdomains only, not example.com itself) or an IP literal.');

/** One `allowed_cidrs` item (shape only; canonicalised afterwards). */
export const CidrSchema = z
  .string()
  .regex(CIDR_RE, { error: messageFrom(checkCidr, 'expected a CIDR such as "10.20.0.0/16" or "fd00::/8"') })
  .describe(
    'A CIDR (or single address) whose private addresses this agent may reach. Never unlocks metadata.',
  );

/** One tool pattern of `tools_allowed` / `tools_denied` (or OpenClaw `tools.allow/deny`). */
export const ToolPatternSchema = z
  .string()
  .regex(TOOL_PATTERN_RE, {
    error: messageFrom(checkToolPattern, 'expected a tool name, a "group:*" name or a pattern with "*"'),
  })
  .describe(
    'A tool name ("web_fetch"), a group ("group:web") or a wildcard pattern ("web_*", "*"). Case-insensitive.',
  );

/** An upstream proxy URL; checked again in code, messages show it redacted only. */
export const ProxyUrlSchema = z
  .string()
  .regex(PROXY_URL_RE, {
    error: (iss) =>
      `${typeof iss.input === 'string' ? JSON.stringify(redactUrl(iss.input)) : 'the value'} is not an upstream proxy URL; expected http://[user:password@]host:port or https://...`,
  })
  .describe(
    'Upstream forward proxy, http:// or https://, credentials allowed (kept in the parent, never logged).',
  );

/** A subagent's `constraints` section. */
export const ConstraintsSchema = z
  .strictObject({
    max_memory_mb: int(LIMITS.minMemoryMb, LIMITS.maxMemoryMb, 'max_memory_mb')
      .optional()
      .describe('Resident memory cap of the whole sandbox, MiB. Default 256.'),
    max_api_calls: int(0, LIMITS.maxApiCalls, 'max_api_calls')
      .optional()
      .describe('Tool calls + egress requests, together. Default 50.'),
    max_cost_usd: z
      .number()
      .min(0, { error: (iss) => `max_cost_usd must be at least 0, got ${String(iss.input)}` })
      .max(LIMITS.maxCostUsd)
      .optional()
      .describe('Metered (parent-side) cost of tool calls, USD. Default 0 (no paid tools).'),
    timeout_seconds: z
      .number()
      .gt(0, { error: (iss) => `timeout_seconds must be greater than 0, got ${String(iss.input)}` })
      .max(LIMITS.maxTimeoutSeconds)
      .optional()
      .describe('Wall-clock limit, seconds. Default 120.'),
    no_memory_persistence: z
      .literal(true, { error: 'state is always discarded when a subagent exits; only true is accepted' })
      .optional()
      .describe('Always true: state is discarded when the subagent exits.'),
  })
  .describe('Hard quotas; the first violation terminates the subagent.');

/** `enforce` (default) or `report`: report-only rollout of an allowlist. */
export const PolicyModeSchema = z
  .enum(['enforce', 'report'], { error: 'expected "enforce" or "report"' })
  .describe(
    '"enforce" (default) refuses what the allowlist refuses. "report" lets it through and records it with enforced: false (to learn an allowlist before enforcing it); explicit deny rules, prohibited addresses (cloud metadata, the gateway, private ranges) and every quota stay enforced.',
  );

/** A subagent's `network` section, as written in openclaw.json. */
export const NetworkSectionSchema = z
  .strictObject({
    egress_only: z
      .literal(true, {
        error:
          'subagents can only open outbound connections (listening is never offered); only true is accepted',
      })
      .optional()
      .describe('Always true: a subagent never listens.'),
    allowed_domains: z
      .array(DomainPatternSchema)
      .optional()
      .describe('Hosts reachable through the egress gateway. Empty or absent = no network.'),
    blocked_ports: z.array(PortSchema).optional().describe('Ports always refused. Default [].'),
    allowed_ports: z.array(PortSchema).optional().describe('Ports allowed. Default [80, 443].'),
    allowed_cidrs: z
      .array(CidrSchema)
      .optional()
      .describe('Exceptions for private destinations. Default []. Metadata addresses stay refused.'),
    log_all_traffic: z
      .boolean()
      .optional()
      .describe('Audit allowed requests too (denials always). Default true.'),
    max_egress_bytes: int(0, Number.MAX_SAFE_INTEGER, 'max_egress_bytes')
      .optional()
      .describe('Bytes in + out over all egress. Default 10485760.'),
    mode: PolicyModeSchema.optional().describe(
      'Egress allowlist mode: "enforce" (default) or "report" (host, port and no-network refusals are let through and recorded with enforced: false; blocked_ports, metadata, the gateway, private ranges outside allowed_cidrs and quotas stay enforced).',
    ),
  })
  .describe("The subagent's network policy, enforced by the egress gateway.");

/** An agent's `subagents` section (its spawn quotas as a parent). */
export const SpawnSchema = z
  .strictObject({
    allowAgents: z
      .array(
        z.string().regex(ALLOW_AGENT_RE, { error: 'expected an agent name, or "*" alone for any subagent' }),
      )
      .optional()
      .describe('Agents this agent may spawn; ["*"] = any subagent. Default [] (no spawning).'),
    maxConcurrent: int(1, LIMITS.maxSpawnLimit, 'maxConcurrent')
      .optional()
      .describe('Children running at once; more wait in a queue. Default 1.'),
    maxChildren: int(1, LIMITS.maxSpawnLimit, 'maxChildren')
      .optional()
      .describe('Children running + queued at once. Default 1.'),
    maxSpawnDepth: int(1, LIMITS.maxSpawnDepth, 'maxSpawnDepth')
      .optional()
      .describe('Nesting depth below this agent (1 = its children may not spawn). Default 1.'),
    maxSpawnsPerMinute: int(1, LIMITS.maxSpawnLimit, 'maxSpawnsPerMinute')
      .optional()
      .describe('Spawns per rolling minute. Default 10.'),
  })
  .describe('Spawn quotas of this agent as a parent.');

/** The `entry` program path. */
export const EntrySchema = z
  .string()
  .min(1, { error: 'must not be empty; expected the path of the program the subagent runs' })
  .describe('The program the subagent runs: a path relative to this file, or absolute.');

/** Extra paths a subagent may read (files or directories). */
export const ReadPathsSchema = z
  .array(z.string().min(1, { error: 'must not be empty; expected a file or directory path' }))
  .max(64)
  .describe(
    "Extra files or directories the subagent may read, read-only, besides its entry's own directory and the runtime: paths relative to this file, or absolute. Refused at spawn (SG_SANDBOX_READ_GRANT) if one holds the config file, the audit log, a secret file (.env*, .git, .npmrc, keys) or a symlink leading outside it. Default [] (none).",
  );

/** A subagent's warm pool. */
export const PoolSchema = z
  .strictObject({
    warm: int(0, LIMITS.maxPoolWarm, 'warm')
      .optional()
      .describe(
        'Sandboxes kept started (namespaces, memory limit, runtime up) for this agent, each used by one spawn and then discarded; refilled in the background. Default 0 (every spawn starts its sandbox).',
      ),
  })
  .describe(
    "Warm pool: moves the sandbox's start-up before the spawn. No state ever crosses subagents; the credential is minted at claim.",
  );

/** An agent with role `subagent` (the default). */
export const SubagentSchema = z
  .strictObject({
    role: z
      .literal('subagent', { error: 'expected "parent" or "subagent"' })
      .optional()
      .describe('"subagent" (default): spawned in isolation by a parent.'),
    description: z.string().max(2000).optional(),
    entry: EntrySchema.optional(),
    read_paths: ReadPathsSchema.optional(),
    pool: PoolSchema.optional(),
    proxy: ProxyUrlSchema.optional(),
    tools_allowed: z.array(ToolPatternSchema).optional().describe('Tools it may call. Default [] (none).'),
    tools_denied: z.array(ToolPatternSchema).optional().describe('Tools always refused; deny wins.'),
    tools_mode: PolicyModeSchema.optional().describe(
      'Tool allowlist mode: "enforce" (default) or "report" (a tool outside tools_allowed runs and is recorded with enforced: false; tools_denied and quotas stay enforced).',
    ),
    constraints: ConstraintsSchema.optional(),
    network: NetworkSectionSchema.optional(),
    subagents: SpawnSchema.optional(),
  })
  .describe('A security-proxy subagent: least-privilege tools, quotas, egress allowlist.');

/** An agent with role `parent`. */
export const ParentSchema = z
  .strictObject({
    role: z.literal('parent').describe('Run by your own code (the orchestrator); never spawned.'),
    description: z.string().max(2000).optional(),
    memory: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Informational only (not enforced): where the parent keeps sensitive state.'),
    subagents: SpawnSchema.optional(),
  })
  .describe('A parent agent: the orchestrator run by your own code.');

/** The top-level `gateway` section. */
export const GatewaySchema = z
  .strictObject({
    listen: z
      .string()
      .regex(LISTEN_RE, { error: 'expected "host:port" on loopback, such as "127.0.0.1:0"' })
      .optional()
      .describe('Loopback host:port of the embedded egress gateway. Default "127.0.0.1:0".'),
    upstream: ProxyUrlSchema.optional().describe('Upstream proxy for every agent without its own "proxy".'),
    connect_timeout_ms: int(1, LIMITS.maxGatewayTimeoutMs, 'connect_timeout_ms')
      .optional()
      .describe('Default 10000.'),
    dns_timeout_ms: int(1, LIMITS.maxGatewayTimeoutMs, 'dns_timeout_ms').optional().describe('Default 5000.'),
    idle_timeout_ms: int(1, LIMITS.maxGatewayTimeoutMs, 'idle_timeout_ms')
      .optional()
      .describe('Default 60000.'),
    max_tunnels: int(1, LIMITS.maxTunnels, 'max_tunnels')
      .optional()
      .describe('Open connections, all subagents. Default 1024.'),
    max_tunnels_per_subagent: int(1, LIMITS.maxTunnels, 'max_tunnels_per_subagent')
      .optional()
      .describe('Open connections per subagent. Default 64.'),
    max_connections_per_subagent: int(1, LIMITS.maxTunnels, 'max_connections_per_subagent')
      .optional()
      .describe(
        'Open client connections per subagent, idle ones included; crossing it is a protocol_violation. Default 128.',
      ),
    max_connections: int(1, LIMITS.maxTunnels, 'max_connections')
      .optional()
      .describe('Open client connections across all listeners. Default 4096.'),
    max_audit_records_per_subagent: int(1, LIMITS.maxApiCalls, 'max_audit_records_per_subagent')
      .optional()
      .describe(
        'egress.decision and egress.close records per subagent; the rest are summed up in egress.suppressed. Default 10000.',
      ),
    exchange_timeout_ms: int(1, LIMITS.maxGatewayTimeoutMs, 'exchange_timeout_ms')
      .optional()
      .describe('Total time of one forwarded plain-HTTP exchange, head and body. Default 300000.'),
    max_requests_per_second: z
      .number()
      .gt(0, { error: (iss) => `max_requests_per_second must be greater than 0, got ${String(iss.input)}` })
      .max(1_000_000)
      .optional()
      .describe('Requests per second per subagent (burst 2x). Default 100.'),
  })
  .describe('The embedded egress gateway.');

/** The top-level `audit` section. */
export const AuditSchema = z
  .strictObject({
    path: z.string().min(1).optional().describe('File the audit log is appended to. Default: stderr.'),
    level: z.enum(['debug', 'info', 'warn', 'error']).optional().describe('Default "info".'),
  })
  .describe('Where audit events go.');

function rootSchema<A extends z.ZodType>(agent: A) {
  return z.strictObject({
    $schema: z.string().optional().describe('Path or URL of this JSON Schema, for editors.'),
    gateway: GatewaySchema.optional(),
    audit: AuditSchema.optional(),
    agents: z.record(AgentNameSchema, agent).describe('Agents by name.'),
  });
}

/** Root structure used by the parser: agents are checked one by one with the schema for their role. */
export const RootSchema = rootSchema(z.unknown());

/** The whole security-proxy configuration; what `schemas/openclaw.schema.json` is generated from. */
export const SecurityProxyConfigSchema = rootSchema(z.union([ParentSchema, SubagentSchema])).describe(
  'subagent-guard configuration (openclaw.json, security-proxy shape).',
);

/** A validated subagent definition. */
export type SubagentInput = z.output<typeof SubagentSchema>;
/** A validated parent definition. */
export type ParentInput = z.output<typeof ParentSchema>;
/** A validated `constraints` section. */
export type ConstraintsInput = z.output<typeof ConstraintsSchema>;
/** A validated `pool` section. */
export type PoolInput = z.output<typeof PoolSchema>;
/** The `network` section as written in openclaw.json (snake_case keys). */
export type NetworkSection = z.input<typeof NetworkSectionSchema>;
/** A validated `subagents` section. */
export type SpawnInput = z.output<typeof SpawnSchema>;
/** A validated `gateway` section. */
export type GatewayInput = z.output<typeof GatewaySchema>;
/** A validated `audit` section. */
export type AuditInput = z.output<typeof AuditSchema>;

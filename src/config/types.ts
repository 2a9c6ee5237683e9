/**
 * The normalised configuration model: what `loadConfig`/`parseConfig` return.
 * Frozen, camelCase, every default filled in, every name canonical. Both input shapes (the
 * security-proxy shape and OpenClaw's native shape) normalise into this one model.
 */
import type { NetworkPolicy, ToolsPolicy } from '../policy/types.js';

// The policy engine owns its input types; the configuration model is built from them.
export type { NetworkPolicy, ToolsPolicy } from '../policy/types.js';

/** Hard quotas of one subagent. */
export interface Constraints {
  /** Resident memory cap of the whole sandbox, MiB. @default 256 */
  readonly maxMemoryMb: number;
  /** Tool calls + egress requests, together. @default 50 */
  readonly maxApiCalls: number;
  /** Metered (parent-side) cost of tool calls, USD. @default 0 (no paid tools) */
  readonly maxCostUsd: number;
  /** Wall-clock limit, seconds. @default 120 */
  readonly timeoutSeconds: number;
  /** State is always discarded; kept for the seed's shape and reported. @default true */
  readonly noMemoryPersistence: boolean;
}

/** A subagent's warm pool. */
export interface PoolPolicy {
  /** Sandboxes kept pre-started for this agent, 0..32. @default 0 */
  readonly warm: number;
}

/** Spawn quotas of an agent acting as a parent. */
export interface SpawnPolicy {
  /** Agent names this agent may spawn; `'*'` = any agent defined in the config. @default [] */
  readonly allowAgents: readonly string[] | '*';
  /** Its children running at once; more wait in a queue. @default 1 */
  readonly maxConcurrent: number;
  /** Its children running + queued at once. @default 1 */
  readonly maxChildren: number;
  /** Nesting depth below this agent (1 = its children may not spawn). @default 1 */
  readonly maxSpawnDepth: number;
  /** Spawns per rolling minute. @default 10 */
  readonly maxSpawnsPerMinute: number;
}

/** An upstream forward proxy the gateway chains through. Its credentials stay in the parent. */
export interface UpstreamProxy {
  /** Full URL including credentials. Never log this; use `redacted`. */
  readonly url: string;
  /** The URL with any password replaced by `***`. */
  readonly redacted: string;
}

/** One agent, normalised. */
export interface AgentConfig {
  readonly name: string;
  /** `parent` agents are run by the caller's own code (the main orchestrator); they are never spawned. */
  readonly role: 'parent' | 'subagent';
  readonly description: string | undefined;
  /** Absolute path of the program the subagent runs (resolved against the config file). */
  readonly entry: string | undefined;
  /**
   * Extra absolute paths the subagent may read besides its entry's own directory (`read_paths`);
   * checked for secrets at spawn. Absent = none.
   */
  readonly readPaths?: readonly string[];
  /** Warm pool (`pool`). Absent = no pool (`warm: 0`). */
  readonly pool?: PoolPolicy;
  readonly proxy: UpstreamProxy | undefined;
  readonly tools: ToolsPolicy;
  readonly constraints: Constraints;
  readonly network: NetworkPolicy;
  readonly subagents: SpawnPolicy;
  /** Free-form informational keys of the seed's shape (e.g. `memory`), not enforced. */
  readonly notes: Readonly<Record<string, unknown>>;
}

/** The embedded egress gateway's settings. */
export interface GatewayConfig {
  /** `host:port` the embedded gateway listens on. @default '127.0.0.1:0' */
  readonly listen: { readonly host: string; readonly port: number };
  /** Upstream proxy for every agent that has no `proxy` of its own. */
  readonly upstream: UpstreamProxy | undefined;
  /** @default 10000 */
  readonly connectTimeoutMs: number;
  /** @default 5000 */
  readonly dnsTimeoutMs: number;
  /** @default 60000 */
  readonly idleTimeoutMs: number;
  /** Open tunnels/connections across all subagents. @default 1024 */
  readonly maxTunnels: number;
  /** Open tunnels/connections per subagent. @default 64 */
  readonly maxTunnelsPerSubagent: number;
  /** Requests per second per credential (token bucket, burst = 2x). @default 100 */
  readonly maxRequestsPerSecond: number;
  /** Open client connections per subagent, idle ones included; crossing it is a violation. @default 128 */
  readonly maxConnectionsPerSubagent: number;
  /** Open client connections across all listeners. @default 4096 */
  readonly maxConnections: number;
  /** Gateway audit records per subagent before they are only counted. @default 10000 */
  readonly maxAuditRecordsPerSubagent: number;
  /** Total time of one forwarded plain-HTTP exchange. @default 300000 */
  readonly exchangeTimeoutMs: number;
}

/** Where audit events go. */
export interface AuditConfig {
  /** File the audit log is appended to; undefined = stderr. */
  readonly path: string | undefined;
  /** @default 'info' */
  readonly level: 'debug' | 'info' | 'warn' | 'error';
}

/** A key of an OpenClaw-shaped config that has no meaning here: reported, not fatal. */
export interface IgnoredKey {
  readonly path: string;
  readonly message: string;
}

/** The whole normalised configuration. */
export interface GuardConfig {
  /** Which input shape it came from. */
  readonly format: 'security-proxy' | 'openclaw';
  /** File path or caller-supplied label. */
  readonly source: string | undefined;
  /** Directory relative paths were resolved against. */
  readonly baseDir: string;
  readonly gateway: GatewayConfig;
  readonly audit: AuditConfig;
  readonly agents: Readonly<Record<string, AgentConfig>>;
  /** OpenClaw-shape keys that were ignored (empty for the security-proxy shape, which is strict). */
  readonly ignored: readonly IgnoredKey[];
  /**
   * Legacy OpenClaw constructs that were read after migration (`agents.list`, `default: true`),
   * each with where it is and what to write instead. Absent or empty when there is nothing to say.
   */
  readonly notices?: readonly IgnoredKey[];
}

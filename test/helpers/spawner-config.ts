/**
 * Builds normalised GuardConfig objects directly (no file, no loader) for spawner and tool tests.
 * Defaults mirror the config model's documented defaults; tests override what they exercise.
 */
import { tmpdir } from 'node:os';
import type {
  AgentConfig,
  Constraints,
  GuardConfig,
  NetworkPolicy,
  PoolPolicy,
  SpawnPolicy,
  ToolsPolicy,
} from '../../src/config/types.js';

/** Overrides of one agent. */
export interface AgentSpec {
  role?: 'parent' | 'subagent';
  entry?: string;
  tools?: Partial<ToolsPolicy>;
  constraints?: Partial<Constraints>;
  network?: Partial<NetworkPolicy>;
  subagents?: Partial<SpawnPolicy>;
  pool?: PoolPolicy;
}

/** One normalised agent. */
export function makeAgent(name: string, spec: AgentSpec = {}): AgentConfig {
  return {
    name,
    role: spec.role ?? 'subagent',
    description: undefined,
    entry: spec.entry,
    ...(spec.pool === undefined ? {} : { pool: spec.pool }),
    proxy: undefined,
    tools: { allowed: [], denied: [], ...spec.tools },
    constraints: {
      maxMemoryMb: 256,
      maxApiCalls: 50,
      maxCostUsd: 0,
      timeoutSeconds: 30,
      noMemoryPersistence: true,
      ...spec.constraints,
    },
    network: {
      egressOnly: true,
      allowedDomains: [],
      blockedPorts: [],
      allowedPorts: [80, 443],
      allowedCidrs: [],
      logAllTraffic: true,
      maxEgressBytes: 10 * 1024 * 1024,
      ...spec.network,
    },
    subagents: {
      allowAgents: [],
      maxConcurrent: 1,
      maxChildren: 1,
      maxSpawnDepth: 1,
      maxSpawnsPerMinute: 10,
      ...spec.subagents,
    },
    notes: {},
  };
}

/** A whole normalised config. */
export function makeConfig(
  agents: Record<string, AgentSpec>,
  opts: { baseDir?: string; auditPath?: string } = {},
): GuardConfig {
  const built: Record<string, AgentConfig> = {};
  for (const [name, spec] of Object.entries(agents)) built[name] = makeAgent(name, spec);
  return {
    format: 'security-proxy',
    source: 'test',
    baseDir: opts.baseDir ?? tmpdir(),
    gateway: {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: undefined,
      connectTimeoutMs: 5000,
      dnsTimeoutMs: 2000,
      idleTimeoutMs: 30000,
      maxTunnels: 256,
      maxTunnelsPerSubagent: 32,
      maxRequestsPerSecond: 1000,
      maxConnectionsPerSubagent: 128,
      maxConnections: 4096,
      maxAuditRecordsPerSubagent: 10_000,
      exchangeTimeoutMs: 300_000,
    },
    audit: { path: opts.auditPath, level: 'info' },
    agents: built,
    ignored: [],
  };
}

/**
 * Secure defaults for every key a configuration may leave out: no tools, no network, conservative
 * quotas, no spawning. A missing key never grants anything.
 */

/** Defaults of a subagent's `constraints`. */
export const DEFAULT_CONSTRAINTS = Object.freeze({
  maxMemoryMb: 256,
  maxApiCalls: 50,
  maxCostUsd: 0,
  timeoutSeconds: 120,
  noMemoryPersistence: true,
});

/** Defaults of a subagent's `network` (no allowed domains = no network at all). */
export const DEFAULT_NETWORK = Object.freeze({
  egressOnly: true,
  allowedDomains: Object.freeze([] as string[]),
  blockedPorts: Object.freeze([] as number[]),
  allowedPorts: Object.freeze([80, 443]),
  allowedCidrs: Object.freeze([] as string[]),
  logAllTraffic: true,
  maxEgressBytes: 10 * 1024 * 1024,
});

/** Defaults of an agent's `subagents` (spawn quotas): spawning nothing. */
export const DEFAULT_SPAWN = Object.freeze({
  maxConcurrent: 1,
  maxChildren: 1,
  maxSpawnDepth: 1,
  maxSpawnsPerMinute: 10,
});

/** Defaults of the top-level `gateway` section. */
export const DEFAULT_GATEWAY = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  connectTimeoutMs: 10_000,
  dnsTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxTunnels: 1024,
  maxTunnelsPerSubagent: 64,
  maxRequestsPerSecond: 100,
  maxConnectionsPerSubagent: 128,
  maxConnections: 4096,
  maxAuditRecordsPerSubagent: 10_000,
  exchangeTimeoutMs: 300_000,
});

/** Default audit level. */
export const DEFAULT_AUDIT_LEVEL = 'info';

/** Agent names that would make the two input shapes ambiguous (`agents.defaults` is OpenClaw's). */
export const RESERVED_AGENT_NAMES: readonly string[] = Object.freeze(['defaults', 'entries', 'list']);

/** Hard ceilings: a value above these is a typo, not a policy. */
export const LIMITS = Object.freeze({
  minMemoryMb: 16,
  maxMemoryMb: 1024 * 1024,
  maxApiCalls: 1_000_000_000,
  maxCostUsd: 1_000_000,
  /** One week: the wall-clock limit must fit a timer (2^31-1 ms is about 24.8 days). */
  maxTimeoutSeconds: 7 * 24 * 3600,
  maxSpawnDepth: 10,
  maxSpawnLimit: 100_000,
  maxGatewayTimeoutMs: 3_600_000,
  maxTunnels: 1_000_000,
  /** Pre-started sandboxes per agent (`pool.warm`). */
  maxPoolWarm: 32,
});

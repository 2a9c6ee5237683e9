/**
 * The one mapping from a loaded config's `gateway` section to {@link EgressGatewayOptions}, used
 * by the orchestrator's embedded gateway and by `subagent-guard gateway serve`, so both apply the
 * same timeouts, caps and upstream.
 */
import type { Logger } from 'pino';
import type { AgentConfig, GuardConfig } from '../config/types.js';
import type { EgressGatewayOptions, RegisterOptions, Resolver } from './types.js';

/**
 * Gateway options from a config. `listen` overrides `gateway.listen` (the CLI's `--listen`).
 * `upstream` is the config's `gateway.upstream` only: OpenClaw's `proxy.proxyUrl` is the proxy
 * OpenClaw itself sends through (possibly this gateway), never ours.
 *
 * @example
 * const gw = await createEgressGateway(gatewayOptionsFromConfig(config, { logger }));
 */
export function gatewayOptionsFromConfig(
  config: Pick<GuardConfig, 'gateway'>,
  extra: { logger?: Logger; resolver?: Resolver; listen?: { host: string; port: number } } = {},
): EgressGatewayOptions {
  const g = config.gateway;
  const listen = extra.listen ?? g.listen;
  return {
    host: listen.host,
    port: listen.port,
    connectTimeoutMs: g.connectTimeoutMs,
    dnsTimeoutMs: g.dnsTimeoutMs,
    idleTimeoutMs: g.idleTimeoutMs,
    maxTunnels: g.maxTunnels,
    maxTunnelsPerSubagent: g.maxTunnelsPerSubagent,
    maxRequestsPerSecond: g.maxRequestsPerSecond,
    maxConnectionsPerSubagent: g.maxConnectionsPerSubagent,
    maxConnections: g.maxConnections,
    maxAuditRecordsPerSubagent: g.maxAuditRecordsPerSubagent,
    exchangeTimeoutMs: g.exchangeTimeoutMs,
    ...(g.upstream === undefined ? {} : { upstream: g.upstream }),
    ...(extra.logger === undefined ? {} : { logger: extra.logger }),
    ...(extra.resolver === undefined ? {} : { resolver: extra.resolver }),
  };
}

/** Register limits `gateway serve` gives an agent: per-window quotas, or none without a window. */
export function serveLimits(
  agent: Pick<AgentConfig, 'constraints' | 'network'>,
  windowMs: number | undefined,
): NonNullable<RegisterOptions['limits']> {
  // max_api_calls and max_egress_bytes are quotas of ONE subagent run. A standalone gateway lives
  // for days: a lifetime cap would lock the agent out for good, so they apply only per window.
  if (windowMs === undefined) return { maxEgressBytes: null };
  return {
    maxApiCalls: agent.constraints.maxApiCalls,
    maxEgressBytes: agent.network.maxEgressBytes,
    windowMs,
  };
}

/** What `gateway serve` enforces for a config: printed by `check` (text and `--json`). */
export interface ServeEnforcement {
  /** Agents that get a credential (subagents only). */
  readonly credentials: readonly string[];
  /** Parent agents: run by the caller's own code, never given a credential. */
  readonly noCredential: readonly string[];
  /** Enforced on every request. */
  readonly always: readonly string[];
  /** Enforced per window only with `--quota-window`; off without it. */
  readonly withQuotaWindow: Readonly<Record<string, { max_api_calls: number; max_egress_bytes: number }>>;
  /** Keys of the config that only a spawned subagent is held to, never `serve`'s clients. */
  readonly notEnforced: readonly string[];
}

/** Describes what `gateway serve` would enforce for `config`. */
export function serveEnforcement(config: Pick<GuardConfig, 'agents'>): ServeEnforcement {
  const agents = Object.values(config.agents);
  const subs = agents.filter((a) => a.role === 'subagent');
  const withQuotaWindow: Record<string, { max_api_calls: number; max_egress_bytes: number }> = {};
  for (const a of subs) {
    withQuotaWindow[a.name] = {
      max_api_calls: a.constraints.maxApiCalls,
      max_egress_bytes: a.network.maxEgressBytes,
    };
  }
  return {
    credentials: subs.map((a) => a.name),
    noCredential: agents.filter((a) => a.role === 'parent').map((a) => a.name),
    always: [
      'allowed_domains',
      'allowed_ports',
      'blocked_ports',
      'allowed_cidrs',
      'prohibited address classes (loopback, private, metadata)',
      'gateway rate and connection caps',
    ],
    withQuotaWindow,
    notEnforced: [
      'tools_allowed / tools_denied',
      'max_memory_mb',
      'max_cost_usd',
      'timeout_seconds',
      'spawn quotas (subagents)',
    ],
  };
}

/** Text form of {@link serveEnforcement} for `check`. */
export function formatServeEnforcement(e: ServeEnforcement): string {
  const lines = [
    `gateway serve: credentials for ${e.credentials.length === 0 ? '(none)' : e.credentials.join(', ')}` +
      (e.noCredential.length === 0 ? '' : `; none for parent ${e.noCredential.join(', ')}`),
    `  always enforced: ${e.always.join(', ')}`,
    '  with --quota-window W, per window (without it: no api-call or byte quota):',
    ...Object.entries(e.withQuotaWindow).map(
      ([name, q]) => `    ${name}: max_api_calls ${q.max_api_calls}, max_egress_bytes ${q.max_egress_bytes}`,
    ),
    `  not enforced by serve (spawned subagents only): ${e.notEnforced.join(', ')}`,
  ];
  return `${lines.join('\n')}\n`;
}

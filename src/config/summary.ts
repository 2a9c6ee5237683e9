/**
 * Human and machine-readable views of a normalised configuration, for `subagent-guard check`.
 * Both show upstream proxies redacted only; informational notes show their keys, not their values.
 */
import { notEnforcingLine, reportOnlyParts } from './report-only.js';
import type { AgentConfig, GuardConfig } from './types.js';

/** What an agent may read (as the launcher computes it), or why its grant is refused. */
export type ReadsView =
  { readonly paths: readonly string[] } | { readonly code: string; readonly error: string };

function list(items: readonly (string | number)[], none = 'none'): string {
  return items.length === 0 ? none : items.join(', ');
}

function spawnLine(a: AgentConfig): string {
  const s = a.subagents;
  const targets = s.allowAgents === '*' ? 'any subagent' : list(s.allowAgents);
  if (s.allowAgents !== '*' && s.allowAgents.length === 0) return 'spawns: none';
  return (
    `spawns: ${targets}; at once ${s.maxConcurrent}, running+queued ${s.maxChildren}, ` +
    `depth ${s.maxSpawnDepth}, ${s.maxSpawnsPerMinute}/min`
  );
}

function readsLine(r: ReadsView | undefined): string[] {
  if (r === undefined) return [];
  if ('error' in r) return [`  reads: REFUSED ${r.code}: ${r.error}`];
  return [`  reads (read-only): ${list(r.paths)}`];
}

function agentLines(a: AgentConfig, reads?: ReadsView): string[] {
  const lines = [`agent ${a.name} (${a.role})`];
  if (a.description !== undefined) lines.push(`  description: ${a.description}`);
  if (a.role === 'parent') {
    lines.push('  run by your own code; never spawned');
  } else {
    const c = a.constraints;
    const n = a.network;
    const reportOnly = reportOnlyParts(a);
    if (reportOnly.length > 0) lines.push(`  ${notEnforcingLine(a.name, reportOnly)}`);
    lines.push(`  entry: ${a.entry ?? 'none (give one per spawn)'}`);
    lines.push(`  tools allowed: ${list(a.tools.allowed)}`);
    lines.push(`  tools denied: ${list(a.tools.denied)}`);
    lines.push(
      `  quotas: memory ${c.maxMemoryMb} MiB, api calls ${c.maxApiCalls}, cost $${c.maxCostUsd}, ` +
        `timeout ${c.timeoutSeconds} s, egress ${n.maxEgressBytes} bytes; state discarded on exit`,
    );
    if (n.allowedDomains.length === 0) {
      lines.push(
        n.mode === 'report'
          ? '  network: no allowed domains (report-only: every host is let through and recorded)'
          : '  network: none (no allowed domains)',
      );
    } else {
      lines.push(`  domains: ${list(n.allowedDomains)}`);
      lines.push(`  ports: ${list(n.allowedPorts)}; blocked: ${list(n.blockedPorts)}`);
      lines.push(`  private ranges allowed (CIDRs): ${list(n.allowedCidrs)}`);
      lines.push(`  egress only; log all traffic: ${n.logAllTraffic ? 'yes' : 'no (denials only)'}`);
    }
    lines.push(`  upstream proxy: ${a.proxy?.redacted ?? 'none (direct)'}`);
    lines.push(...readsLine(reads));
  }
  lines.push(`  ${spawnLine(a)}`);
  const notes = Object.keys(a.notes);
  for (const key of notes) {
    const v = a.notes[key];
    const keys = typeof v === 'object' && v !== null ? ` (keys: ${list(Object.keys(v))})` : '';
    lines.push(`  ${key}: informational, not enforced${keys}`);
  }
  return lines;
}

/**
 * A readable multi-line summary: agents and roles, tools, quotas, domains, ports, CIDRs, spawn
 * limits, upstream proxies (redacted), and the OpenClaw keys that were ignored.
 */
export function formatConfigSummary(
  config: GuardConfig,
  reads: Readonly<Record<string, ReadsView>> = {},
): string {
  const g = config.gateway;
  const names = Object.keys(config.agents);
  const out = [
    `config: ${config.source ?? '(inline)'} (${config.format} shape)`,
    `gateway: listen ${g.listen.host.includes(':') ? `[${g.listen.host}]` : g.listen.host}:${g.listen.port}, ` +
      `upstream ${g.upstream?.redacted ?? 'none'}, connect timeout ${g.connectTimeoutMs} ms, ` +
      `dns timeout ${g.dnsTimeoutMs} ms, idle ${g.idleTimeoutMs} ms, tunnels ${g.maxTunnels} ` +
      `(${g.maxTunnelsPerSubagent} per subagent), ${g.maxRequestsPerSecond} req/s per subagent`,
    `audit: ${config.audit.path ?? 'stderr'} (level ${config.audit.level})`,
    `agents: ${names.length === 0 ? 'none' : names.length}`,
  ];
  for (const name of names) {
    const a = config.agents[name];
    if (a !== undefined) out.push('', ...agentLines(a, Object.hasOwn(reads, name) ? reads[name] : undefined));
  }
  const notices = config.notices ?? [];
  if (notices.length > 0) {
    out.push('', `legacy OpenClaw settings read after migration (${notices.length}):`);
    for (const n of notices) out.push(`  ${n.path}: ${n.message}`);
  }
  if (config.ignored.length > 0) {
    out.push('', `ignored OpenClaw keys (${config.ignored.length}):`);
    for (const i of config.ignored) out.push(`  ${i.path}: ${i.message}`);
  }
  return `${out.join('\n')}\n`;
}

/** A JSON-serialisable view of an agent; the upstream proxy appears redacted only. */
function agentJson(a: AgentConfig, reads: ReadsView | undefined): Record<string, unknown> {
  return {
    reads: reads ?? null,
    role: a.role,
    description: a.description ?? null,
    entry: a.entry ?? null,
    proxy: a.proxy?.redacted ?? null,
    enforcing: reportOnlyParts(a).length === 0,
    reportOnly: reportOnlyParts(a),
    tools: a.tools,
    constraints: a.constraints,
    network: a.network,
    subagents: a.subagents,
    notes: Object.keys(a.notes),
  };
}

/** A JSON-serialisable view of the whole configuration with every secret redacted. */
export function configToJson(
  config: GuardConfig,
  reads: Readonly<Record<string, ReadsView>> = {},
): Record<string, unknown> {
  return {
    source: config.source ?? null,
    format: config.format,
    gateway: { ...config.gateway, upstream: config.gateway.upstream?.redacted ?? null },
    audit: { path: config.audit.path ?? null, level: config.audit.level },
    agents: Object.fromEntries(
      Object.entries(config.agents).map(([k, v]) => [
        k,
        agentJson(v, Object.hasOwn(reads, k) ? reads[k] : undefined),
      ]),
    ),
    ignored: config.ignored,
    notices: config.notices ?? [],
  };
}

/**
 * Report-only rollout: which parts of an agent's policy are recorded instead of enforced, and the
 * one wording every surface (check, spawn records, the creation warning) uses to say so.
 */
import type { AgentConfig, GuardConfig } from './types.js';

/** A policy part that can run in report-only mode. */
export type ReportOnlyPart = 'network' | 'tools';

/** The parts of `agent`'s policy in report-only mode (empty = fully enforcing). */
export function reportOnlyParts(agent: Pick<AgentConfig, 'network' | 'tools'>): ReportOnlyPart[] {
  const parts: ReportOnlyPart[] = [];
  if (agent.network.mode === 'report') parts.push('network');
  if (agent.tools.mode === 'report') parts.push('tools');
  return parts;
}

/** Subagents of `config` with a report-only part, by name. */
export function reportOnlyAgents(config: GuardConfig): { agent: string; parts: ReportOnlyPart[] }[] {
  return Object.values(config.agents)
    .filter((a) => a.role === 'subagent')
    .map((a) => ({ agent: a.name, parts: reportOnlyParts(a) }))
    .filter((r) => r.parts.length > 0);
}

/** What report-only mode does and does not relax, in one sentence. */
export const REPORT_ONLY_SCOPE =
  'refusals of its allowlist are recorded with enforced: false and let through; tools_denied, blocked_ports, ' +
  'cloud metadata, the gateway itself, private ranges outside allowed_cidrs and every quota are still enforced';

/** The loud one-line statement for an agent that is not enforcing. */
export function notEnforcingLine(agent: string, parts: readonly ReportOnlyPart[]): string {
  return `!! NOT ENFORCING: agent ${agent} runs its ${parts.join(' and ')} policy in report-only mode (${REPORT_ONLY_SCOPE})`;
}

/**
 * Turns an {@link AuditAnalysis} into the smallest allowlist that the recorded traffic needed, in
 * both config shapes, and (given the agent's current policy) the difference to it. Pure: no I/O.
 *
 * Only what passed the allowlist or was let through by report mode is suggested (plus, on request,
 * what the allowlist refused while enforcing). Every suggested entry is checked the way the config
 * parser would check it, so the suggestion never names what `check` would reject or what must stay
 * refused: such entries are listed under `invalid` or `prohibited` instead.
 */
import { parseNetworkSection } from '../config/network.js';
import { errorMessage, ConfigError } from '../errors.js';
import { HostAcl, ToolAcl, validateToolPattern } from '../policy/index.js';
import type { AgentConfig } from '../config/types.js';
import type { AuditAnalysis, HostUse, Prohibited, ToolUse } from './suggest.js';

/** One list's difference to the agent's current list. */
export interface ListDiff<T> {
  /** Needed and not covered by the current list. */
  readonly add: readonly T[];
  /** Current entries that covered recorded traffic. */
  readonly keep: readonly T[];
  /** Current entries no recorded traffic used: candidates for removal. */
  readonly unused: readonly T[];
}

/** The suggestion for one agent. */
export interface Suggestion {
  readonly agent: string;
  /** `tools_allowed` (security-proxy shape) = `agents.entries.<id>.tools.allow` (OpenClaw shape). */
  readonly toolsAllowed: readonly string[];
  readonly allowedDomains: readonly string[];
  /** The ports the suggested hosts were reached on; empty when there is no network. */
  readonly allowedPorts: readonly number[];
  /** Recorded only because report mode let them through (`enforced: false`). */
  readonly reportOnly: { readonly hosts: readonly string[]; readonly tools: readonly string[] };
  /** Needed but not expressible as an allowlist entry (with why). */
  readonly invalid: readonly {
    readonly kind: 'host' | 'tool';
    readonly value: string;
    readonly message: string;
  }[];
  readonly prohibited: readonly Prohibited[];
  /** Allowlist refusals while enforcing that were left out (included with `includeRefused`). */
  readonly refusedLeftOut: { readonly hosts: readonly HostUse[]; readonly tools: readonly ToolUse[] };
  /** Present when the agent's current policy was given. */
  readonly diff?: {
    readonly allowedDomains: ListDiff<string>;
    readonly allowedPorts: ListDiff<number>;
    readonly toolsAllowed: ListDiff<string>;
  };
  /** The suggestion written in each config shape. */
  readonly shapes: {
    readonly securityProxy: Record<string, unknown>;
    readonly openclaw: Record<string, unknown>;
  };
}

/** Options of {@link buildSuggestion}. */
export interface SuggestionOptions {
  /** Also suggest what the allowlist refused while enforcing. @default false */
  readonly includeRefused?: boolean;
  /** The agent's current policy, for the diff. */
  readonly current?: Pick<AgentConfig, 'name' | 'tools' | 'network'>;
}

/** Null when `host` is a valid `allowed_domains` entry naming exactly this host; else why not. */
function hostProblem(host: string): string | null {
  if (host.startsWith('*')) return 'a recorded host cannot be a wildcard';
  try {
    const n = parseNetworkSection({ allowed_domains: [host] });
    if (n.allowedDomains[0] !== host) return `is written ${JSON.stringify(n.allowedDomains[0])} in a config`;
    return null;
  } catch (err) {
    if (err instanceof ConfigError) return err.issues[0]?.message ?? err.message;
    return errorMessage(err);
  }
}

/** Null when `tool` is a plain tool name `tools_allowed` accepts (no group, no wildcard). */
function toolProblem(tool: string): string | null {
  if (tool.includes('*') || tool.toLowerCase().startsWith('group:'))
    return 'a recorded tool name cannot be a pattern or a group';
  return validateToolPattern(tool);
}

function byText<T extends string | number>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Splits `allowed_domains` into names (for the host ACL) and IP literals (matched exactly). */
function domainDiff(needed: readonly string[], current: readonly string[]): ListDiff<string> {
  const isIp = (e: string): boolean => e.startsWith('[') || /^[0-9.]+$/.test(e);
  const names = current.filter((e) => !isIp(e));
  const used = new Set<string>();
  const add: string[] = [];
  for (const h of needed) {
    let rule: string | null = null;
    if (isIp(h)) rule = current.includes(h) ? h : null;
    else {
      try {
        rule = new HostAcl(names).match(h);
      } catch {
        rule = current.includes(h) ? h : null;
      }
    }
    if (rule === null) add.push(h);
    else used.add(rule);
  }
  return {
    add,
    keep: current.filter((e) => used.has(e)),
    unused: current.filter((e) => !used.has(e)),
  };
}

function toolDiff(needed: readonly string[], current: readonly string[]): ListDiff<string> {
  const used = new Set<string>();
  const add: string[] = [];
  for (const t of needed) {
    let rule: string | null = null;
    try {
      const d = new ToolAcl({ allowed: current, denied: [] }).decide(t);
      rule = d.allow && d.enforced !== false ? d.rule : null;
    } catch {
      rule = current.includes(t) ? t : null;
    }
    if (rule === null) add.push(t);
    else used.add(rule);
  }
  return { add, keep: current.filter((e) => used.has(e)), unused: current.filter((e) => !used.has(e)) };
}

/** The minimal allowlist for `analysis.agent`, its two shapes, and the diff to `opts.current`. */
export function buildSuggestion(analysis: AuditAnalysis, opts: SuggestionOptions = {}): Suggestion {
  const includeRefused = opts.includeRefused === true;
  const invalid: { kind: 'host' | 'tool'; value: string; message: string }[] = [];
  const hostUses = includeRefused ? [...analysis.hosts, ...analysis.refusedHosts] : analysis.hosts;
  const toolUses = includeRefused ? [...analysis.tools, ...analysis.refusedTools] : analysis.tools;

  const domains = new Set<string>();
  const ports = new Set<number>();
  const reportHosts = new Set<string>();
  for (const h of hostUses) {
    const problem = hostProblem(h.host);
    if (problem !== null) {
      if (!invalid.some((i) => i.kind === 'host' && i.value === h.host))
        invalid.push({ kind: 'host', value: h.host, message: problem });
      continue;
    }
    domains.add(h.host);
    for (const p of h.ports) if (p > 0) ports.add(p);
    if (h.reportOnly) reportHosts.add(h.host);
  }
  const tools = new Set<string>();
  const reportTools = new Set<string>();
  for (const t of toolUses) {
    const problem = toolProblem(t.tool);
    if (problem !== null) {
      if (!invalid.some((i) => i.kind === 'tool' && i.value === t.tool))
        invalid.push({ kind: 'tool', value: t.tool, message: problem });
      continue;
    }
    tools.add(t.tool);
    if (t.reportOnly) reportTools.add(t.tool);
  }

  const allowedDomains = [...domains].sort(byText);
  const allowedPorts = allowedDomains.length === 0 ? [] : [...ports].sort((a, b) => a - b);
  const toolsAllowed = [...tools].sort(byText);
  const network: Record<string, unknown> = { allowed_domains: allowedDomains };
  if (allowedPorts.length > 0) network['allowed_ports'] = allowedPorts;
  const agent = analysis.agent;

  const cur = opts.current;
  const diff =
    cur === undefined
      ? undefined
      : {
          allowedDomains: domainDiff(allowedDomains, cur.network.allowedDomains),
          allowedPorts: ((): ListDiff<number> => {
            const current = cur.network.allowedPorts;
            return {
              add: allowedPorts.filter((p) => !current.includes(p)),
              keep: current.filter((p) => allowedPorts.includes(p)),
              unused: current.filter((p) => !allowedPorts.includes(p)),
            };
          })(),
          toolsAllowed: toolDiff(toolsAllowed, cur.tools.allowed),
        };

  return {
    agent,
    toolsAllowed,
    allowedDomains,
    allowedPorts,
    reportOnly: { hosts: [...reportHosts].sort(byText), tools: [...reportTools].sort(byText) },
    invalid,
    prohibited: analysis.prohibited,
    refusedLeftOut: includeRefused
      ? { hosts: [], tools: [] }
      : { hosts: analysis.refusedHosts, tools: analysis.refusedTools },
    ...(diff === undefined ? {} : { diff }),
    shapes: {
      securityProxy: { agents: { [agent]: { tools_allowed: toolsAllowed, network } } },
      openclaw: {
        agents: { entries: { [agent]: { tools: { allow: toolsAllowed } } } },
        plugins: { entries: { 'subagent-guard': { config: { agents: { [agent]: { network } } } } } },
      },
    },
  };
}

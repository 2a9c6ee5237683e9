/**
 * Tool policy inside an OpenClaw Gateway: the calling agent's tool ACL (deny wins, OpenClaw's real
 * catalog, groups and aliases), OpenClaw's host-side network tools refused unless the operator
 * allows them, and per-run call and cost quotas. Pure book-keeping, no I/O: `guard.ts` audits.
 */
import type { AgentConfig, GuardConfig } from '../config/types.js';
import { ToolAcl } from '../policy/tools.js';
import { ownAgent } from '../spawner/quotas.js';

/** OpenClaw tools that open connections from the Gateway host with OpenClaw's one process-wide proxy. */
export const HOST_NETWORK_TOOLS: readonly string[] = Object.freeze([
  'group:web',
  'web_search',
  'web_fetch',
  'x_search',
  'browser',
]);

/** Why a tool call was allowed or refused (the `reason` of `plugin.tool_decision`). */
export const PLUGIN_TOOL_REASONS = [
  'allowed',
  'not_allowed',
  'denied_by_rule',
  'host_network_tool',
  'api_calls_exceeded',
  'cost_exceeded',
  'unknown_agent',
  'malformed_event',
  'config_invalid',
] as const;
/** Why a tool call was allowed or refused. */
export type PluginToolReason = (typeof PLUGIN_TOOL_REASONS)[number];

/** One tool decision. */
export interface PluginToolDecision {
  readonly allow: boolean;
  readonly reason: PluginToolReason;
  /** The ACL rule that matched, when one did. */
  readonly rule: string | null;
  /** Calls and cost of the run after this call (allowed) or as they stood (refused). */
  readonly calls: number;
  readonly costUsd: number;
}

/** Options of {@link ToolGuard}. */
export interface ToolGuardOptions {
  /** `"deny"` refuses {@link HOST_NETWORK_TOOLS} for every agent. @default 'deny' */
  readonly hostNetworkTools?: 'deny' | 'allow';
  /** Cost of one call per tool name (lower case), USD. @default {} (every tool 0) */
  readonly toolCostUsd?: Readonly<Record<string, number>>;
  /** Runs whose counters are kept; the oldest is forgotten beyond it. @default 10000 */
  readonly maxRuns?: number;
}

interface RunUsage {
  calls: number;
  costUsd: number;
}

/** The tool decisions of one Gateway: one instance per plugin registration. */
export class ToolGuard {
  readonly #config: GuardConfig;
  readonly #acls = new Map<string, ToolAcl>();
  readonly #hostNet = new ToolAcl({ allowed: HOST_NETWORK_TOOLS, denied: [] });
  readonly #denyHostNet: boolean;
  readonly #costs: ReadonlyMap<string, number>;
  readonly #maxRuns: number;
  /** Per run key (`agentId` + run id): insertion-ordered, so the first key is the oldest run. */
  readonly #runs = new Map<string, RunUsage>();

  constructor(config: GuardConfig, opts: ToolGuardOptions = {}) {
    this.#config = config;
    this.#denyHostNet = (opts.hostNetworkTools ?? 'deny') === 'deny';
    this.#costs = new Map(Object.entries(opts.toolCostUsd ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    this.#maxRuns = opts.maxRuns ?? 10_000;
  }

  /** The agent of `agents.entries` called `agentId`, own properties only. */
  agent(agentId: string): AgentConfig | undefined {
    return ownAgent(this.#config, agentId);
  }

  /**
   * Decides one call of `tool` by `agentId` in run `runKey` and, when allowed, counts it against
   * the run's quotas in the same synchronous step (two concurrent calls cannot both take the
   * last slot).
   */
  decide(agentId: string, runKey: string, tool: string): PluginToolDecision {
    const agent = this.agent(agentId);
    const key = `${agentId}\u0000${runKey}`;
    const usage = this.#runs.get(key) ?? { calls: 0, costUsd: 0 };
    const refuse = (reason: PluginToolReason, rule: string | null = null): PluginToolDecision => ({
      allow: false,
      reason,
      rule,
      calls: usage.calls,
      costUsd: usage.costUsd,
    });
    if (agent === undefined) return refuse('unknown_agent');
    // The parent is the operator's own agent: OpenClaw's tool policy decides its tools, and it
    // has no quotas here (the config reader gives it none). Its spawns are still checked.
    const decision =
      agent.role === 'parent'
        ? ({ allow: true, reason: 'allowed', rule: null } as const)
        : this.#acl(agent).decide(tool);
    if (!decision.allow) return refuse(decision.reason, decision.rule);
    if (this.#denyHostNet) {
      const net = this.#hostNet.decide(tool);
      if (net.allow) return refuse('host_network_tool', net.rule);
    }
    if (agent.role === 'parent') {
      return { allow: true, reason: 'allowed', rule: null, calls: usage.calls, costUsd: usage.costUsd };
    }
    if (usage.calls + 1 > agent.constraints.maxApiCalls) return refuse('api_calls_exceeded', decision.rule);
    const cost = this.#costs.get(tool.toLowerCase()) ?? 0;
    // Compare in micro-dollars: 0.1 + 0.2 must not exceed a 0.3 budget by floating-point error.
    if (Math.round((usage.costUsd + cost) * 1e6) > Math.round(agent.constraints.maxCostUsd * 1e6)) {
      return refuse('cost_exceeded', decision.rule);
    }
    usage.calls += 1;
    usage.costUsd += cost;
    this.#remember(key, usage);
    return {
      allow: true,
      reason: 'allowed',
      rule: decision.rule,
      calls: usage.calls,
      costUsd: usage.costUsd,
    };
  }

  /** Forgets a finished run's counters. */
  endRun(agentId: string, runKey: string): void {
    this.#runs.delete(`${agentId}\u0000${runKey}`);
  }

  /** Runs with live counters (for tests and status). */
  get runs(): number {
    return this.#runs.size;
  }

  #acl(agent: AgentConfig): ToolAcl {
    let acl = this.#acls.get(agent.name);
    if (acl === undefined) {
      acl = new ToolAcl(agent.tools);
      this.#acls.set(agent.name, acl);
    }
    return acl;
  }

  #remember(key: string, usage: RunUsage): void {
    // Re-insert so the map stays ordered by last use; drop the least recently used beyond the cap.
    this.#runs.delete(key);
    this.#runs.set(key, usage);
    while (this.#runs.size > this.#maxRuns) {
      const oldest = this.#runs.keys().next();
      if (oldest.done === true) break;
      this.#runs.delete(oldest.value);
    }
  }
}

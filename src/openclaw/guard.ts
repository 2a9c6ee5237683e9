/**
 * The hook handlers of the OpenClaw plugin, apart from OpenClaw itself so they can be tested with
 * plain objects: every event is re-checked (OpenClaw's types are a promise, not a proof), an event
 * without the ids a decision needs is refused (fail closed), and every decision is audited once
 * with OpenClaw's ids (agentId, sessionKey, runId) for correlation.
 */
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import type { PluginEnforce } from '../config/plugin-schema.js';
import type { GuardConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { ownAgent } from '../spawner/quotas.js';
import { SpawnGuard, type HeldSpawn, type SpawnReleaseCause } from './spawn-guard.js';
import { ToolGuard, type PluginToolReason } from './tool-guard.js';
import type { OpenclawBeforeToolCallResult } from './types.js';

/** OpenClaw's spawn tool: the one tool call that creates a subagent. */
export const SPAWN_TOOL = 'sessions_spawn';
/** Longest id or tool name copied from an event into a record or a message. */
const MAX_ID = 256;

/** Options of {@link PluginGuard}. */
export interface PluginGuardOptions {
  /** The normalised openclaw.json, or the reason it could not be read (every call is then refused). */
  readonly config: GuardConfig | { readonly invalid: string };
  readonly enforce?: PluginEnforce | undefined;
  /** Audit sink. */
  readonly logger: Logger;
  /** Clock for the spawn rate window, ms. @default Date.now */
  readonly now?: () => number;
}

type Ids = { agentId?: string; sessionKey?: string; runId?: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A non-empty, bounded string field of a hostile-or-not object, else undefined. */
function str(obj: unknown, key: string): string | undefined {
  if (!isRecord(obj)) return undefined;
  let v: unknown;
  try {
    v = obj[key];
  } catch {
    return undefined;
  }
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID ? v : undefined;
}

function ids(ctx: unknown, event?: unknown): Ids {
  const agentId = str(ctx, 'agentId');
  const sessionKey = str(ctx, 'sessionKey');
  const runId = str(ctx, 'runId') ?? str(event, 'runId');
  return {
    ...(agentId === undefined ? {} : { agentId }),
    ...(sessionKey === undefined ? {} : { sessionKey }),
    ...(runId === undefined ? {} : { runId }),
  };
}

/** The hook handlers of one plugin registration. */
export class PluginGuard {
  readonly #logger: Logger;
  readonly #invalid: string | undefined;
  readonly #config: GuardConfig | undefined;
  readonly #tools: ToolGuard | undefined;
  readonly #spawns: SpawnGuard | undefined;

  constructor(opts: PluginGuardOptions) {
    this.#logger = opts.logger;
    if ('invalid' in opts.config) {
      this.#invalid = opts.config.invalid;
      return;
    }
    this.#config = opts.config;
    const enforce = opts.enforce ?? {};
    this.#tools = new ToolGuard(opts.config, {
      ...(enforce.host_network_tools === undefined ? {} : { hostNetworkTools: enforce.host_network_tools }),
      ...(enforce.tool_cost_usd === undefined ? {} : { toolCostUsd: enforce.tool_cost_usd }),
    });
    this.#spawns = new SpawnGuard(opts.config, {
      releaseTimeoutMs: (enforce.spawn_release_timeout_seconds ?? 3600) * 1000,
      onRelease: (held, cause) => {
        this.#released(held, cause);
      },
      ...(opts.now ? { now: opts.now } : {}),
    });
  }

  /** Reservations held for spawned (or being spawned) subagents. */
  get heldSpawns(): number {
    return this.#spawns?.held ?? 0;
  }

  /** The configured agent id OpenClaw means by `id` (its ids are case-insensitive). */
  resolveAgent(id: string): string | undefined {
    const config = this.#config;
    if (config === undefined) return undefined;
    if (ownAgent(config, id) !== undefined) return id;
    const lower = id.toLowerCase();
    return Object.keys(config.agents).find((name) => name.toLowerCase() === lower);
  }

  /** `before_tool_call`: the tool ACL and run quotas, then (for `sessions_spawn`) the spawn quotas. */
  beforeToolCall(event: unknown, ctx: unknown): OpenclawBeforeToolCallResult | undefined {
    const who = ids(ctx, event);
    const tool = str(event, 'toolName') ?? str(ctx, 'toolName');
    const runKey = who.runId ?? who.sessionKey;
    const refuse = (reason: PluginToolReason, detail: string, extra: Record<string, unknown> = {}) => {
      this.#logger.warn(
        { event: AuditEvent.PluginToolDecision, ...who, tool: tool ?? null, allow: false, reason, ...extra },
        `tool call refused: ${reason}`,
      );
      return { block: true, blockReason: `subagent-guard: ${detail}` };
    };
    if (this.#invalid !== undefined || this.#tools === undefined) {
      return refuse(
        'config_invalid',
        `the plugin's configuration is invalid, every tool call is refused (${this.#invalid ?? 'not loaded'})`,
      );
    }
    if (tool === undefined || who.agentId === undefined || runKey === undefined || !isRecord(event)) {
      return refuse('malformed_event', 'the tool call carries no tool name, agent id or run id; refused');
    }
    const agentId = this.resolveAgent(who.agentId);
    if (agentId === undefined) {
      return refuse(
        'unknown_agent',
        `agent '${who.agentId}' is not defined in agents.entries; '${tool}' refused`,
      );
    }
    const d = this.#tools.decide(agentId, runKey, tool);
    const record = { tool, rule: d.rule, calls: d.calls, costUsd: d.costUsd };
    if (!d.allow) {
      return refuse(d.reason, toolRefusal(tool, agentId, d.reason, d.rule), record);
    }
    this.#logger.info(
      { event: AuditEvent.PluginToolDecision, ...who, allow: true, reason: d.reason, ...record },
      'tool call allowed',
    );
    if (tool.toLowerCase() !== SPAWN_TOOL) return undefined;
    return this.#spawnDecision(event, ctx, who, agentId);
  }

  #spawnDecision(
    event: Record<string, unknown>,
    ctx: unknown,
    who: Ids,
    requester: string,
  ): OpenclawBeforeToolCallResult | undefined {
    const spawns = this.#spawns;
    const params = event.params;
    const toolCallId = str(event, 'toolCallId') ?? str(ctx, 'toolCallId');
    const rawTarget = isRecord(params) ? params.agentId : undefined;
    const session = who.sessionKey;
    const deny = (reason: string, detail: string, extra: Record<string, unknown> = {}) => {
      this.#logger.warn(
        { event: AuditEvent.PluginSpawnDecision, ...who, allow: false, reason, detail, ...extra },
        `spawn refused: ${reason}`,
      );
      return { block: true, blockReason: `subagent-guard: sessions_spawn refused (${reason}): ${detail}` };
    };
    if (spawns === undefined || session === undefined || !isRecord(params)) {
      return deny('malformed_event', 'the spawn call carries no session key or parameters');
    }
    if (
      rawTarget !== undefined &&
      (typeof rawTarget !== 'string' || rawTarget === '' || rawTarget.length > MAX_ID)
    ) {
      return deny('malformed_event', 'agentId must be a non-empty string');
    }
    // OpenClaw spawns the requester's own agent when agentId is absent.
    const targetId = rawTarget ?? requester;
    const target = this.resolveAgent(targetId) ?? targetId;
    const d = spawns.decide(requester, session, target, toolCallId);
    if (!d.allow) return deny(d.reason, d.detail, { agent: target, depth: d.depth });
    this.#logger.info(
      {
        event: AuditEvent.PluginSpawnDecision,
        ...who,
        allow: true,
        reason: d.reason,
        agent: target,
        depth: d.depth,
        reservation: d.reservation,
        ...(toolCallId === undefined ? {} : { toolCallId }),
      },
      'spawn reserved',
    );
    return undefined;
  }

  /** `after_tool_call`: a failed `sessions_spawn` gives its reservation back. */
  afterToolCall(event: unknown, ctx: unknown): void {
    const tool = str(event, 'toolName');
    if (tool?.toLowerCase() !== SPAWN_TOOL || this.#spawns === undefined) return;
    const toolCallId = str(event, 'toolCallId') ?? str(ctx, 'toolCallId');
    if (toolCallId === undefined || !spawnFailed(event)) return;
    this.#spawns.failed(toolCallId);
  }

  /** `subagent_spawned`: binds the child to its reservation and audits OpenClaw's ids. */
  subagentSpawned(event: unknown, ctx: unknown): void {
    const childSessionKey = str(event, 'childSessionKey');
    const agentId = str(event, 'agentId');
    const runId = str(event, 'runId') ?? str(ctx, 'runId');
    const requesterSessionKey = str(ctx, 'requesterSessionKey');
    if (childSessionKey === undefined || agentId === undefined) {
      this.#logger.warn(
        { event: AuditEvent.PluginSubagentSpawned, checked: false, malformed: true },
        'subagent_spawned without a child session key or agent id',
      );
      return;
    }
    const held = this.#spawns?.spawned(
      requesterSessionKey,
      childSessionKey,
      this.resolveAgent(agentId) ?? agentId,
      runId,
    );
    this.#logger.info(
      {
        event: AuditEvent.PluginSubagentSpawned,
        agentId,
        sessionKey: childSessionKey,
        ...(runId === undefined ? {} : { runId }),
        ...(requesterSessionKey === undefined ? {} : { requesterSessionKey }),
        checked: held !== undefined,
        ...(held === undefined ? {} : { reservation: held.id, depth: held.depth }),
      },
      held === undefined ? 'subagent spawned outside a checked sessions_spawn call' : 'subagent spawned',
    );
  }

  /** `subagent_ended`: releases the child's reservation. */
  subagentEnded(event: unknown, ctx: unknown): void {
    const sessionKey = str(event, 'targetSessionKey') ?? str(ctx, 'childSessionKey');
    const runId = str(event, 'runId') ?? str(ctx, 'runId');
    const reason = str(event, 'reason');
    const outcome = str(event, 'outcome');
    this.#logger.info(
      {
        event: AuditEvent.PluginSubagentEnded,
        ...(sessionKey === undefined ? { malformed: true } : { sessionKey }),
        ...(runId === undefined ? {} : { runId }),
        ...(reason === undefined ? {} : { endReason: reason }),
        ...(outcome === undefined ? {} : { outcome }),
      },
      'subagent ended',
    );
    if (sessionKey !== undefined) this.#spawns?.ended(sessionKey);
  }

  /** `gateway_stop`: releases every reservation and refuses further spawns. */
  stop(): void {
    this.#spawns?.close();
  }

  #released(held: HeldSpawn, cause: SpawnReleaseCause): void {
    try {
      this.#logger.info(
        {
          event: AuditEvent.PluginSpawnReleased,
          agentId: held.agent,
          requesterAgentId: held.requesterAgent,
          requesterSessionKey: held.requesterSession,
          ...(held.childSession === undefined ? {} : { sessionKey: held.childSession }),
          ...(held.childRunId === undefined ? {} : { runId: held.childRunId }),
          reservation: held.id,
          cause,
        },
        `spawn reservation released (${cause})`,
      );
    } catch (err) {
      // A release runs from timers too: the audit sink failing must not throw into the Gateway.
      process.emitWarning(`subagent-guard: could not audit a spawn release: ${errorMessage(err)}`);
    }
  }
}

/** Did a `sessions_spawn` call end without a child? (a thrown error or an error/forbidden status) */
function spawnFailed(event: unknown): boolean {
  if (str(event, 'error') !== undefined) return true;
  const result = isRecord(event) ? event.result : undefined;
  const details = isRecord(result) ? result.details : undefined;
  const status = str(details, 'status');
  return status === 'error' || status === 'forbidden';
}

function toolRefusal(tool: string, agent: string, reason: PluginToolReason, rule: string | null): string {
  switch (reason) {
    case 'denied_by_rule':
      return `'${tool}' is denied for agent '${agent}' by rule '${rule ?? '?'}'`;
    case 'not_allowed':
      return `'${tool}' is not in the allowed tools of agent '${agent}'`;
    case 'host_network_tool':
      return `'${tool}' reaches the network from the Gateway host; use guarded_fetch (enforce.host_network_tools is "deny")`;
    case 'api_calls_exceeded':
      return `agent '${agent}' used its max_api_calls for this run; '${tool}' refused`;
    case 'cost_exceeded':
      return `'${tool}' would take agent '${agent}' over its max_cost_usd for this run`;
    case 'unknown_agent':
    case 'malformed_event':
    case 'config_invalid':
    case 'allowed':
      return `'${tool}' refused (${reason})`;
  }
}

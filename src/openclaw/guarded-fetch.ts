/**
 * The `guarded_fetch` tool: the security-proxy pattern as an OpenClaw tool. Each call runs one
 * subagent-guard subagent as the *calling* agent (its network section, credential and quotas),
 * whose only work is fetching the untrusted URL through our egress gateway; the body comes back
 * through `sanitized_parse` (JSON: size- and depth-capped, prototype keys dropped; anything else:
 * text, capped). A refused destination ends that subagent (403, audited), never the Gateway.
 */
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import type { AgentConfig, GuardConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { createOrchestrator } from '../spawner/orchestrator.js';
import type { IsolationRequest, Orchestrator, Outcome } from '../spawner/types.js';
import { sanitizedParse } from '../tools/builtin/sanitized-parse.js';
import type { FetchOutput } from './fetch-entry.js';
import type { OpenclawToolResult } from './types.js';

/** The parent every guarded_fetch subagent is spawned by: not a valid OpenClaw agent id (":"). */
export const FETCH_PARENT = 'openclaw:gateway';
/** The program a guarded_fetch subagent runs. */
export const FETCH_ENTRY: string = fileURLToPath(new URL('./fetch-entry.js', import.meta.url));

/** guarded_fetch's JSON Schema (OpenClaw validates the model's arguments against it). */
export const GUARDED_FETCH_PARAMETERS = {
  type: 'object',
  properties: {
    url: {
      type: 'string',
      description: 'http(s) URL to fetch; only hosts in your allowed_domains are reachable.',
    },
    maxBytes: {
      type: 'integer',
      minimum: 1,
      maximum: 1_048_576,
      description: 'Body bytes to read (default 262144).',
    },
  },
  required: ['url'],
  additionalProperties: false,
} as const;

/** Options of {@link GuardedFetch}. */
export interface GuardedFetchOptions {
  readonly config: GuardConfig;
  readonly logger: Logger;
  /** @default 'auto' */
  readonly isolation?: IsolationRequest;
  /** guarded_fetch subagents running at once across the Gateway; more wait. @default 4 */
  readonly maxConcurrent?: number;
}

/** Who called, as OpenClaw's tool factory told us. */
export interface FetchCaller {
  readonly agentId: string;
  readonly sessionKey?: string | undefined;
  readonly runId?: string | undefined;
}

/**
 * The config the guarded_fetch orchestrator runs: every OpenClaw agent becomes a spawnable agent
 * that may spawn nothing itself, under one synthetic parent that may spawn any of them.
 */
export function fetchConfig(config: GuardConfig, maxConcurrent: number): GuardConfig {
  const agents: Record<string, AgentConfig> = Object.create(null) as Record<string, AgentConfig>;
  for (const [name, agent] of Object.entries(config.agents)) {
    agents[name] = {
      ...agent,
      role: 'subagent',
      // The fetch program calls no tool (its fetch goes through the gateway): OpenClaw's tool names
      // mean nothing to this orchestrator, and none are granted.
      tools: { allowed: [], denied: [] },
      subagents: { ...agent.subagents, allowAgents: [], maxSpawnDepth: 1 },
    };
  }
  agents[FETCH_PARENT] = {
    name: FETCH_PARENT,
    role: 'parent',
    description: 'The OpenClaw Gateway, spawning guarded_fetch subagents',
    entry: undefined,
    proxy: undefined,
    tools: { allowed: [], denied: [] },
    constraints: {
      maxMemoryMb: 256,
      maxApiCalls: 0,
      maxCostUsd: 0,
      timeoutSeconds: 120,
      noMemoryPersistence: true,
    },
    network: {
      egressOnly: true,
      allowedDomains: [],
      blockedPorts: [],
      allowedPorts: [],
      allowedCidrs: [],
      logAllTraffic: true,
      maxEgressBytes: 0,
    },
    subagents: {
      allowAgents: '*',
      maxConcurrent,
      maxChildren: 1000,
      maxSpawnDepth: 1,
      maxSpawnsPerMinute: 100_000,
    },
    notes: {},
  };
  return { ...config, agents };
}

function text(value: unknown): OpenclawToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], details: value };
}

function readArgs(params: unknown): { url: string; maxBytes: number } | string {
  if (typeof params !== 'object' || params === null) return 'arguments must be an object';
  const p = params as Record<string, unknown>;
  if (typeof p.url !== 'string' || p.url.length === 0 || p.url.length > 8192) return 'url must be a string';
  let parsed: URL;
  try {
    parsed = new URL(p.url);
  } catch {
    return 'url is not a valid URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'url must be http or https';
  const maxBytes = p.maxBytes ?? 256 * 1024;
  if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > 1_048_576) {
    return 'maxBytes must be an integer from 1 to 1048576';
  }
  return { url: p.url, maxBytes };
}

/** The guarded_fetch runner of one plugin registration; the orchestrator starts on first use. */
export class GuardedFetch {
  readonly #opts: GuardedFetchOptions;
  #orchestrator: Promise<Orchestrator> | undefined;
  #closed = false;

  constructor(opts: GuardedFetchOptions) {
    this.#opts = opts;
  }

  /** Runs one guarded fetch as `caller.agentId`. Never throws: failures are tool results. */
  async run(caller: FetchCaller, params: unknown, signal?: AbortSignal): Promise<OpenclawToolResult> {
    const { logger } = this.#opts;
    const ids = {
      agentId: caller.agentId,
      ...(caller.sessionKey === undefined ? {} : { sessionKey: caller.sessionKey }),
      ...(caller.runId === undefined ? {} : { runId: caller.runId }),
    };
    const args = readArgs(params);
    if (typeof args === 'string') {
      logger.warn({ event: AuditEvent.PluginGuardedFetch, ...ids, ok: false, reason: 'invalid_args' }, args);
      return text({ ok: false, error: { code: 'SG_TOOL_ARGS_INVALID', message: `guarded_fetch: ${args}` } });
    }
    const host = new URL(args.url).host;
    let outcome: Outcome;
    try {
      if (this.#closed) throw new Error('the Gateway is stopping');
      const orchestrator = await this.#start();
      outcome = await orchestrator.run({
        parent: FETCH_PARENT,
        agent: caller.agentId,
        entry: FETCH_ENTRY,
        task: { url: args.url, maxBytes: args.maxBytes, timeoutMs: 30_000 },
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (err) {
      const code =
        typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'SG_INTERNAL';
      logger.warn(
        { event: AuditEvent.PluginGuardedFetch, ...ids, host, ok: false, reason: 'not_started', code },
        'guarded_fetch could not start its subagent',
      );
      return text({ ok: false, error: { code, message: `guarded_fetch: ${errorMessage(err)}` } });
    }
    const record = {
      event: AuditEvent.PluginGuardedFetch,
      ...ids,
      host,
      subagentId: outcome.id,
      status: outcome.status,
    };
    if (outcome.status === 'terminated') {
      // egress_denied: the gateway refused the destination with 403 before any connection.
      const status = outcome.reason === 'egress_denied' ? 403 : null;
      logger.warn(
        { ...record, ok: false, reason: outcome.reason, httpStatus: status },
        'guarded_fetch refused',
      );
      return text({ ok: false, refused: true, status, reason: outcome.reason, detail: outcome.detail });
    }
    if (outcome.status === 'failed') {
      logger.warn(
        { ...record, ok: false, reason: 'failed', code: outcome.error.code },
        'guarded_fetch failed',
      );
      return text({ ok: false, error: outcome.error });
    }
    const out = outcome.output as FetchOutput;
    logger.info(
      { ...record, ok: true, httpStatus: out.status, bytes: out.body.length, truncated: out.truncated },
      'guarded_fetch completed',
    );
    return text({ ok: true, status: out.status, contentType: out.contentType, ...parseBody(out) });
  }

  /** Terminates running guarded fetches and closes the gateway. */
  async close(): Promise<void> {
    this.#closed = true;
    const o = this.#orchestrator;
    this.#orchestrator = undefined;
    if (o !== undefined) await (await o.catch(() => undefined))?.close();
  }

  #start(): Promise<Orchestrator> {
    this.#orchestrator ??= createOrchestrator({
      config: fetchConfig(this.#opts.config, this.#opts.maxConcurrent ?? 4),
      logger: this.#opts.logger,
      ...(this.#opts.isolation === undefined ? {} : { isolation: this.#opts.isolation }),
    });
    // A failed start is retried by the next call, not cached.
    this.#orchestrator.catch(() => {
      this.#orchestrator = undefined;
    });
    return this.#orchestrator;
  }
}

/** JSON bodies go through sanitized_parse; anything else comes back as (capped) text. */
function parseBody(out: FetchOutput): Record<string, unknown> {
  const isJson = out.contentType !== null && /\bjson\b/i.test(out.contentType);
  if (isJson && !out.truncated) {
    try {
      return { json: sanitizedParse(out.body) };
    } catch (err) {
      return { text: out.body, parseError: errorMessage(err) };
    }
  }
  return { text: out.body, truncated: out.truncated };
}

/**
 * Public types of the spawner: what `createOrchestrator` accepts and what a spawn yields.
 * These names and shapes are part of the public contract.
 */
import type { Logger } from 'pino';
import type { GuardConfig } from '../config/types.js';
import type { EgressGateway, Resolver } from '../gateway/types.js';
import type { ToolDefinition } from '../tools/types.js';

export type { Resolver } from '../gateway/types.js';
export type { ToolDefinition, ToolContext } from '../tools/types.js';

import type { IsolationLevel, IsolationRequest } from '../sandbox/types.js';

/** Isolation levels, strongest first. `namespace` = `unshare -Urn` (a network namespace only). */
export type { IsolationLevel, IsolationRequest } from '../sandbox/types.js';

import type { Outcome } from '../ipc/outcome.js';
import type { PoolStats } from './warm-pool.js';

export type { PoolStats } from './warm-pool.js';

export { TERMINATION_REASONS, VIOLATION_REASONS, isViolation } from '../ipc/outcome.js';
export type { Outcome, OutcomeCommon, TerminationReason, Usage, ViolationReason } from '../ipc/outcome.js';

/** A spawn request. `parent` is the spawning agent's name (a `role: 'parent'` agent for user code). */
export interface SpawnRequest {
  readonly parent: string;
  readonly agent: string;
  /** JSON-serialisable task handed to the subagent's function. */
  readonly task: unknown;
  /** Overrides the agent's `entry` (absolute, or relative to the config's directory). */
  readonly entry?: string;
  /** Aborting it terminates the subagent with `cancelled`. */
  readonly signal?: AbortSignal;
}

/** A running (or queued) subagent. */
export interface SubagentHandle {
  readonly id: string;
  readonly agent: string;
  /** Resolves once, after teardown (credential revoked, sandbox gone, scratch deleted). Never rejects. */
  readonly result: Promise<Outcome>;
  /** Terminates it with `cancelled` (no-op once it has ended) and resolves with its outcome. */
  terminate(detail?: string): Promise<Outcome>;
}

/** One live subagent as reported by `active()`. */
export interface SubagentInfo {
  readonly id: string;
  readonly agent: string;
  /** The spawning agent's name. */
  readonly parent: string;
  /** 1 for children of the root parent, 2 for theirs, ... */
  readonly depth: number;
  readonly state: 'queued' | 'running';
  /** ISO time the spawn was accepted. */
  readonly startedAt: string;
}

/** Options of `createOrchestrator`. */
export interface OrchestratorOptions {
  readonly config: GuardConfig;
  /** Tool handlers by name; built-ins: `web_fetch`, `sanitized_parse` (a user tool of the same name replaces it). */
  readonly tools?: Readonly<Record<string, ToolDefinition>>;
  /** Audit sink. @default a logger built from `config.audit` */
  readonly logger?: Logger;
  /** DNS for the gateway. @default system lookup (all addresses) */
  readonly resolver?: Resolver;
  /** @default 'auto' (the strongest level available but `gvisor`, which `'auto+gvisor'` opts into) */
  readonly isolation?: IsolationRequest;
  /** Spawns waiting for a concurrency slot across the orchestrator; beyond: `queue_full`. @default 1000 */
  readonly maxQueued?: number;
  /**
   * Uid/gid of `process`-level children when the orchestrator runs as root (ignored otherwise):
   * never 0, so a child can neither signal the orchestrator nor read root's files. The entries,
   * the runtime and node must be readable to it. @default { uid: 65534, gid: 65534 }
   */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /**
   * When the level is weaker than a sandbox (`process`), also emit a process warning with code
   * `SG_ISOLATION_WEAKER` (printed on stderr by Node unless warnings are off). `false` keeps only
   * the audit record. @default true
   */
  readonly warnWeakerIsolation?: boolean;
}

/** The parent-side spawner a main orchestrator uses. */
export interface Orchestrator {
  /** Decides synchronously; throws SpawnDeniedError (SG_SPAWN_DENIED) or SpawnerError (SG_ORCHESTRATOR_CLOSED). */
  spawn(req: SpawnRequest): SubagentHandle;
  /** `spawn(req).result`; a refused spawn rejects. */
  run(req: SpawnRequest): Promise<Outcome>;
  /** Queued and running subagents. */
  active(): SubagentInfo[];
  readonly gateway: EgressGateway;
  /** The isolation level every spawn of this orchestrator uses. */
  readonly isolation: IsolationLevel;
  /** The warm pools (agents with `pool.warm > 0`): size, idle, starting, claims, misses, errors. */
  poolStats(): PoolStats[];
  /**
   * Terminates everything (`shutdown`), discards the warm pools, closes the gateway, flushes the
   * audit log it created. Idempotent.
   */
  close(): Promise<void>;
}

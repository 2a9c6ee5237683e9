/**
 * Spawn policy inside an OpenClaw Gateway: every `sessions_spawn` call is checked against the
 * requester's `allowAgents`, depth, children, concurrency and rate with the spawner's own
 * check-and-reserve ({@link SpawnQuotas.reserve}: one synchronous step, so 100 simultaneous calls
 * never exceed a cap). OpenClaw reports the child in `subagent_spawned` and its end in
 * `subagent_ended`; the reservation is released on that end, when the spawn call failed, after a
 * timeout if no end ever arrives, or when the Gateway stops.
 *
 * Instances are OpenClaw sessions: a session key is a spawning instance, its depth the number of
 * `subagent:` segments in it (OpenClaw's own rule). A child this guard saw being spawned inherits
 * its parent's ancestor chain, so an intermediate agent's `maxSpawnDepth` cannot be bypassed by a
 * descendant; a session spawned before the plugin started is judged, conservatively, as if its own
 * agent's limit counted from the root.
 */
import type { GuardConfig } from '../config/types.js';
import { SpawnDeniedError, type SpawnDeniedReason } from '../errors.js';
import {
  ParentInstance,
  SPAWN_RATE_WINDOW_MS,
  SpawnQuotas,
  ownAgent,
  type SpawnReservation,
} from '../spawner/quotas.js';

/** Why a spawn was allowed or refused (the `reason` of `plugin.spawn_decision`). */
export const PLUGIN_SPAWN_REASONS = [
  'allowed',
  'unknown_agent',
  'agent_not_allowed',
  'depth_exceeded',
  'children_exceeded',
  'rate_exceeded',
  'queue_full',
  'concurrency_exceeded',
  'malformed_event',
] as const satisfies readonly ('allowed' | SpawnDeniedReason | 'concurrency_exceeded' | 'malformed_event')[];
/** Why a spawn was allowed or refused. */
export type PluginSpawnReason = (typeof PLUGIN_SPAWN_REASONS)[number];

/** One spawn decision. */
export interface PluginSpawnDecision {
  readonly allow: boolean;
  readonly reason: PluginSpawnReason;
  readonly detail: string;
  /** Depth of the child that would be (or was) created. */
  readonly depth: number;
  /** The reservation id when allowed (for correlation in the audit log). */
  readonly reservation?: number;
}

/** A held reservation and what OpenClaw told us about the child since. */
export interface HeldSpawn {
  readonly id: number;
  readonly requesterAgent: string;
  readonly requesterSession: string;
  readonly agent: string;
  readonly depth: number;
  readonly toolCallId: string | undefined;
  /** Set by `subagent_spawned`. */
  childSession: string | undefined;
  childRunId: string | undefined;
}

/** Why a reservation was released. */
export type SpawnReleaseCause = 'ended' | 'spawn_failed' | 'timeout' | 'gateway_stop';

/** Options of {@link SpawnGuard}. */
export interface SpawnGuardOptions {
  /** A reservation no `subagent_ended` released is released after this long. @default 3600000 */
  readonly releaseTimeoutMs?: number;
  /** Called once per released reservation (audit). */
  readonly onRelease?: (held: HeldSpawn, cause: SpawnReleaseCause) => void;
  /** Clock for the rate window, ms. @default Date.now */
  readonly now?: () => number;
  /**
   * Sessions tracked before idle ones are forgotten (no child running or reserved, no spawn in the
   * last minute: such a session has nothing a fresh record would not have). @default 1024
   */
  readonly pruneAt?: number;
}

interface Entry {
  readonly held: HeldSpawn;
  readonly reservation: SpawnReservation;
  readonly timer: NodeJS.Timeout;
}

/** OpenClaw's depth of a session key: the number of `subagent:` segments (getSubagentDepth). */
export function sessionDepth(sessionKey: string): number {
  return sessionKey.toLowerCase().match(/(^|:)subagent:/g)?.length ?? 0;
}

/** The spawn reservations of one Gateway: one instance per plugin registration. */
export class SpawnGuard {
  readonly #config: GuardConfig;
  readonly #quotas: SpawnQuotas;
  readonly #releaseTimeoutMs: number;
  readonly #onRelease: SpawnGuardOptions['onRelease'];
  /** Spawning instances by session key. */
  readonly #instances = new Map<string, ParentInstance>();
  /** Held reservations by id, oldest first. */
  readonly #held = new Map<number, Entry>();
  #nextId = 1;
  #closed = false;
  readonly #now: () => number;
  readonly #pruneFloor: number;
  /** The next #instances size that triggers a prune (amortised: doubles with what survives). */
  #pruneAt: number;

  constructor(config: GuardConfig, opts: SpawnGuardOptions = {}) {
    this.#config = config;
    // Nothing queues here (OpenClaw runs an accepted child at once): maxConcurrent is checked below.
    this.#quotas = new SpawnQuotas(config, {
      ...(opts.now ? { now: opts.now } : {}),
      maxQueued: Number.MAX_SAFE_INTEGER,
    });
    this.#releaseTimeoutMs = opts.releaseTimeoutMs ?? 3_600_000;
    this.#onRelease = opts.onRelease;
    this.#now = opts.now ?? Date.now;
    this.#pruneFloor = Math.max(1, opts.pruneAt ?? 1024);
    this.#pruneAt = this.#pruneFloor;
  }

  /** Sessions whose spawn state is tracked (bounded: idle ones are forgotten). */
  get trackedSessions(): number {
    return this.#instances.size;
  }

  /** Reservations currently held. */
  get held(): number {
    return this.#held.size;
  }

  /**
   * Checks a spawn of `agent` by `requesterAgent` in session `requesterSession` and reserves its
   * slot when allowed. Synchronous: concurrent calls cannot interleave between check and reserve.
   */
  decide(
    requesterAgent: string,
    requesterSession: string,
    agent: string,
    toolCallId: string | undefined,
  ): PluginSpawnDecision {
    const instance = this.#instance(requesterAgent, requesterSession);
    const depth = instance === undefined ? sessionDepth(requesterSession) + 1 : instance.depth + 1;
    if (this.#closed) {
      return { allow: false, reason: 'queue_full', detail: 'the Gateway is stopping', depth };
    }
    if (instance === undefined) {
      return {
        allow: false,
        reason: 'unknown_agent',
        detail: `requester agent '${clip(requesterAgent)}' is not defined in the config`,
        depth,
      };
    }
    let reservation: SpawnReservation;
    try {
      reservation = this.#quotas.reserve(instance, agent);
    } catch (err) {
      if (err instanceof SpawnDeniedError)
        return { allow: false, reason: err.reason, detail: err.message, depth };
      throw err;
    }
    // OpenClaw cannot queue a spawn for us: a child beyond maxConcurrent would run at once.
    const concurrency = Math.max(1, instance.policy.maxConcurrent);
    if (instance.children > concurrency) {
      reservation.release();
      instance.spawnTimes.pop();
      return {
        allow: false,
        reason: 'concurrency_exceeded',
        detail: `'${instance.agentName}' already has ${concurrency} running children (maxConcurrent ${concurrency})`,
        depth,
      };
    }
    const id = this.#nextId++;
    const held: HeldSpawn = {
      id,
      requesterAgent,
      requesterSession,
      agent,
      depth: reservation.depth,
      toolCallId,
      childSession: undefined,
      childRunId: undefined,
    };
    const timer = setTimeout(() => {
      this.#release(id, 'timeout');
    }, this.#releaseTimeoutMs);
    timer.unref();
    this.#held.set(id, { held, reservation, timer });
    return { allow: true, reason: 'allowed', detail: 'reserved', depth: reservation.depth, reservation: id };
  }

  /**
   * `subagent_spawned`: binds the oldest unbound reservation of this requester and agent to the
   * child. Returns it, or undefined when the child was not spawned through a checked call.
   */
  spawned(
    requesterSession: string | undefined,
    childSession: string,
    agent: string,
    runId: string | undefined,
  ): HeldSpawn | undefined {
    for (const { held } of this.#held.values()) {
      if (held.childSession !== undefined) continue;
      if (requesterSession !== undefined && held.requesterSession !== requesterSession) continue;
      if (held.agent.toLowerCase() !== agent.toLowerCase()) continue;
      held.childSession = childSession;
      held.childRunId = runId;
      return held;
    }
    return undefined;
  }

  /** `subagent_ended`: releases the child's reservation. Returns it, or undefined when unknown. */
  ended(childSession: string): HeldSpawn | undefined {
    for (const [id, { held }] of this.#held) {
      if (held.childSession === childSession) {
        this.#release(id, 'ended');
        this.#instances.delete(childSession);
        return held;
      }
    }
    return undefined;
  }

  /** The spawn call `toolCallId` failed before a child existed: releases its reservation. */
  failed(toolCallId: string): HeldSpawn | undefined {
    for (const [id, { held }] of this.#held) {
      if (held.toolCallId === toolCallId && held.childSession === undefined) {
        this.#release(id, 'spawn_failed');
        return held;
      }
    }
    return undefined;
  }

  /** `gateway_stop`: releases every reservation and refuses further spawns. */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#held.keys()]) this.#release(id, 'gateway_stop');
    this.#instances.clear();
  }

  #instance(requesterAgent: string, session: string): ParentInstance | undefined {
    const existing = this.#instances.get(session);
    if (existing !== undefined) return existing;
    const agent = ownAgent(this.#config, requesterAgent);
    if (agent === undefined) return undefined;
    // A child we saw spawned inherits its parent's chain.
    let parent: ParentInstance | undefined;
    for (const { held } of this.#held.values()) {
      if (held.childSession === session) {
        parent = this.#instances.get(held.requesterSession);
        break;
      }
    }
    let instance: ParentInstance;
    if (parent !== undefined) {
      instance = this.#quotas.nested(session, agent.name, parent.depth + 1, parent);
    } else {
      const depth = sessionDepth(session);
      const chain =
        depth === 0 ? [] : [{ depth: 0, maxSpawnDepth: agent.subagents.maxSpawnDepth, agent: agent.name }];
      instance = new ParentInstance(`session:${session}`, agent.name, agent.subagents, depth, chain);
    }
    if (this.#instances.size >= this.#pruneAt) this.#prune();
    this.#instances.set(session, instance);
    return instance;
  }

  /**
   * Forgets sessions whose record holds no state: no child running or reserved, and no spawn
   * inside the rate window. Recreated on their next spawn, such a record is identical (depth comes
   * from the session key or a held reservation), so no cap can be reset by forgetting it. Without
   * this, every session that ever called sessions_spawn would be kept for the Gateway's lifetime.
   */
  #prune(): void {
    const cutoff = this.#now() - SPAWN_RATE_WINDOW_MS;
    for (const [session, instance] of this.#instances) {
      const last = instance.spawnTimes.at(-1);
      if (instance.children === 0 && (last === undefined || last <= cutoff)) this.#instances.delete(session);
    }
    this.#pruneAt = Math.max(this.#pruneFloor, this.#instances.size * 2);
  }

  #release(id: number, cause: SpawnReleaseCause): void {
    const entry = this.#held.get(id);
    if (entry === undefined) return;
    this.#held.delete(id);
    clearTimeout(entry.timer);
    entry.reservation.release();
    this.#onRelease?.(entry.held, cause);
  }
}

function clip(s: string): string {
  return s.length > 128 ? `${s.slice(0, 128)}…` : s;
}

/**
 * Spawn quotas: who may spawn what, how deep, how many, how fast. Check-and-reserve is one
 * synchronous step, so concurrent `spawn()` calls (the event loop runs them one at a time) can
 * never both pass a check that only one of them fits under.
 *
 * Depth rule. The root parent (called by user code) is depth 0; its children are depth 1, theirs
 * depth 2, and so on. A spawn that creates a child at depth d is allowed iff, for EVERY ancestor
 * instance A of the new child (the root, ..., the caller), `d - A.depth <= A.maxSpawnDepth`.
 * For the root this is `d <= root.maxSpawnDepth`; for the caller it means its own
 * `maxSpawnDepth >= 1`; intermediate agents cannot be bypassed by their descendants. A nested
 * spawn must also name an agent in the CALLER's own `allowAgents`.
 */
import PQueue from 'p-queue';
import type { AgentConfig, GuardConfig, SpawnPolicy } from '../config/types.js';
import { InternalError, SpawnDeniedError } from '../errors.js';

/** The window of maxSpawnsPerMinute, ms. */
export const SPAWN_RATE_WINDOW_MS = 60_000;

/** A spawning agent instance: the root parent (by name) or a running subagent (by id). */
export class ParentInstance {
  /** `agent:<name>` for a root parent, `subagent:<id>` for a subagent. */
  readonly key: string;
  readonly agentName: string;
  readonly policy: SpawnPolicy;
  /** 0 for the root parent. */
  readonly depth: number;
  /** Depth and maxSpawnDepth of every ancestor instance including this one, root first. */
  readonly chain: readonly {
    readonly depth: number;
    readonly maxSpawnDepth: number;
    readonly agent: string;
  }[];
  /** Runs this instance's children; concurrency = maxConcurrent. */
  readonly queue: PQueue;
  /** Children running + queued. */
  children = 0;
  /** Accept times (ms) of spawns in the last minute, oldest first. */
  readonly spawnTimes: number[] = [];

  constructor(
    key: string,
    agentName: string,
    policy: SpawnPolicy,
    depth: number,
    parentChain: ParentInstance['chain'],
  ) {
    this.key = key;
    this.agentName = agentName;
    this.policy = policy;
    this.depth = depth;
    this.chain = [...parentChain, { depth, maxSpawnDepth: policy.maxSpawnDepth, agent: agentName }];
    this.queue = new PQueue({ concurrency: Math.max(1, policy.maxConcurrent) });
  }
}

/** What a successful check reserved: release it exactly once when the child has ended. */
export interface SpawnReservation {
  readonly instance: ParentInstance;
  /** Depth of the new child. */
  readonly depth: number;
  /** The child ended: frees its `maxChildren` slot. Idempotent. */
  release(): void;
}

/** Options of {@link SpawnQuotas}. */
export interface SpawnQuotasOptions {
  /** Children waiting for a slot across all instances; beyond: `queue_full`. @default 1000 */
  readonly maxQueued?: number;
  /** Clock, ms. @default Date.now */
  readonly now?: () => number;
}

/** The spawn-quota book-keeping of one orchestrator. */
export class SpawnQuotas {
  readonly #config: GuardConfig;
  readonly #roots = new Map<string, ParentInstance>();
  readonly #maxQueued: number;
  readonly #now: () => number;
  #waitingTotal = 0;

  constructor(config: GuardConfig, opts: SpawnQuotasOptions = {}) {
    this.#config = config;
    this.#maxQueued = opts.maxQueued ?? 1000;
    this.#now = opts.now ?? Date.now;
  }

  /** Spawns waiting for a concurrency slot, across all instances. */
  get waitingTotal(): number {
    return this.#waitingTotal;
  }

  /** The root instance of a parent agent called by user code. Throws `unknown_agent` for an undefined parent. */
  root(parentName: string): ParentInstance {
    const existing = this.#roots.get(parentName);
    if (existing !== undefined) return existing;
    const agent = ownAgent(this.#config, parentName);
    if (agent === undefined) {
      throw new SpawnDeniedError(
        'unknown_agent',
        `parent agent '${clip(parentName)}' is not defined in the config`,
        {
          parent: clip(parentName),
        },
      );
    }
    const instance = new ParentInstance(`agent:${parentName}`, parentName, agent.subagents, 0, []);
    this.#roots.set(parentName, instance);
    return instance;
  }

  /** The spawning instance of a running subagent (one per subagent id, dropped with it). */
  nested(subagentId: string, agentName: string, depth: number, parent: ParentInstance): ParentInstance {
    const agent = ownAgent(this.#config, agentName);
    if (agent === undefined) throw new InternalError(`agent '${clip(agentName)}' vanished from the config`);
    return new ParentInstance(`subagent:${subagentId}`, agentName, agent.subagents, depth, parent.chain);
  }

  /**
   * Checks a spawn of `agentName` by `instance` and, if allowed, reserves its slot. Synchronous:
   * the check and the reservation cannot be interleaved with another spawn.
   *
   * @throws SpawnDeniedError with the first failing reason.
   */
  reserve(instance: ParentInstance, agentName: string): SpawnReservation {
    const who = { parent: instance.agentName, agent: clip(agentName) };
    const agent = ownAgent(this.#config, agentName);
    if (agent === undefined || agent.role === 'parent') {
      throw new SpawnDeniedError(
        'unknown_agent',
        agent === undefined
          ? `agent '${who.agent}' is not defined in the config`
          : `agent '${who.agent}' has role 'parent' and cannot be spawned`,
        who,
      );
    }
    const allow = instance.policy.allowAgents;
    if (allow !== '*' && !allow.includes(agentName)) {
      throw new SpawnDeniedError(
        'agent_not_allowed',
        `agent '${who.agent}' is not in subagents.allowAgents of '${instance.agentName}'`,
        who,
      );
    }
    const depth = instance.depth + 1;
    for (const a of instance.chain) {
      if (depth - a.depth > a.maxSpawnDepth) {
        throw new SpawnDeniedError(
          'depth_exceeded',
          `spawning '${who.agent}' at depth ${depth} exceeds maxSpawnDepth ${a.maxSpawnDepth} of '${a.agent}' (depth ${a.depth})`,
          { ...who, depth },
        );
      }
    }
    if (instance.children >= instance.policy.maxChildren) {
      throw new SpawnDeniedError(
        'children_exceeded',
        `'${instance.agentName}' already has ${instance.children} running or queued children (maxChildren ${instance.policy.maxChildren})`,
        { ...who, children: instance.children },
      );
    }
    const now = this.#now();
    while (instance.spawnTimes.length > 0 && (instance.spawnTimes[0] ?? now) <= now - SPAWN_RATE_WINDOW_MS) {
      instance.spawnTimes.shift();
    }
    if (instance.spawnTimes.length >= instance.policy.maxSpawnsPerMinute) {
      throw new SpawnDeniedError(
        'rate_exceeded',
        `'${instance.agentName}' spawned ${instance.spawnTimes.length} subagents in the last minute (maxSpawnsPerMinute ${instance.policy.maxSpawnsPerMinute})`,
        who,
      );
    }
    const concurrency = Math.max(1, instance.policy.maxConcurrent);
    // children = running + waiting and slots are handed out in FIFO order, so the new child waits
    // exactly when the instance already has `concurrency` children.
    if (instance.children >= concurrency && this.#waitingTotal >= this.#maxQueued) {
      throw new SpawnDeniedError(
        'queue_full',
        `${this.#waitingTotal} spawns are already waiting for a slot (orchestrator maxQueued ${this.#maxQueued})`,
        who,
      );
    }
    this.#adjust(instance, 1);
    instance.spawnTimes.push(now);
    let held = true;
    return {
      instance,
      depth,
      release: () => {
        if (!held) return;
        held = false;
        this.#adjust(instance, -1);
      },
    };
  }

  #adjust(instance: ParentInstance, delta: 1 | -1): void {
    const concurrency = Math.max(1, instance.policy.maxConcurrent);
    const before = Math.max(0, instance.children - concurrency);
    instance.children += delta;
    this.#waitingTotal += Math.max(0, instance.children - concurrency) - before;
  }
}

/**
 * The agent called `name`, own properties only: agent names come from children (`ctx.spawn`), and
 * `constructor` or `__proto__` must read as "not defined", never as an Object.prototype member.
 */
export function ownAgent(config: Pick<GuardConfig, 'agents'>, name: string): AgentConfig | undefined {
  return Object.hasOwn(config.agents, name) ? config.agents[name] : undefined;
}

/** Names from callers and children are untrusted: bound them before they reach messages and logs. */
function clip(name: string): string {
  return name.length > 128 ? `${name.slice(0, 128)}…` : name;
}

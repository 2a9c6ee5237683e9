/**
 * Warm pools: per agent with `pool: { warm: N }`, N sandboxes started ahead of any spawn (cgroup
 * with the memory limit, namespaces, runtime up and waiting for `start`), so a spawn only sends
 * the task, mints the credential and loads the entry. Each sandbox serves ONE subagent and is
 * discarded with it; no state ever crosses subagents (the pool only moves start-up earlier).
 *
 * Quotas: an idle pooled sandbox is not a subagent, so it counts against none of the spawn quotas
 * (maxConcurrent, maxChildren, maxSpawnsPerMinute, the orchestrator's queue). A claim happens only
 * after a spawn passed every quota and got its concurrency slot, so a claimed sandbox counts
 * exactly as a cold one. What the pool itself holds is bounded by `warm` (at most 32 per agent),
 * each idle sandbox inside the agent's `max_memory_mb` cgroup; refills run one at a time per agent.
 */
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import type { AgentConfig } from '../config/types.js';
import { toError } from '../errors.js';
import type { Launcher, WarmSandbox } from '../sandbox/launcher.js';

/** One agent's pool, as `orchestrator.poolStats()` reports it. */
export interface PoolStats {
  readonly agent: string;
  /** Configured size (`pool.warm`). */
  readonly warm: number;
  /** Sandboxes ready to be claimed now. */
  readonly idle: number;
  /** Sandboxes being started (refill). */
  readonly starting: number;
  /** Spawns that got a warm sandbox. */
  readonly claimed: number;
  /** Spawns of this agent that found the pool empty (or used another entry) and started cold. */
  readonly misses: number;
  /** Failures (a start or a claim that failed), each audited as `pool.error`. */
  readonly errors: number;
  /** True once the pool stopped refilling after repeated start failures; spawns start cold. */
  readonly disabled: boolean;
}

/** Consecutive start failures after which a pool stops refilling (spawns go cold, audited). */
const MAX_CONSECUTIVE_FAILURES = 3;
/** Delay before retrying after a failed start, doubled per consecutive failure. */
const RETRY_BASE_MS = 200;

/** Where and how a pool reports. */
export interface PoolDeps {
  readonly launcher: Launcher;
  readonly logger: Logger;
  readonly gatewayAddress: () => { readonly host: string; readonly port: number };
  readonly maxOutputBytes: number;
}

class AgentPool {
  readonly #agent: AgentConfig;
  readonly #entry: string;
  readonly #size: number;
  readonly #deps: PoolDeps;
  readonly #idle: WarmSandbox[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #starting = 0;
  #claimed = 0;
  #misses = 0;
  #errors = 0;
  #failures = 0;
  #disabled = false;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(agent: AgentConfig, entry: string, size: number, deps: PoolDeps) {
    this.#agent = agent;
    this.#entry = entry;
    this.#size = size;
    this.#deps = deps;
  }

  stats(): PoolStats {
    return {
      agent: this.#agent.name,
      warm: this.#size,
      idle: this.#idle.length,
      starting: this.#starting,
      claimed: this.#claimed,
      misses: this.#misses,
      errors: this.#errors,
      disabled: this.#disabled,
    };
  }

  /** A usable warm sandbox for a spawn of `entry`, or undefined (start cold). Refills after. */
  take(entry: string): WarmSandbox | undefined {
    // A per-spawn entry other than the agent's own was not what the pool's sandboxes were started
    // with (their read grants and argv name the agent's entry): cold.
    if (entry !== this.#entry || this.#closed) {
      this.#misses += 1;
      return undefined;
    }
    let found: WarmSandbox | undefined;
    while (found === undefined && this.#idle.length > 0) {
      const w = this.#idle.shift();
      if (w === undefined) break;
      if (w.usable) found = w;
      else {
        // Died while idle (nothing of a subagent ever ran in it): say so, remove it, go on.
        this.error('idle', new Error(`warm sandbox ${w.pid} exited while idle`));
        this.#track(w.discard().catch(() => undefined));
      }
    }
    if (found === undefined) this.#misses += 1;
    else this.#claimed += 1;
    this.fill();
    return found;
  }

  /** Starts sandboxes until the pool is full; one at a time (a refill never competes with itself). */
  fill(): void {
    if (this.#closed || this.#disabled || this.#retry !== undefined) return;
    if (this.#starting > 0 || this.#idle.length >= this.#size) return;
    const launcher = this.#deps.launcher;
    if (launcher.prestart === undefined) return;
    this.#starting += 1;
    const started = launcher
      .prestart({
        entry: this.#entry,
        maxMemoryMb: this.#agent.constraints.maxMemoryMb,
        readGrants: this.#agent.readPaths ?? [],
        gatewayAddress: this.#deps.gatewayAddress(),
        maxOutputBytes: this.#deps.maxOutputBytes,
      })
      .then(
        (w) => {
          this.#starting -= 1;
          this.#failures = 0;
          if (this.#closed) {
            this.#track(w.discard().catch(() => undefined));
            return;
          }
          this.#idle.push(w);
          this.fill();
        },
        (err: unknown) => {
          this.#starting -= 1;
          this.#failures += 1;
          const disable = this.#failures >= MAX_CONSECUTIVE_FAILURES;
          if (disable) this.#disabled = true;
          this.error('prestart', err, disable);
          if (disable || this.#closed) return;
          this.#retry = setTimeout(
            () => {
              this.#retry = undefined;
              this.fill();
            },
            RETRY_BASE_MS * 2 ** (this.#failures - 1),
          ).unref();
        },
      );
    this.#track(started);
  }

  /** Records one pool failure: `pool.error`, once. */
  error(phase: 'prestart' | 'claim' | 'idle', err: unknown, disabled = false): void {
    this.#errors += 1;
    const e = toError(err);
    const code = 'code' in e && typeof e.code === 'string' ? e.code : undefined;
    this.#deps.logger.warn(
      {
        event: AuditEvent.PoolError,
        agent: this.#agent.name,
        phase,
        ...(code === undefined ? {} : { code }),
        error: { message: e.message },
        ...(disabled ? { disabled: true } : {}),
      },
      disabled
        ? `warm pool of ${this.#agent.name} disabled after ${MAX_CONSECUTIVE_FAILURES} failed starts; spawns start cold`
        : `warm pool of ${this.#agent.name}: ${phase} failed; the spawn starts cold`,
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
    const idle = this.#idle.splice(0);
    for (const w of idle) this.#track(w.discard().catch(() => undefined));
    // In-flight starts discard their sandbox themselves once they see the pool closed.
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  #track(p: Promise<void>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }
}

/** The warm pools of one orchestrator: one per agent with `pool.warm > 0` and an entry. */
export class WarmPools {
  readonly #pools = new Map<string, AgentPool>();

  constructor(agents: Readonly<Record<string, AgentConfig>>, deps: PoolDeps) {
    if (deps.launcher.prestart === undefined) return;
    for (const agent of Object.values(agents)) {
      const size = agent.pool?.warm ?? 0;
      if (agent.role !== 'subagent' || size <= 0 || agent.entry === undefined) continue;
      this.#pools.set(agent.name, new AgentPool(agent, agent.entry, size, deps));
    }
  }

  /** Starts filling every pool (in the background). */
  start(): void {
    for (const p of this.#pools.values()) p.fill();
  }

  /** A warm sandbox for a spawn of `agent` running `entry`, or undefined (start cold). */
  take(agent: string, entry: string): WarmSandbox | undefined {
    return this.#pools.get(agent)?.take(entry);
  }

  /** Records a failed claim (the spawn then starts cold). */
  claimFailed(agent: string, err: unknown): void {
    this.#pools.get(agent)?.error('claim', err);
  }

  stats(): PoolStats[] {
    return [...this.#pools.values()].map((p) => p.stats());
  }

  /** Stops refilling and discards every idle sandbox. Idempotent. */
  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}

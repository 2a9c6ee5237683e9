/**
 * One registered subagent: its policy, hooks, counters and every socket it has open, so that
 * `revoke` can cut all of them at once.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EgressPolicy } from '../policy/index.js';
import type { AuditSubject } from './audit.js';
import { TokenBucket } from './limits.js';
import type { Upstream } from './upstream.js';
import type { EgressDecision, EgressEvent, EgressUsage, RegisterOptions } from './types.js';

/** Mutable counters behind {@link EgressUsage}. */
export interface UsageCounters {
  requests: number;
  bytesIn: number;
  bytesOut: number;
}

const kRegs = Symbol('subagent-guard.registrations');
type Tracked = Duplex & { [kRegs]?: Set<Registration> };

/** State of one registered subagent. */
export class Registration implements AuditSubject {
  readonly id: string;
  readonly agent: string | undefined;
  readonly parent: string | undefined;
  readonly policy: EgressPolicy;
  readonly logAllTraffic: boolean;
  readonly upstream: Upstream | undefined;
  readonly usage: UsageCounters = { requests: 0, bytesIn: 0, bytesOut: 0 };
  readonly bucket: TokenBucket;
  readonly maxEgressBytes: number | undefined;
  readonly maxApiCalls: number | undefined;
  /**
   * Requests admitted against `maxApiCalls`, counted when admitted (not when connected), so
   * concurrent requests cannot all pass the check before any of them is counted.
   */
  apiCallsTaken = 0;
  /** Open tunnels and in-flight requests. */
  open = 0;
  revoked = false;
  readonly #sockets = new Set<Duplex>();
  readonly #cleanups = new Set<() => void>();
  readonly #hooks: Pick<RegisterOptions, 'onDeny' | 'onEvent' | 'onLimit' | 'countRequest'>;
  readonly #log: Logger;
  #limitFired = false;
  #bytesCapHit = false;

  constructor(init: {
    opts: RegisterOptions;
    policy: EgressPolicy;
    logAllTraffic: boolean;
    upstream: Upstream | undefined;
    maxEgressBytes: number | undefined;
    ratePerSecond: number;
    logger: Logger;
  }) {
    const o = init.opts;
    this.id = o.id;
    this.agent = o.agent;
    this.parent = o.parent;
    this.policy = init.policy;
    this.logAllTraffic = init.logAllTraffic;
    this.upstream = init.upstream;
    this.maxEgressBytes = init.maxEgressBytes;
    this.maxApiCalls = o.limits?.maxApiCalls;
    this.bucket = new TokenBucket(init.ratePerSecond, init.ratePerSecond * 2);
    this.#log = init.logger;
    this.#hooks = {
      ...(o.onDeny === undefined ? {} : { onDeny: o.onDeny }),
      ...(o.onEvent === undefined ? {} : { onEvent: o.onEvent }),
      ...(o.onLimit === undefined ? {} : { onLimit: o.onLimit }),
      ...(o.countRequest === undefined ? {} : { countRequest: o.countRequest }),
    };
  }

  /** Snapshot of the counters. */
  snapshot(): EgressUsage {
    return { ...this.usage };
  }

  /** Remembers a socket of this subagent until it closes (for revoke). */
  track(socket: Duplex): void {
    const s = socket as Tracked;
    let regs = s[kRegs];
    if (regs === undefined) {
      regs = new Set();
      s[kRegs] = regs;
      const set = regs;
      socket.once('close', () => {
        for (const r of set) r.#sockets.delete(socket);
        set.clear();
      });
    }
    if (regs.has(this)) return;
    regs.add(this);
    this.#sockets.add(socket);
  }

  /** Registers a cleanup run on revoke (agents, Unix listeners). */
  onRevoke(fn: () => void): () => void {
    this.#cleanups.add(fn);
    return () => this.#cleanups.delete(fn);
  }

  /** Destroys everything this subagent has open. */
  destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    for (const fn of this.#cleanups) {
      try {
        fn();
      } catch (err) {
        this.#log.warn({ event: 'gateway.error', subagentId: this.id, err: String(err) }, 'cleanup failed');
      }
    }
    this.#cleanups.clear();
  }

  /** Whether `n` more bytes may pass (the egress byte cap, in + out together). */
  bytesAllowed(n: number): boolean {
    if (this.maxEgressBytes === undefined) return true;
    if (this.#bytesCapHit) return false;
    const ok = this.usage.bytesIn + this.usage.bytesOut + n <= this.maxEgressBytes;
    // Once a chunk was refused the cap stays hit, even though that chunk was never counted.
    if (!ok) this.#bytesCapHit = true;
    return ok;
  }

  /** True when the egress byte cap is used up (or a chunk was already refused by it). */
  get bytesExhausted(): boolean {
    return (
      this.maxEgressBytes !== undefined &&
      (this.#bytesCapHit || this.usage.bytesIn + this.usage.bytesOut >= this.maxEgressBytes)
    );
  }

  /** Fires onLimit once per registration (the spawner terminates on the first). */
  limit(kind: 'api_calls' | 'egress_bytes', detail: string): void {
    if (this.#limitFired) return;
    this.#limitFired = true;
    this.#call('onLimit', () => this.#hooks.onLimit?.(kind, detail));
  }

  deny(d: EgressDecision): void {
    this.#call('onDeny', () => this.#hooks.onDeny?.(d));
  }

  /** Whether an onEvent hook listens (callers skip building events nobody reads). */
  get hasEventHook(): boolean {
    return this.#hooks.onEvent !== undefined;
  }

  event(e: EgressEvent): void {
    if (this.#hooks.onEvent !== undefined) this.#call('onEvent', () => this.#hooks.onEvent?.(e));
  }

  /** The shared API-call budget hook; true when absent. A throwing hook refuses (fail closed). */
  countRequest(): boolean {
    const fn = this.#hooks.countRequest;
    if (fn === undefined) return true;
    try {
      const v: unknown = fn();
      return v === true;
    } catch (err) {
      this.#log.warn(
        { event: 'gateway.error', subagentId: this.id, err: String(err) },
        'countRequest hook threw',
      );
      return false;
    }
  }

  #call(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.warn({ event: 'gateway.error', subagentId: this.id, err: String(err) }, `${name} hook threw`);
    }
  }
}

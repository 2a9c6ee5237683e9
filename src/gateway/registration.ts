/**
 * One registered subagent: its policy, hooks, counters and every socket it has open, so that
 * `revoke` can cut all of them at once.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EgressPolicy } from '../policy/index.js';
import { AuditEvent } from '../audit/events.js';
import { errorMessage } from '../errors.js';
import { AuditBudget, type AuditSubject } from './audit.js';
import { TokenBucket } from './limits.js';
import type { Upstream } from './upstream.js';
import type { EgressDecision, EgressEvent, EgressUsage, GatewayViolation, RegisterOptions } from './types.js';

/** Mutable counters behind {@link EgressUsage}. */
export interface UsageCounters {
  requests: number;
  bytesIn: number;
  bytesOut: number;
}

const kRegs = Symbol('subagent-guard.registrations');
type Tracked = Duplex & { [kRegs]?: Set<Registration> };

/**
 * Requests on a subagent's own Unix socket without its valid credential that are tolerated; one
 * more is a violation. Its runtime always sends the credential, so even one is suspicious; a few
 * leave room for a client library that probes before it authenticates.
 */
export const MAX_AUTH_FAILURES = 8;

/**
 * Target chunks per second a subagent's plain-HTTP responses may cost the parent. Ordinary
 * servers send chunks of kilobytes (at 16 KiB per chunk this is 320 MB/s); only a target that
 * splits its answer into tiny chunks is slowed down by it.
 */
export const TARGET_CHUNKS_PER_SECOND = 20_000;

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
  /**
   * Target chunks relayed per second on its plain-HTTP exchanges, all together. The parent's CPU
   * per response is per chunk (parsed, counted, gathered), not per byte: a target answering in
   * 1-byte chunks would otherwise cost the parent a callback per byte at whatever rate it sends.
   */
  readonly chunkPace = new TokenBucket(TARGET_CHUNKS_PER_SECOND, TARGET_CHUNKS_PER_SECOND);
  readonly maxEgressBytes: number | undefined;
  readonly maxApiCalls: number | undefined;
  /**
   * Length of the quota window: `maxApiCalls` and `maxEgressBytes` apply per window (a
   * long-running standalone gateway) instead of for the registration's lifetime (one subagent run).
   */
  readonly windowMs: number | undefined;
  /**
   * Requests admitted against `maxApiCalls`, counted when admitted (not when connected), so
   * concurrent requests cannot all pass the check before any of them is counted.
   */
  apiCallsTaken = 0;
  #windowStart = performance.now();
  #windowCalls = 0;
  #windowBytes = 0;
  /** Open tunnels and in-flight requests. */
  open = 0;
  revoked = false;
  readonly auditBudget: AuditBudget;
  /** Most client connections open at once (its Unix socket and TCP connections proven as it). */
  readonly maxClients: number;
  /** Requests without its valid credential seen on its own Unix socket. */
  authFailures = 0;
  readonly #sockets = new Set<Duplex>();
  readonly #clients = new WeakSet<Duplex>();
  #clientCount = 0;
  readonly #cleanups = new Set<() => void>();
  readonly #hooks: Pick<RegisterOptions, 'onDeny' | 'onEvent' | 'onLimit' | 'onViolation' | 'countRequest'>;
  readonly #log: Logger;
  #limitFired = false;
  #violationFired = false;
  #bytesCapHit = false;

  constructor(init: {
    opts: RegisterOptions;
    policy: EgressPolicy;
    logAllTraffic: boolean;
    upstream: Upstream | undefined;
    maxEgressBytes: number | undefined;
    ratePerSecond: number;
    logger: Logger;
    maxClients?: number;
    maxAuditRecords?: number;
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
    this.windowMs = o.limits?.windowMs;
    this.bucket = new TokenBucket(init.ratePerSecond, init.ratePerSecond * 2);
    this.#log = init.logger;
    this.maxClients = init.maxClients ?? Number.MAX_SAFE_INTEGER;
    this.auditBudget = new AuditBudget(init.maxAuditRecords ?? Number.MAX_SAFE_INTEGER);
    this.#hooks = {
      ...(o.onDeny === undefined ? {} : { onDeny: o.onDeny }),
      ...(o.onEvent === undefined ? {} : { onEvent: o.onEvent }),
      ...(o.onLimit === undefined ? {} : { onLimit: o.onLimit }),
      ...(o.onViolation === undefined ? {} : { onViolation: o.onViolation }),
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

  /** Client connections of this subagent open now. */
  get clients(): number {
    return this.#clientCount;
  }

  /**
   * Counts a client connection of this subagent (once per socket) until it closes. False when it
   * would cross {@link maxClients}: the caller closes it and reports the violation.
   */
  adoptClient(socket: Duplex): boolean {
    if (this.#clients.has(socket)) return true;
    if (this.#clientCount >= this.maxClients) return false;
    this.#clients.add(socket);
    this.#clientCount++;
    socket.once('close', () => {
      this.#clientCount--;
    });
    this.track(socket);
    return true;
  }

  /** Reports a misuse of the gateway once per registration (the spawner terminates on the first). */
  violation(kind: GatewayViolation, detail: string): void {
    if (this.#violationFired) return;
    this.#violationFired = true;
    const hook = this.#hooks.onViolation;
    // With a hook, its owner records the violation (a spawner's `subagent.violation`); without
    // one (a standalone gateway) nobody else would.
    if (hook === undefined) {
      this.#log.warn(
        { event: AuditEvent.GatewayViolation, subagentId: this.id, agent: this.agent, kind, detail },
        `subagent misused its gateway: ${kind}`,
      );
    } else {
      this.#call('onViolation', () => {
        hook(kind, detail);
      });
    }
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
        this.#log.warn(
          { event: AuditEvent.GatewayError, subagentId: this.id, err: errorMessage(err) },
          'cleanup failed',
        );
      }
    }
    this.#cleanups.clear();
  }

  /** Starts a new quota window when the current one is over (no-op without a window). */
  #roll(): void {
    if (this.windowMs === undefined) return;
    const now = performance.now();
    if (now - this.#windowStart < this.windowMs) return;
    this.#windowStart = now;
    this.#windowCalls = this.apiCallsTaken;
    this.#windowBytes = this.usage.bytesIn + this.usage.bytesOut;
    this.#bytesCapHit = false;
    this.#limitFired = false;
  }

  /** Bytes in + out counted against the cap: lifetime, or since the window started. */
  #bytesUsed(): number {
    return this.usage.bytesIn + this.usage.bytesOut - this.#windowBytes;
  }

  /** Whether `n` more bytes may pass (the egress byte cap, in + out together). */
  bytesAllowed(n: number): boolean {
    if (this.maxEgressBytes === undefined) return true;
    this.#roll();
    if (this.#bytesCapHit) return false;
    const ok = this.#bytesUsed() + n <= this.maxEgressBytes;
    // Once a chunk was refused the cap stays hit, even though that chunk was never counted.
    if (!ok) this.#bytesCapHit = true;
    return ok;
  }

  /** True when the egress byte cap is used up (or a chunk was already refused by it). */
  get bytesExhausted(): boolean {
    if (this.maxEgressBytes === undefined) return false;
    this.#roll();
    return this.#bytesCapHit || this.#bytesUsed() >= this.maxEgressBytes;
  }

  /**
   * True once a chunk was refused by the egress byte cap. Unlike {@link bytesExhausted} this is
   * false when the cap was reached exactly: a transfer of exactly the cap is delivered whole.
   */
  get bytesCapCrossed(): boolean {
    return this.#bytesCapHit;
  }

  /** True when `maxApiCalls` requests were admitted (in the current window, with one). */
  get apiCallsExhausted(): boolean {
    if (this.maxApiCalls === undefined) return false;
    this.#roll();
    return this.apiCallsTaken - this.#windowCalls >= this.maxApiCalls;
  }

  /** How a limit is scoped, for refusal details: `` or ` per 3600s window`. */
  get windowText(): string {
    return this.windowMs === undefined ? '' : ` per ${this.windowMs / 1000}s window`;
  }

  /** Fires onLimit once per registration, or once per window (the spawner terminates on the first). */
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
        { event: AuditEvent.GatewayError, subagentId: this.id, err: errorMessage(err) },
        'countRequest hook threw',
      );
      return false;
    }
  }

  #call(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.warn(
        { event: AuditEvent.GatewayError, subagentId: this.id, err: errorMessage(err) },
        `${name} hook threw`,
      );
    }
  }
}

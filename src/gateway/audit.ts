/**
 * Audit records of the gateway. One `egress.decision` per request (allowed or refused) and one
 * `egress.close` per finished tunnel or HTTP exchange. Only the fields below are ever logged:
 * no paths, query strings, header values, bodies or credentials.
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { AuditEvent, type AuditEventName } from '../audit/events.js';
import { toError } from '../errors.js';
import {
  channels,
  DiagnosticsChannels,
  type EgressCloseMessage,
  type EgressDecisionMessage,
} from '../observability/channels.js';
import { TokenBucket } from './limits.js';
import type { GatewayReason } from './types.js';

const egressDecisionChannel = channels[DiagnosticsChannels.EgressDecision];
const egressCloseChannel = channels[DiagnosticsChannels.EgressClose];

/**
 * How many egress records one subject may still write, and what was left out once it may not.
 * Whatever a subagent does, its gateway records stop at the cap; one `egress.suppressed` record
 * says so when the cap is reached and another sums up what was left out when it is revoked.
 */
export class AuditBudget {
  readonly cap: number;
  #left: number;
  #decisions = 0;
  #closes = 0;
  readonly #reasons = new Map<string, number>();

  constructor(cap: number) {
    this.cap = cap;
    this.#left = cap;
  }

  /** Takes one record; false (and counted) once the cap is used up. */
  take(kind: 'decision' | 'close', reason: string): boolean {
    if (this.#left > 0) {
      this.#left--;
      return true;
    }
    if (kind === 'decision') this.#decisions++;
    else this.#closes++;
    // Reasons are the gateway's own enumerated strings, never a child's.
    this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
    return false;
  }

  /** True for the first record refused (the moment the cap is reached). */
  get justReached(): boolean {
    return this.#decisions + this.#closes === 1;
  }

  /** What was left out since the last summary (and resets the counts); undefined when nothing was. */
  drain(): { decisions: number; closes: number; reasons: Record<string, number> } | undefined {
    if (this.#decisions + this.#closes === 0) return undefined;
    const out = {
      decisions: this.#decisions,
      closes: this.#closes,
      reasons: Object.fromEntries(this.#reasons),
    };
    this.#decisions = 0;
    this.#closes = 0;
    this.#reasons.clear();
    return out;
  }
}

/** Who a record is about. */
export interface AuditSubject {
  readonly id: string;
  readonly agent: string | undefined;
  readonly parent: string | undefined;
  /** Its record budget; absent = unbounded (gateway-internal subjects only). */
  readonly auditBudget?: AuditBudget;
}

/**
 * Records with no subject (requests without a valid credential on the shared TCP listener, which
 * nothing can attribute) may be written at this rate, burst 10x; the rest are summed up.
 */
const UNATTRIBUTED_PER_SECOND = 10;

/** Fields of an `egress.decision` record. */
export interface DecisionRecord {
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly address: string | undefined;
  readonly allow: boolean;
  readonly reason: GatewayReason;
  readonly status: number;
  readonly rule: string | null;
  readonly dnsMs: number | undefined;
  readonly connectMs: number | undefined;
  /** `false` on an allow that report-only mode let through; `reason` is what enforcement would say. */
  readonly enforced?: false;
}

/** Fields of an `egress.close` record. */
export interface CloseRecord {
  readonly method: string;
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly status: number;
  readonly dnsMs: number | undefined;
  readonly connectMs: number | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  /** Why it ended: `client_closed`, `target_closed`, `idle_timeout`, `revoked`, `egress_bytes_exceeded`, `error`, `complete`. */
  readonly end: string;
}

function ms(v: number | undefined): number | undefined {
  return v === undefined ? undefined : Math.round(v * 10) / 10;
}

/**
 * Writes the gateway's audit records, and watches the sink: a destination stream that fails
 * (disk full, closed pipe) would otherwise either crash the parent with an unhandled 'error' or
 * drop every later record silently. Instead the failure is reported on stderr once and the
 * gateway fails closed ({@link GatewayAudit.failed}): a decision that cannot be recorded is not made.
 */
export class GatewayAudit {
  readonly #log: Logger;
  readonly #stream: EventEmitter | undefined;
  readonly #unattributed = new TokenBucket(UNATTRIBUTED_PER_SECOND, UNATTRIBUTED_PER_SECOND * 10);
  readonly #unattributedLeftOut = new AuditBudget(0);
  #failed: Error | undefined;
  readonly #onSinkError = (err: unknown): void => {
    if (this.#failed !== undefined) return;
    this.#failed = toError(err);
    process.stderr.write(
      `subagent-guard: audit sink failed (${this.#failed.message}); the egress gateway now refuses every request\n`,
    );
  };

  constructor(logger: Logger) {
    this.#log = logger;
    const stream: unknown = Reflect.get(logger, pino.symbols.streamSym);
    this.#stream = stream instanceof EventEmitter ? stream : undefined;
    this.#stream?.on('error', this.#onSinkError);
  }

  get logger(): Logger {
    return this.#log;
  }

  /** The sink's failure, once it failed; the gateway then refuses every request. */
  get failed(): Error | undefined {
    return this.#failed;
  }

  /** Stops watching the sink (the logger may outlive the gateway). */
  dispose(): void {
    this.#stream?.off('error', this.#onSinkError);
  }

  /** Whether a record about `subject` may be written (counted and summarised when not). */
  #admit(subject: AuditSubject | null, kind: 'decision' | 'close', reason: string): boolean {
    if (subject === null) {
      if (!this.#unattributed.take()) {
        this.#unattributedLeftOut.take(kind, reason);
        return false;
      }
      // The first record let through after a flood first says how much of it was left out.
      this.#summary(null, 'rate');
      return true;
    }
    const budget = subject.auditBudget;
    if (budget === undefined || budget.take(kind, reason)) return true;
    if (budget.justReached) {
      this.#log.warn(
        {
          event: AuditEvent.EgressSuppressed,
          subagentId: subject.id,
          agent: subject.agent,
          parent: subject.parent,
          cap: budget.cap,
          final: false,
        },
        `egress audit cap of ${budget.cap} records reached; further records are counted, not written`,
      );
    }
    return false;
  }

  #summary(subject: AuditSubject | null, why: 'rate' | 'revoke' | 'close'): void {
    const left = subject === null ? this.#unattributedLeftOut.drain() : subject.auditBudget?.drain();
    if (left === undefined) return;
    this.#log.warn(
      {
        event: AuditEvent.EgressSuppressed,
        subagentId: subject?.id ?? null,
        agent: subject?.agent,
        parent: subject?.parent,
        cap: subject === null ? undefined : subject.auditBudget?.cap,
        perSecond: subject === null ? UNATTRIBUTED_PER_SECOND : undefined,
        final: why !== 'rate',
        decisions: left.decisions,
        closes: left.closes,
        reasons: left.reasons,
      },
      `${left.decisions + left.closes} egress records were not written (audit cap)`,
    );
  }

  /** Sums up what was left out of a subject's records (on revoke), or of unattributed ones (on close). */
  flushSuppressed(subject: AuditSubject | null): void {
    this.#summary(subject, subject === null ? 'close' : 'revoke');
  }

  decision(subject: AuditSubject | null, d: DecisionRecord): void {
    // Published before the audit cap: metrics count every decision, written or not.
    if (egressDecisionChannel.hasSubscribers) {
      egressDecisionChannel.publish({
        subagentId: subject?.id ?? null,
        agent: subject?.agent,
        method: d.method,
        host: d.host,
        port: d.port,
        allow: d.allow,
        reason: d.reason,
        status: d.status,
      } satisfies EgressDecisionMessage);
    }
    if (!this.#admit(subject, 'decision', d.reason)) return;
    const rec = {
      event: AuditEvent.EgressDecision,
      subagentId: subject?.id ?? null,
      agent: subject?.agent,
      parent: subject?.parent,
      method: d.method,
      host: d.host,
      port: d.port,
      address: d.address,
      decision: d.allow ? 'allow' : 'deny',
      reason: d.reason,
      status: d.status,
      rule: d.rule,
      dnsMs: ms(d.dnsMs),
      connectMs: ms(d.connectMs),
      ...(d.enforced === false ? { enforced: false } : {}),
    };
    if (d.enforced === false) this.#log.warn(rec, `egress allowed, not enforcing (would be ${d.reason})`);
    else if (d.allow) this.#log.info(rec, 'egress allowed');
    else this.#log.warn(rec, 'egress denied');
  }

  /** A connection closed at once because every listener together holds their cap. */
  connectionRefused(subject: AuditSubject | null): void {
    this.decision(subject, {
      method: '',
      host: '',
      port: 0,
      address: undefined,
      allow: false,
      reason: 'connection_limit',
      status: 0,
      rule: null,
      dnsMs: undefined,
      connectMs: undefined,
    });
  }

  close(subject: AuditSubject, c: CloseRecord): void {
    if (egressCloseChannel.hasSubscribers) {
      egressCloseChannel.publish({
        subagentId: subject.id,
        agent: subject.agent,
        method: c.method,
        host: c.host,
        port: c.port,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        durationMs: c.durationMs,
        end: c.end,
      } satisfies EgressCloseMessage);
    }
    if (!this.#admit(subject, 'close', c.end)) return;
    this.#log.info(
      {
        event: AuditEvent.EgressClose,
        subagentId: subject.id,
        agent: subject.agent,
        parent: subject.parent,
        method: c.method,
        host: c.host,
        port: c.port,
        address: c.address,
        status: c.status,
        dnsMs: ms(c.dnsMs),
        connectMs: ms(c.connectMs),
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        durationMs: ms(c.durationMs),
        end: c.end,
      },
      'egress closed',
    );
  }

  event(
    name: AuditEventName,
    fields: Record<string, unknown>,
    msg: string,
    level: 'info' | 'warn' = 'info',
  ): void {
    this.#log[level]({ event: name, ...fields }, msg);
  }
}

/**
 * Audit records of the gateway. One `egress.decision` per request (allowed or refused) and one
 * `egress.close` per finished tunnel or HTTP exchange. Only the fields below are ever logged:
 * no paths, query strings, header values, bodies or credentials.
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import type { GatewayReason } from './types.js';

/** Who a record is about. */
export interface AuditSubject {
  readonly id: string;
  readonly agent: string | undefined;
  readonly parent: string | undefined;
}

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
  #failed: Error | undefined;
  readonly #onSinkError = (err: unknown): void => {
    if (this.#failed !== undefined) return;
    this.#failed = err instanceof Error ? err : new Error(String(err));
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

  decision(subject: AuditSubject | null, d: DecisionRecord): void {
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
    };
    if (d.allow) this.#log.info(rec, 'egress allowed');
    else this.#log.warn(rec, 'egress denied');
  }

  close(subject: AuditSubject, c: CloseRecord): void {
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

  event(name: string, fields: Record<string, unknown>, msg: string, level: 'info' | 'warn' = 'info'): void {
    this.#log[level]({ event: name, ...fields }, msg);
  }
}

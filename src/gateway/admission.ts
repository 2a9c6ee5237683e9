/**
 * The decision pipeline shared by plain HTTP, CONNECT and WebSocket requests:
 * auth -> connection and rate caps -> parse -> one Host, matching the target -> plain chunked
 * Transfer-Encoding only -> scheme/port -> host allowlist (before any DNS) -> byte and api-call
 * limits -> tunnel slot -> resolve once -> deny if any answer is prohibited. Only an
 * {@link Admission} can be dialled, and it carries the exact addresses that were checked.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CredentialStore } from './auth.js';
import type { GatewayAudit } from './audit.js';
import { requestHeaderCounts } from './headers.js';
import type { Slots } from './limits.js';
import { MAX_AUTH_FAILURES, type Registration } from './registration.js';
import { resolveOnce } from './resolve.js';
import { answerFor, isClientAttributable } from './reasons.js';
import { hostHeaderMatches, parseAbsoluteTarget, parseConnectTarget, type Target } from './target.js';
import type { EgressDecisionReason } from '../policy/types.js';
import type { GatewayReason, Resolver } from './types.js';

/** Settings the pipeline and handlers read on every request. */
export interface CoreSettings {
  readonly resolver: Resolver;
  readonly dnsTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxTunnelsPerSubagent: number;
  /** Total time of one forwarded plain-HTTP exchange. */
  readonly exchangeTimeoutMs: number;
}

/** The kind of request being admitted. */
export type RequestKind = 'http' | 'connect' | 'upgrade';

/** A request that passed every check; holds one tunnel slot until `release()`. */
export interface Admission {
  readonly reg: Registration;
  readonly target: Target;
  readonly method: string;
  /** Every resolved address, all checked; dial only these. */
  readonly addresses: readonly string[];
  readonly dnsMs: number | undefined;
  readonly started: number;
  /**
   * Set when report-only mode let this request through although the allowlist refuses it: the
   * reason (and rule) enforcement would have given. Its allow record always carries them, with
   * `enforced: false`, whatever `log_all_traffic` says: that record is the point of report mode.
   */
  readonly reported?: { readonly reason: EgressDecisionReason; readonly rule: string | null };
  release(): void;
}

/** A refused request: already audited (and reported to onDeny); the caller only answers it. */
export interface Refusal {
  readonly reason: Exclude<GatewayReason, 'allowed'>;
  readonly status: number;
}

/** What the pipeline reads of a request (node's IncomingMessage provides it). */
export type AdmitRequest = Pick<IncomingMessage, 'method' | 'url' | 'httpVersion' | 'headers' | 'rawHeaders'>;

/**
 * What the listener restricts (a per-subagent Unix listener accepts one id only). `owner` is the
 * registration a per-subagent listener belongs to: whatever arrives there is that subagent's
 * doing, with or without a credential, and is attributed, rate-limited and counted as its own.
 */
export interface ListenerScope {
  readonly onlyId: string | undefined;
  readonly owner?: Registration | undefined;
}

/** Shared state and the decision pipeline. */
export class GatewayCore {
  readonly settings: CoreSettings;
  readonly store: CredentialStore<Registration>;
  readonly audit: GatewayAudit;
  readonly slots: Slots;

  constructor(
    settings: CoreSettings,
    store: CredentialStore<Registration>,
    audit: GatewayAudit,
    slots: Slots,
  ) {
    this.settings = settings;
    this.store = store;
    this.audit = audit;
    this.slots = slots;
  }

  /** Runs the pipeline for one request. */
  async admit(
    req: AdmitRequest,
    kind: RequestKind,
    scope: ListenerScope,
    socket: Duplex,
  ): Promise<Admission | Refusal> {
    const method = kind === 'connect' ? 'CONNECT' : (req.method ?? 'GET');
    // Fail closed: with a dead audit sink no decision could be recorded.
    if (this.audit.failed !== undefined)
      return this.refuse(null, { method, host: '', port: 0, reason: 'internal_error', rule: null });
    // One pass over the raw headers for both counts the pipeline needs.
    const counts = requestHeaderCounts(req.rawHeaders);
    const auth = this.store.verify(req.headers['proxy-authorization'], counts.proxyAuthorization, socket);
    if (!auth.ok || (scope.onlyId !== undefined && auth.value.id !== scope.onlyId) || auth.value.revoked) {
      const reason = auth.ok ? 'auth_invalid' : auth.reason;
      const owner = scope.owner;
      if (owner === undefined || owner.revoked)
        return this.refuse(null, { method, host: '', port: 0, reason, rule: null });
      // Its own socket: the subagent sent this, credential or not. Its runtime always sends the
      // credential, so a run of these is a client flooding the gateway, not a mistake.
      owner.authFailures++;
      if (owner.authFailures > MAX_AUTH_FAILURES) {
        owner.violation(
          'auth_failures',
          `${owner.authFailures} requests without its valid credential on its own gateway socket`,
        );
      }
      const limited = !owner.bucket.take();
      return this.refuse(owner, {
        method,
        host: '',
        port: 0,
        reason: limited ? 'rate_limited' : reason,
        rule: null,
      });
    }
    const reg = auth.value;
    if (!reg.adoptClient(socket)) {
      reg.violation('connection_limit', `more than ${reg.maxClients} open connections to the egress gateway`);
      return this.refuse(reg, { method, host: '', port: 0, reason: 'connection_limit', rule: null });
    }
    if (!reg.bucket.take())
      return this.refuse(reg, { method, host: '', port: 0, reason: 'rate_limited', rule: null });

    const parsed =
      kind === 'connect' ? parseConnectTarget(req.url ?? '') : parseAbsoluteTarget(req.url ?? '');
    if (!parsed.ok) {
      return this.refuse(reg, {
        method,
        host: parsed.hostText,
        port: parsed.port,
        reason: parsed.reason,
        rule: null,
      });
    }
    const target = parsed.target;
    const where = { method, host: target.hostText, port: target.port };
    if (counts.host > 1) return this.refuse(reg, { ...where, reason: 'bad_request', rule: null });
    if (!hostHeaderMatches(req.headers.host, target, kind === 'connect' ? target.port : 80)) {
      return this.refuse(reg, { ...where, reason: 'host_mismatch', rule: null });
    }
    if (kind !== 'connect') {
      const te = req.headers['transfer-encoding'];
      // Only plain `chunked` has one meaning for every parser; anything else invites smuggling.
      if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
        return this.refuse(reg, { ...where, reason: 'bad_request', rule: null });
      }
    }

    const d = reg.policy.checkTarget({ scheme: target.scheme, host: target.host, port: target.port });
    if (!d.allow) {
      return this.refuse(reg, {
        ...where,
        reason: d.reason === 'allowed' ? 'internal_error' : d.reason,
        rule: d.rule,
      });
    }

    if (reg.bytesExhausted) {
      reg.limit('egress_bytes', `egress byte cap of ${reg.maxEgressBytes ?? 0}${reg.windowText} reached`);
      return this.refuse(reg, { ...where, reason: 'egress_bytes_exceeded', rule: null });
    }
    if (reg.apiCallsExhausted) {
      reg.limit('api_calls', `egress request beyond max_api_calls=${reg.maxApiCalls ?? 0}${reg.windowText}`);
      return this.refuse(reg, { ...where, reason: 'api_calls_exceeded', rule: null });
    }
    // The slot first: a request refused for the tunnel cap must not spend the caller's budget.
    if (reg.open >= this.settings.maxTunnelsPerSubagent || !this.slots.tryAcquire()) {
      return this.refuse(reg, { ...where, reason: 'tunnel_limit', rule: null });
    }
    // A prepaid request (a brokered tool call's own fetch) was charged when the call was made.
    if (!auth.prepaid && !reg.countRequest()) {
      this.slots.release();
      return this.refuse(reg, { ...where, reason: 'api_calls_exceeded', rule: null });
    }
    reg.apiCallsTaken++;
    reg.open++;
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      reg.open--;
      this.slots.release();
    };

    // Names reach the resolver only after the allowlist said yes: a denied name is never looked up.
    let addresses: readonly string[];
    let dnsMs: number | undefined;
    if (target.host.kind === 'domain') {
      const r = await resolveOnce(this.settings.resolver, target.host.name, this.settings.dnsTimeoutMs);
      dnsMs = r.ms;
      if (!r.ok) {
        release();
        return this.refuse(reg, { ...where, reason: r.reason, rule: null, dnsMs });
      }
      addresses = r.addresses;
    } else {
      addresses = [target.host.address];
    }
    if (reg.revoked) {
      // Revoked while its name was being resolved: refused (and audited) like any dead credential.
      release();
      return this.refuse(reg, { ...where, reason: 'auth_invalid', rule: null, dnsMs });
    }
    // One prohibited answer denies the request: an attacker controlling DNS could otherwise mix a
    // public address with an internal one and win whenever the internal one is dialled.
    const ad = reg.policy.checkAddresses(addresses);
    if (!ad.allow) {
      release();
      return this.refuse(reg, {
        ...where,
        address: ad.address,
        reason: ad.reason === 'allowed' ? 'internal_error' : ad.reason,
        rule: ad.rule,
        dnsMs,
      });
    }
    const reported = d.enforced === false ? { reported: { reason: d.reason, rule: d.rule } } : {};
    return { reg, target, method, addresses, dnsMs, started: performance.now(), release, ...reported };
  }

  /** Audits a refusal, reports it to onDeny when the subagent caused it, and returns how to answer. */
  refuse(
    reg: Registration | null,
    r: {
      method: string;
      host: string;
      port: number;
      reason: Exclude<GatewayReason, 'allowed'>;
      rule: string | null;
      address?: string | undefined;
      dnsMs?: number | undefined;
      connectMs?: number | undefined;
    },
  ): Refusal {
    const { status } = answerFor(r.reason);
    this.audit.decision(reg, {
      method: r.method,
      host: r.host,
      port: r.port,
      address: r.address,
      allow: false,
      reason: r.reason,
      status,
      rule: r.rule,
      dnsMs: r.dnsMs,
      connectMs: r.connectMs,
    });
    if (reg !== null && isClientAttributable(r.reason)) {
      reg.deny({
        id: reg.id,
        ...(reg.agent === undefined ? {} : { agent: reg.agent }),
        method: r.method,
        host: r.host,
        port: r.port,
        ...(r.address === undefined ? {} : { address: r.address }),
        allow: false,
        reason: r.reason,
        status,
        rule: r.rule,
      });
    }
    return { reason: r.reason, status };
  }

  /** Audits an allowed request once its connection exists, and counts it. */
  allow(a: Admission, address: string, status: number, connectMs: number | undefined): void {
    const reg = a.reg;
    reg.usage.requests++;
    if (a.reported !== undefined) {
      this.audit.decision(reg, {
        method: a.method,
        host: a.target.hostText,
        port: a.target.port,
        address,
        allow: true,
        reason: a.reported.reason,
        status,
        rule: a.reported.rule,
        dnsMs: a.dnsMs,
        connectMs,
        enforced: false,
      });
    } else if (reg.logAllTraffic) {
      this.audit.decision(reg, {
        method: a.method,
        host: a.target.hostText,
        port: a.target.port,
        address,
        allow: true,
        reason: 'allowed',
        status,
        rule: null,
        dnsMs: a.dnsMs,
        connectMs,
      });
    }
    // Built only for a listener: this runs on every request.
    if (reg.hasEventHook)
      reg.event({
        kind: 'request',
        id: reg.id,
        method: a.method,
        host: a.target.hostText,
        port: a.target.port,
        address,
        bytesIn: 0,
        bytesOut: 0,
      });
  }

  /** Audits the end of a tunnel or exchange and reports its bytes. */
  closed(
    a: Admission,
    c: {
      address: string;
      status: number;
      connectMs: number | undefined;
      bytesIn: number;
      bytesOut: number;
      end: string;
    },
  ): void {
    const reg = a.reg;
    this.audit.close(reg, {
      method: a.method,
      host: a.target.hostText,
      port: a.target.port,
      address: c.address,
      status: c.status,
      dnsMs: a.dnsMs,
      connectMs: c.connectMs,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      durationMs: performance.now() - a.started,
      end: c.end,
    });
    if (reg.hasEventHook)
      reg.event({
        kind: 'close',
        id: reg.id,
        method: a.method,
        host: a.target.hostText,
        port: a.target.port,
        address: c.address,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
      });
  }
}

/** True for a refusal (as opposed to an admission). */
export function isRefusal(r: Admission | Refusal): r is Refusal {
  return 'status' in r && !('reg' in r);
}

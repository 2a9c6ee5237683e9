/**
 * Public types of the egress gateway: options, registrations, decisions and events.
 */
import type { Logger } from 'pino';
import type { NetworkPolicy, UpstreamProxy } from '../config/types.js';
import type { EgressDecisionReason } from '../policy/types.js';

/**
 * DNS resolution used by the gateway: every address a name resolves to. The gateway checks all of
 * them and dials only a checked one; it never resolves the same request twice.
 */
export type Resolver = (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;

/**
 * Why the gateway answered the way it did. The policy reasons come from the policy engine; the
 * others are the gateway's own (authentication, parsing, DNS, dialling, limits).
 */
export type GatewayReason =
  | EgressDecisionReason
  | 'auth_required'
  | 'auth_invalid'
  | 'bad_request'
  | 'host_mismatch'
  | 'dns_error'
  | 'dns_timeout'
  | 'connect_refused'
  | 'connect_failed'
  | 'connect_timeout'
  | 'upstream_refused'
  | 'upstream_error'
  | 'rate_limited'
  | 'tunnel_limit'
  | 'connection_limit'
  | 'api_calls_exceeded'
  | 'egress_bytes_exceeded'
  | 'internal_error';

/**
 * What a subagent did to its gateway that no well-behaved client does, reported through
 * `onViolation`: more open connections than `maxConnectionsPerSubagent` (`connection_limit`), or
 * repeated requests without its valid credential on its own Unix socket (`auth_failures`).
 */
export type GatewayViolation = 'connection_limit' | 'auth_failures';

/** The method of an egress request as audited; `CONNECT` for tunnels. */
export type EgressMethod = string;

/**
 * One egress decision: what `onDeny` receives and what the `egress.decision` audit event records.
 * Never contains a credential, a path, a query string, a header value or a body.
 */
export interface EgressDecision {
  /** The subagent id, or null when the request carried no valid credential. */
  readonly id: string | null;
  readonly agent?: string;
  readonly method: EgressMethod;
  /** Canonical host (or a truncated, sanitised copy of an unparseable one). */
  readonly host: string;
  /** Target port, 0 when it could not be parsed. */
  readonly port: number;
  /** The resolved address that was checked (and, when allowed, dialled). */
  readonly address?: string;
  readonly allow: boolean;
  readonly reason: GatewayReason;
  /** HTTP status the client received for this request. */
  readonly status: number;
  /** The policy rule that decided, when there is one. */
  readonly rule: string | null;
}

/**
 * Usage accounting event, fired for every allowed request (`kind: 'request'`, byte counts 0) and
 * when its connection or exchange ends (`kind: 'close'`, with its byte counts).
 * `bytesIn` = target to client, `bytesOut` = client to target.
 */
export interface EgressEvent {
  readonly kind: 'request' | 'close';
  readonly id: string;
  readonly method: EgressMethod;
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Per-subagent counters. */
export interface EgressUsage {
  /** Egress requests allowed (HTTP exchanges, tunnels, WebSocket upgrades). */
  readonly requests: number;
  /** Bytes from targets to the subagent. */
  readonly bytesIn: number;
  /** Bytes from the subagent to targets. */
  readonly bytesOut: number;
}

/**
 * The `network` section of an agent, as written in openclaw.json (snake_case keys) or as the
 * normalised {@link NetworkPolicy} of a loaded config. Validated by `register()` either way.
 */
export type NetworkSection = Readonly<Record<string, unknown>> | NetworkPolicy;

/** An upstream proxy URL (`http://user:pass@host:port`) or the normalised config object. */
export type UpstreamSpec = string | UpstreamProxy;

/** Options of {@link createEgressGateway}. */
export interface EgressGatewayOptions {
  /** Listen host. A non-loopback host needs `allowNonLoopback`. @default '127.0.0.1' */
  host?: string;
  /** Listen port; 0 picks a free one. @default 0 */
  port?: number;
  /** DNS resolver. @default system lookup of all addresses */
  resolver?: Resolver;
  /** Audit sink. @default an audit logger writing to stderr */
  logger?: Logger;
  /** Upstream proxy for every registration that has none of its own. Its credentials never reach a subagent. */
  upstream?: UpstreamSpec;
  /** @default 10000 */
  connectTimeoutMs?: number;
  /** @default 5000 */
  dnsTimeoutMs?: number;
  /** Open tunnels and in-flight requests across all subagents. @default 1024 */
  maxTunnels?: number;
  /** Open tunnels and in-flight requests per subagent. @default 64 */
  maxTunnelsPerSubagent?: number;
  /** Idle timeout of client connections and tunnels. @default 60000 */
  idleTimeoutMs?: number;
  /** Requests per second per credential (token bucket, burst = 2x). @default 100 */
  maxRequestsPerSecond?: number;
  /** Maximum size of a request's header section. @default 16384 */
  maxHeaderSize?: number;
  /** Time allowed to receive a request's header section. @default 10000 */
  headersTimeoutMs?: number;
  /** Allow a non-loopback listen host (logged loudly). @default false */
  allowNonLoopback?: boolean;
  /**
   * Open client connections per subagent: every connection to its own Unix socket, and every TCP
   * connection that authenticated as it. Idle ones count too. Crossing it refuses the connection
   * and reports a `connection_limit` violation. @default 128
   */
  maxConnectionsPerSubagent?: number;
  /** Open client connections across all listeners; further ones are closed at once. @default 4096 */
  maxConnections?: number;
  /**
   * `egress.decision` and `egress.close` records per subagent; further ones are counted, not
   * written, and summarised in `egress.suppressed` records. @default 10000
   */
  maxAuditRecordsPerSubagent?: number;
  /**
   * Total time a forwarded plain-HTTP exchange may take, response head and body together; the
   * exchange is cut (502/504 `upstream_error` or a cut body) when it runs out. @default 300000
   */
  exchangeTimeoutMs?: number;
}

/** Options of `EgressGateway.register()`. */
export interface RegisterOptions {
  /** Subagent id; also the proxy username. 1-128 of `A-Z a-z 0-9 . _ ~ -`. */
  id: string;
  /** The agent's network section (same keys as in openclaw.json). */
  network: NetworkSection;
  /** Upstream proxy for this subagent (overrides the gateway's). */
  upstream?: UpstreamSpec;
  /** Agent name, for the audit log. */
  agent?: string;
  /** Parent agent name, for the audit log. */
  parent?: string;
  /**
   * Limits the gateway enforces itself. `maxEgressBytes` defaults to the network section's
   * `max_egress_bytes` (`null` = no byte cap); `maxApiCalls` is off unless given. Without
   * `windowMs` both count over the registration's lifetime (one subagent run); with it they reset
   * every `windowMs` milliseconds (a long-running standalone gateway such as `gateway serve`).
   */
  limits?: { maxApiCalls?: number; maxEgressBytes?: number | null; windowMs?: number };
  /**
   * Called (synchronously, before the answer is sent) for every refusal the subagent caused: the
   * policy denials (400, 403, 421) and the budget refusals (429 `api_calls_exceeded`,
   * `egress_bytes_exceeded`). `violationForEgress(d.reason)` says what to end it with; the table
   * is `REFUSALS` in gateway/reasons.ts (docs/gateway.md).
   */
  onDeny?: (d: EgressDecision) => void;
  /** Called for every allowed request and for every close, for usage accounting. */
  onEvent?: (e: EgressEvent) => void;
  /** Called once when a limit of `limits` is crossed; the request is refused with 429 before it has effect. */
  onLimit?: (kind: 'api_calls' | 'egress_bytes', detail: string) => void;
  /**
   * Called once when the subagent misuses the gateway itself (see {@link GatewayViolation}); the
   * offending connection is already closed. A spawner terminates the subagent.
   */
  onViolation?: (kind: GatewayViolation, detail: string) => void;
  /** Called once per egress request before DNS and dialling; returning false refuses it with 429. */
  countRequest?: () => boolean;
  /**
   * A static password instead of a minted one (standalone deployments whose clients are
   * configured ahead of time). 22-256 characters of `A-Z a-z 0-9 _ -` (at least 128 bits).
   */
  password?: string;
  /**
   * Also mint a second, prepaid credential (`prepaidProxyUrl`) for requests the caller makes on
   * the subagent's behalf and has already charged to its budget (a brokered `web_fetch` call):
   * same policy, limits, usage figures, audit and revocation, but `countRequest` is not consulted
   * for its requests. It stays in the caller's process; never hand it to the subagent.
   * @default false
   */
  prepaidCredential?: boolean;
}

/** What `register()` returns. The password is the only copy; the gateway keeps a digest. */
export interface ProxyCredential {
  readonly username: string;
  readonly password: string;
  /** `http://username:password@127.0.0.1:PORT` */
  readonly proxyUrl: string;
  /** With `prepaidCredential: true`: the URL of the prepaid credential (username `<id>+prepaid`). */
  readonly prepaidProxyUrl?: string;
}

/** The egress gateway: a per-subagent authenticated filtering forward proxy. */
export interface EgressGateway {
  /** `http://HOST:PORT` of the TCP listener. */
  readonly url: string;
  readonly address: { readonly host: string; readonly port: number };
  /** Registers a subagent and mints its credential. Throws GatewayError on invalid options. */
  register(s: RegisterOptions): ProxyCredential;
  /** Invalidates the credential at once and destroys every open connection of that id. Idempotent. */
  revoke(id: string): void;
  /** Counters of an id (kept after revoke); zeros for an unknown id. */
  usage(id: string): EgressUsage;
  /** An extra listener on a Unix socket that accepts only this id's credential. */
  listenUnix(id: string, socketPath: string): Promise<void>;
  /** Stops listening, destroys every connection, removes Unix sockets. */
  close(): Promise<void>;
}

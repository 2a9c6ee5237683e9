/**
 * Audit event names and field names. Every policy decision produces exactly one event; every
 * event is a pino record with `event` set to one of these names. Bodies, credentials, cookies
 * and auth headers are never logged (see REDACT_PATHS as a second line of defence).
 */
export const AuditEvent = {
  /** Orchestrator started: isolation level chosen and what is available. */
  OrchestratorStart: 'orchestrator.start',
  OrchestratorClose: 'orchestrator.close',
  /**
   * An agent of the config runs part of its policy in report-only mode (code SG_REPORT_ONLY):
   * one warn record per such agent when the orchestrator is created, also written to stderr.
   */
  OrchestratorReportOnly: 'orchestrator.report_only',
  /** SIGUSR1 reached the orchestrator and was ignored (it would have opened Node's inspector). */
  OrchestratorSignalIgnored: 'orchestrator.signal_ignored',
  /** A spawn was accepted (agent, parent, isolation level) or refused. */
  Spawn: 'subagent.spawn',
  SpawnDenied: 'subagent.spawn_denied',
  /** A line the subagent logged through ctx.log (size-capped). */
  SubagentLog: 'subagent.log',
  /** The first bytes of a subagent's stdout/stderr (size-capped, credentials masked). */
  SubagentOutput: 'subagent.output',
  /** A tool call decision (allowed or denied) by the broker. */
  ToolDecision: 'tool.decision',
  /** A tool call finished (ok or error), with its metered cost. */
  ToolResult: 'tool.result',
  /** A violation was detected; the subagent is being terminated. */
  Violation: 'subagent.violation',
  /** The subagent exited (any status), with usage figures. */
  Exit: 'subagent.exit',
  /**
   * A warm pool failed to start a sandbox, or a pooled sandbox could not be claimed or died idle;
   * the spawn starts cold. `disabled: true` when the pool stopped refilling.
   */
  PoolError: 'pool.error',
  /** Egress gateway lifecycle. */
  GatewayListen: 'gateway.listen',
  GatewayClose: 'gateway.close',
  GatewayRegister: 'gateway.register',
  GatewayRevoke: 'gateway.revoke',
  /**
   * The gateway caught a failure of its own or of a caller's hook (a request handler that threw,
   * an onDeny/onEvent/onLimit/countRequest hook that threw, a revoke cleanup that failed); the
   * request is answered or the subagent refused, and the gateway keeps running.
   */
  GatewayError: 'gateway.error',
  /** A subagent misused the gateway itself (standalone gateways; a spawner records subagent.violation). */
  GatewayViolation: 'gateway.violation',
  /** One egress decision (auth failure, deny, or allow). */
  EgressDecision: 'egress.decision',
  /** One closed egress connection/tunnel with byte counts and timings. */
  EgressClose: 'egress.close',
  /** Egress records left out once a subagent (or the unattributed listener) reached its audit cap, with counts. */
  EgressSuppressed: 'egress.suppressed',
  /** The OpenClaw plugin was registered in a Gateway (or could not read its configuration). */
  PluginStart: 'plugin.start',
  /** One OpenClaw tool call decided by the plugin (agentId, sessionKey, runId, tool, allow, reason). */
  PluginToolDecision: 'plugin.tool_decision',
  /** One OpenClaw `sessions_spawn` call decided by the spawn quotas (reserved or refused). */
  PluginSpawnDecision: 'plugin.spawn_decision',
  /** OpenClaw reported a spawned subagent (its childSessionKey as sessionKey, runId). */
  PluginSubagentSpawned: 'plugin.subagent_spawned',
  /** OpenClaw reported a subagent's end. */
  PluginSubagentEnded: 'plugin.subagent_ended',
  /** A spawn reservation was given back (ended, spawn_failed, timeout, gateway_stop). */
  PluginSpawnReleased: 'plugin.spawn_released',
  /** One guarded_fetch call and how its subagent ended. */
  PluginGuardedFetch: 'plugin.guarded_fetch',
} as const;
export type AuditEventName = (typeof AuditEvent)[keyof typeof AuditEvent];

/** Keys that hold a secret wherever they appear at the top level or one level down. */
const SECRET_KEYS = ['password', 'credential', 'proxyUrl'] as const;

/**
 * Top-level keys whose value is an object in some record: `fields` carries what a subagent passed
 * to ctx.log (attacker-controlled), the others carry our own nested data.
 */
const NESTED_KEYS = [
  'fields',
  'err',
  'error',
  'details',
  'upstream',
  'usage',
  'config',
  'gateway',
  'network',
  'task',
  'outcome',
] as const;

/**
 * Paths pino redacts in every record. Defence in depth: the code never passes these values to
 * the logger in the first place.
 *
 * Every path is explicit. A wildcard first segment (`*.password`) makes pino run its redactor on
 * every key of every record, which cost more than the rest of writing a record together (the
 * gateway writes two per request); an explicit path costs nothing for a record that lacks its
 * first key. The nested paths cover exactly what `*.x` covered for the records we write: one
 * level below each key that can hold an object.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS,
  'upstream.url',
  'proxy.url',
  'gateway.upstream.url',
  'config.gateway.upstream.url',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'headers["set-cookie"]',
  ...NESTED_KEYS.flatMap((ns) => SECRET_KEYS.map((k) => `${ns}.${k}`)),
];

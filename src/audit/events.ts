/**
 * Audit event names and field names. Every policy decision produces exactly one event; every
 * event is a pino record with `event` set to one of these names. Bodies, credentials, cookies
 * and auth headers are never logged (see REDACT_PATHS as a second line of defence).
 */
export const AuditEvent = {
  /** Orchestrator started: isolation level chosen and what is available. */
  OrchestratorStart: 'orchestrator.start',
  OrchestratorClose: 'orchestrator.close',
  /** A spawn was accepted (agent, parent, isolation level) or refused. */
  Spawn: 'subagent.spawn',
  SpawnDenied: 'subagent.spawn_denied',
  /** A line the subagent logged through ctx.log (size-capped). */
  SubagentLog: 'subagent.log',
  /** A tool call decision (allowed or denied) by the broker. */
  ToolDecision: 'tool.decision',
  /** A tool call finished (ok or error), with its metered cost. */
  ToolResult: 'tool.result',
  /** A violation was detected; the subagent is being terminated. */
  Violation: 'subagent.violation',
  /** The subagent exited (any status), with usage figures. */
  Exit: 'subagent.exit',
  /** Egress gateway lifecycle. */
  GatewayListen: 'gateway.listen',
  GatewayClose: 'gateway.close',
  GatewayRegister: 'gateway.register',
  GatewayRevoke: 'gateway.revoke',
  /** One egress decision (auth failure, deny, or allow). */
  EgressDecision: 'egress.decision',
  /** One closed egress connection/tunnel with byte counts and timings. */
  EgressClose: 'egress.close',
} as const;
export type AuditEventName = (typeof AuditEvent)[keyof typeof AuditEvent];

/**
 * Paths pino redacts in every record. Defence in depth: the code never passes these values to
 * the logger in the first place.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  'credential',
  'proxyUrl',
  'upstream.url',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'headers["set-cookie"]',
  '*.password',
  '*.credential',
  '*.proxyUrl',
];

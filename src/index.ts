/**
 * subagent-guard: run untrusted AI-agent work in security-proxy subagents.
 *
 * Public API (the contract): configuration loading, the orchestrator that spawns isolated
 * subagents, the egress gateway, and the error classes. The child-side helper `defineSubagent`
 * lives in the `subagent-guard/runtime` subpath.
 */

// Configuration
export {
  loadConfig,
  parseConfig,
  parseNetworkSection,
  formatConfigSummary,
  redactUrl,
} from './config/index.js';
export type {
  AgentConfig,
  AuditConfig,
  Constraints,
  GatewayConfig,
  GuardConfig,
  IgnoredKey,
  NetworkPolicy,
  SpawnPolicy,
  PoolPolicy,
  ToolsPolicy,
  UpstreamProxy,
} from './config/index.js';

// Orchestrator (spawner)
export { createOrchestrator, TERMINATION_REASONS } from './spawner/index.js';
export type {
  IsolationLevel,
  IsolationRequest,
  Orchestrator,
  OrchestratorOptions,
  Outcome,
  OutcomeCommon,
  PoolStats,
  SpawnRequest,
  SubagentHandle,
  SubagentInfo,
  TerminationReason,
  ToolContext,
  ToolDefinition,
  Usage,
} from './spawner/index.js';

// Egress gateway
export { createEgressGateway, validateProxy, REFUSALS, violationForEgress } from './gateway/index.js';
export type {
  EgressDecision,
  EgressViolation,
  EgressEvent,
  EgressGateway,
  EgressGatewayOptions,
  EgressUsage,
  GatewayReason,
  GatewayViolation,
  NetworkSection,
  ProxyCheck,
  ProxyCredential,
  RefusalFacts,
  RefusalReason,
  RegisterOptions,
  Resolver,
} from './gateway/index.js';

// Built-in model tool: the key stays in the parent, the cost is metered by tokens
export { modelCallTool, modelCostUsd } from './tools/index.js';
export type {
  ModelAgentLimits,
  ModelCallOptions,
  ModelCallResult,
  ModelMessage,
  ModelPrice,
  ModelProvider,
  ModelUsage,
} from './tools/index.js';

// Policy decisions (pure; useful for dry-runs and custom tooling)
export { ToolAcl, HostAcl, EgressPolicy, classifyAddress, parseHost } from './policy/index.js';
export type { AddressClass, AddressClassification, Decision, ToolDecision } from './policy/index.js';

// Audit
export { AuditEvent } from './audit/events.js';
export type { AuditEventName } from './audit/events.js';
export {
  AUDIT_LEVELS,
  AuditRecordSchema,
  AuditRecordSchemas,
  validateAuditRecord,
} from './audit/record-schema.js';
export type { AuditRecord } from './audit/record-schema.js';
export { CHANNEL_PREFIX, DiagnosticsChannels, subscribeTo } from './observability/channels.js';
export { instrumentOpenTelemetry } from './observability/otel.js';
export type { OpenTelemetryInstrumentation, OpenTelemetryOptions } from './observability/otel.js';
export { createMetricsRegistry, serveMetrics, MAX_SERIES } from './observability/metrics.js';
export type { MetricsRegistry, MetricsServer, ServeMetricsOptions } from './observability/metrics.js';
export type {
  DiagnosticsChannelName,
  DiagnosticsMessages,
  EgressCloseMessage,
  EgressDecisionMessage,
  ExitMessage,
  QuotaChargeMessage,
  QuotaRefundMessage,
  RunningMessage,
  SpawnDeniedMessage,
  SpawnMessage,
  SubagentRef,
  ToolDecisionMessage,
  ToolResultMessage,
  ViolationMessage,
} from './observability/channels.js';

// Errors
export {
  ErrorCodes,
  GuardError,
  ConfigError,
  ConfigReadError,
  SpawnDeniedError,
  GatewayError,
  SpawnerError,
  IpcProtocolError,
  ToolError,
  InternalError,
  isGuardError,
  toError,
  errorMessage,
} from './errors.js';
export type { ErrorCode, ConfigIssue, SpawnDeniedReason } from './errors.js';

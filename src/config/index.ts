/**
 * Configuration: read a file (JSON/JSON5) → validate (zod, then semantic checks) → normalise into
 * the frozen model of ./types.ts. Both the security-proxy shape and OpenClaw's native shape.
 */
export { loadConfig, readConfigFile, type ConfigDocument } from './load.js';
export { parseConfig, detectConfigFormat, type ParseConfigOptions } from './parse.js';
export { parseNetworkSection } from './network.js';
export { redactUrl } from './redact.js';
export { formatConfigSummary, configToJson } from './summary.js';
export {
  notEnforcingLine,
  reportOnlyAgents,
  reportOnlyParts,
  REPORT_ONLY_SCOPE,
  type ReportOnlyPart,
} from './report-only.js';
export { buildJsonSchema } from './json-schema.js';
export { SecurityProxyConfigSchema, NetworkSectionSchema, type NetworkSection } from './schema.js';
export type {
  GuardConfig,
  AgentConfig,
  ToolsPolicy,
  Constraints,
  NetworkPolicy,
  SpawnPolicy,
  PoolPolicy,
  UpstreamProxy,
  GatewayConfig,
  AuditConfig,
  IgnoredKey,
} from './types.js';

/**
 * The policy engine: pure decisions, no I/O, no logging. Callers audit every decision.
 */
export { canonicalizeCidr, canonicalizeDomainPattern, parseAuthority, parseHost } from './domains.js';
export type { CanonicalResult, ParsedHost } from './domains.js';
export { ToolAcl, validateToolPattern } from './tools.js';
export { HostAcl } from './hosts.js';
export { AddressPolicy, classifyAddress } from './addresses.js';
export type { AddressDecision } from './addresses.js';
export { DEFAULT_ALLOWED_PORTS, PortRules, decidePort, isValidPort } from './ports.js';
export type { PortDecisionReason } from './ports.js';
export { EgressPolicy } from './egress.js';
export type { AddressesDecision, EgressTarget } from './egress.js';
export {
  PLUGINS_GROUP,
  TOOL_ALIASES,
  TOOL_GROUPS,
  isCoreTool,
  isKnownGroup,
  toolAlias,
  toolGroup,
} from './tool-groups.js';
export type {
  AddressClass,
  AddressClassification,
  Decision,
  EgressDecision,
  EgressDecisionReason,
  NetworkPolicy,
  PolicyMode,
  ToolDecision,
  ToolDecisionReason,
  ToolsPolicy,
} from './types.js';

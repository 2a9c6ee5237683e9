/**
 * The egress gateway: a per-subagent authenticated filtering forward proxy (HTTP, CONNECT,
 * WebSocket). See docs/gateway.md.
 */
export { createEgressGateway } from './gateway.js';
export { systemResolver } from './resolve.js';
export { PROXY_NAME } from './status.js';
export {
  REFUSALS,
  violationForEgress,
  type EgressViolation,
  type RefusalFacts,
  type RefusalReason,
} from './reasons.js';
export { validateProxy, type ProxyCheck } from './proxy-check.js';
export type {
  EgressDecision,
  EgressEvent,
  EgressGateway,
  EgressGatewayOptions,
  EgressUsage,
  GatewayReason,
  GatewayViolation,
  NetworkSection,
  ProxyCredential,
  RegisterOptions,
  Resolver,
  UpstreamSpec,
} from './types.js';

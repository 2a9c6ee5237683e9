/**
 * What connects one run to the gateway and the broker: its egress registration (with the quota
 * hooks that end it), the `start` message, and its tool session.
 */
import type { AgentConfig, UpstreamProxy } from '../config/types.js';
import type { EgressDecision, EgressGateway, ProxyCredential } from '../gateway/types.js';
import type { ParentMessage } from '../ipc/index.js';
import type { EgressPolicy } from '../policy/egress.js';
import type { ToolDecision } from '../policy/types.js';
import type { Sandbox } from '../sandbox/launcher.js';
import type { BrokerSession } from '../tools/broker.js';
import { violationForEgress } from '../gateway/reasons.js';
import { MAX_PAYLOAD_BYTES } from '../ipc/limits.js';
import type { Meter } from './meter.js';
import type { TerminationReason } from './types.js';

/** Largest subagent output accepted, bytes: the IPC payload cap (one frame with its envelope). */
export const MAX_OUTPUT_BYTES = MAX_PAYLOAD_BYTES;

/** Who a run is, as it appears in every audit record about it. */
export interface RunIdentity {
  readonly id: string;
  readonly agent: AgentConfig;
  readonly parent: string;
}

/**
 * Mints the run's egress credential. Every refusal the gateway reports that is the subagent's
 * doing ends it (a request over `max_api_calls` is refused with 429 and reported there); each
 * request the subagent sends is counted against `max_api_calls` before it is dialled (a CONNECT
 * tunnel or WebSocket once: what travels inside is not visible). The prepaid twin credential
 * stays in the parent for built-in tools, whose call was charged by the broker.
 */
export function registerEgress(
  gateway: EgressGateway,
  who: RunIdentity,
  upstream: UpstreamProxy | undefined,
  meter: Meter,
  terminate: (reason: TerminationReason, detail: string) => void,
): ProxyCredential {
  const { network } = who.agent;
  return gateway.register({
    id: who.id,
    network,
    ...(upstream === undefined ? {} : { upstream }),
    agent: who.agent.name,
    parent: who.parent,
    limits: { maxEgressBytes: network.maxEgressBytes },
    onDeny: (d: EgressDecision) => {
      const reason = violationForEgress(d.reason);
      if (reason === null) return;
      terminate(reason, `egress ${d.method} ${d.host}:${d.port} refused (${d.reason}, HTTP ${d.status})`);
    },
    onLimit: (kind, detail) => {
      terminate(kind === 'api_calls' ? 'api_calls_exceeded' : 'egress_bytes_exceeded', detail);
    },
    // Flooding its own gateway (connections, requests without its credential) is abuse of
    // the channel the parent gave it, like a malformed IPC frame.
    onViolation: (kind, detail) => {
      terminate('protocol_violation', `gateway ${kind}: ${detail}`);
    },
    // A request over the budget is refused with 429 api_calls_exceeded, which reaches onDeny
    // and ends the subagent there, with the request it made in the detail.
    countRequest: () => meter.takeApiCall(),
    // Built-in tools fetch with this one: the tool call already took its unit (one web_fetch is
    // one unit of max_api_calls, redirects included), so its requests are not charged again.
    prepaidCredential: true,
  });
}

/** The `start` message: the task and how to reach the gateway from inside the sandbox. */
export function startMessage(
  who: RunIdentity,
  task: unknown,
  cred: ProxyCredential,
  sandbox: Sandbox,
): ParentMessage {
  // The socket path as the child sees it (undefined in process mode: the child uses TCP).
  const inside = sandbox.gatewaySocketPath;
  return {
    type: 'start',
    id: who.id,
    agent: who.agent.name,
    parent: who.parent,
    task,
    egress:
      inside === undefined
        ? { proxyUrl: cred.proxyUrl }
        : {
            proxyUrl: `http://${encodeURIComponent(cred.username)}:${encodeURIComponent(cred.password)}@localhost`,
            socketPath: inside,
          },
    limits: { maxOutputBytes: MAX_OUTPUT_BYTES },
  };
}

/** The run's tool session: its ACL, its meter, its signal and its egress rules. */
export function brokerSession(
  who: RunIdentity,
  cred: ProxyCredential,
  acl: { decide(tool: string): ToolDecision },
  egress: EgressPolicy,
  meter: Meter,
  signal: AbortSignal,
): BrokerSession {
  return {
    subagentId: who.id,
    agent: who.agent.name,
    parent: who.parent,
    acl,
    takeApiCall: () => meter.takeApiCall(),
    reserveCost: (usd) => meter.reserveCost(usd),
    settleCost: (reservedUsd, chargedUsd) => {
      meter.settleCost(reservedUsd, chargedUsd);
    },
    signal,
    proxyUrl: cred.prepaidProxyUrl ?? cred.proxyUrl,
    // The same rules the gateway applies: web_fetch checks a redirect's target with them, so an
    // origin's redirect to a refused target is a tool error, not a kill.
    egress,
  };
}

/** The run's own credential, in the forms the child could print it. */
export function credentialSecrets(cred: ProxyCredential | undefined): string[] {
  if (cred === undefined) return [];
  return [cred.password, Buffer.from(`${cred.username}:${cred.password}`).toString('base64')];
}

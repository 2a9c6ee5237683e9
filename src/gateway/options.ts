/**
 * Validation of gateway and registration options (they come from the caller's code and config:
 * checked like any other input, with messages that say what and where).
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { GatewayError } from '../errors.js';
import { ID_PATTERN, STATIC_PASSWORD_PATTERN } from './auth.js';
import type { EgressGatewayOptions, NetworkSection, RegisterOptions } from './types.js';

/** Fully defaulted numeric settings of a gateway. */
export interface GatewaySettings {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly dnsTimeoutMs: number;
  readonly maxTunnels: number;
  readonly maxTunnelsPerSubagent: number;
  readonly idleTimeoutMs: number;
  readonly maxRequestsPerSecond: number;
  readonly maxHeaderSize: number;
  readonly headersTimeoutMs: number;
  readonly allowNonLoopback: boolean;
  readonly maxConnectionsPerSubagent: number;
  readonly maxConnections: number;
  readonly maxAuditRecordsPerSubagent: number;
  readonly exchangeTimeoutMs: number;
}

function invalid(message: string): GatewayError {
  return new GatewayError('SG_GATEWAY_INVALID_OPTIONS', message);
}

function int(v: unknown, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(`createEgressGateway: ${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

/** True for loopback hosts (127/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Validates and defaults gateway options. */
export function gatewaySettings(opts: EgressGatewayOptions): GatewaySettings {
  const host = opts.host ?? '127.0.0.1';
  if (typeof host !== 'string' || (host !== 'localhost' && isIP(host) === 0)) {
    throw invalid('createEgressGateway: host must be an IP address or "localhost"');
  }
  if (opts.resolver !== undefined && typeof opts.resolver !== 'function') {
    throw invalid(
      'createEgressGateway: resolver must be a function (hostname) => Promise<{address, family}[]>',
    );
  }
  return {
    host: host === 'localhost' ? '127.0.0.1' : host,
    port: int(opts.port, 'port', 0, 0, 65535),
    connectTimeoutMs: int(opts.connectTimeoutMs, 'connectTimeoutMs', 10_000, 1, 600_000),
    dnsTimeoutMs: int(opts.dnsTimeoutMs, 'dnsTimeoutMs', 5_000, 1, 600_000),
    maxTunnels: int(opts.maxTunnels, 'maxTunnels', 1024, 1, 1_000_000),
    maxTunnelsPerSubagent: int(opts.maxTunnelsPerSubagent, 'maxTunnelsPerSubagent', 64, 1, 1_000_000),
    idleTimeoutMs: int(opts.idleTimeoutMs, 'idleTimeoutMs', 60_000, 1, 86_400_000),
    maxRequestsPerSecond: int(opts.maxRequestsPerSecond, 'maxRequestsPerSecond', 100, 1, 10_000_000),
    maxHeaderSize: int(opts.maxHeaderSize, 'maxHeaderSize', 16 * 1024, 1024, 1024 * 1024),
    headersTimeoutMs: int(opts.headersTimeoutMs, 'headersTimeoutMs', 10_000, 1, 600_000),
    allowNonLoopback: opts.allowNonLoopback === true,
    maxConnectionsPerSubagent: int(
      opts.maxConnectionsPerSubagent,
      'maxConnectionsPerSubagent',
      128,
      1,
      1_000_000,
    ),
    maxConnections: int(opts.maxConnections, 'maxConnections', 4096, 1, 1_000_000),
    maxAuditRecordsPerSubagent: int(
      opts.maxAuditRecordsPerSubagent,
      'maxAuditRecordsPerSubagent',
      10_000,
      1,
      1_000_000_000,
    ),
    exchangeTimeoutMs: int(opts.exchangeTimeoutMs, 'exchangeTimeoutMs', 300_000, 1, 86_400_000),
  };
}

/** The addresses the gateway itself answers on: never a permitted egress destination. */
export function gatewayAddresses(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [host];
  const out = new Set<string>([host]);
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) out.add(i.address);
  }
  return [...out];
}

/**
 * Whether an upstream at `host:port` is this gateway itself (listening on `listen`, answering on
 * `addrs`): chaining to it would loop every request through the gateway until a cap cuts it.
 * Names other than `localhost` are not resolved here; literal addresses and `localhost` are.
 */
export function isSelfUpstream(
  up: { host: string; port: number },
  listen: { host: string; port: number },
  addrs: readonly string[],
): boolean {
  if (up.port !== listen.port) return false;
  const wildcard = listen.host === '0.0.0.0' || listen.host === '::';
  const host = up.host.toLowerCase();
  if (host === 'localhost') return wildcard || isLoopbackHost(listen.host);
  if (host === listen.host || addrs.includes(host)) return true;
  return wildcard && isLoopbackHost(host);
}

const CAMEL_TO_SNAKE: Readonly<Record<string, string>> = {
  egressOnly: 'egress_only',
  allowedDomains: 'allowed_domains',
  blockedPorts: 'blocked_ports',
  allowedPorts: 'allowed_ports',
  allowedCidrs: 'allowed_cidrs',
  logAllTraffic: 'log_all_traffic',
  maxEgressBytes: 'max_egress_bytes',
};

/**
 * Accepts a network section as written in openclaw.json or the normalised model of a loaded
 * config, and returns the openclaw.json form so both go through the same validation.
 */
export function toNetworkSection(network: NetworkSection | undefined, id: string): Record<string, unknown> {
  if (typeof network !== 'object' || Array.isArray(network)) {
    throw invalid(`register(${id}): network must be an object (the agent's "network" section)`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(network)) out[CAMEL_TO_SNAKE[k] ?? k] = v;
  return out;
}

/** Validates the non-network parts of register options. */
export function checkRegisterOptions(s: RegisterOptions): void {
  if (typeof s !== 'object') throw invalid('register: options must be an object');
  const id: unknown = s.id;
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw invalid('register: id must be 1-128 characters of A-Z a-z 0-9 . _ ~ -');
  }
  for (const k of ['agent', 'parent'] as const) {
    if (s[k] !== undefined && typeof s[k] !== 'string')
      throw invalid(`register(${id}): ${k} must be a string`);
  }
  for (const k of ['onDeny', 'onEvent', 'onLimit', 'onViolation', 'countRequest'] as const) {
    if (s[k] !== undefined && typeof s[k] !== 'function')
      throw invalid(`register(${id}): ${k} must be a function`);
  }
  if (
    s.password !== undefined &&
    (typeof s.password !== 'string' || !STATIC_PASSWORD_PATTERN.test(s.password))
  ) {
    throw invalid(
      `register(${id}): password must be 22-256 characters of A-Z a-z 0-9 _ - (at least 128 bits)`,
    );
  }
  if (s.prepaidCredential !== undefined && typeof s.prepaidCredential !== 'boolean')
    throw invalid(`register(${id}): prepaidCredential must be a boolean`);
  const limits = s.limits;
  if (limits !== undefined) {
    for (const k of ['maxApiCalls', 'maxEgressBytes'] as const) {
      const v = limits[k];
      if (k === 'maxEgressBytes' && v === null) continue;
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
        throw invalid(`register(${id}): limits.${k} must be a non-negative integer`);
      }
    }
    const w = limits.windowMs;
    if (
      w !== undefined &&
      (typeof w !== 'number' || !Number.isInteger(w) || w < 1000 || w > 31 * 86_400_000)
    ) {
      throw invalid(
        `register(${id}): limits.windowMs must be an integer from 1000 (1 s) to 2678400000 (31 days)`,
      );
    }
  }
}

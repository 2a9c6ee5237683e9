/**
 * The `network` section: validation and normalisation into a {@link NetworkPolicy}. Used for every
 * agent in a config file and by `EgressGateway.register()`, so a policy handed to the gateway
 * directly is checked exactly like one read from openclaw.json.
 */
import * as z from 'zod';
import { ConfigError } from '../errors.js';
import { DEFAULT_NETWORK } from './defaults.js';
import { IssueCollector, validateWith } from './issues.js';
import { deepFreeze, toPlainJson } from './json.js';
import { checkCidr, checkDomainPattern } from './patterns.js';
import { childPointer } from './pointer.js';
import { NetworkSectionSchema } from './schema.js';
import type { NetworkPolicy } from './types.js';

/** snake_case key (as in openclaw.json) → camelCase key of {@link NetworkPolicy}. */
const CAMEL: Readonly<Record<string, keyof NetworkPolicy>> = {
  egress_only: 'egressOnly',
  allowed_domains: 'allowedDomains',
  blocked_ports: 'blockedPorts',
  allowed_ports: 'allowedPorts',
  allowed_cidrs: 'allowedCidrs',
  log_all_traffic: 'logAllTraffic',
  max_egress_bytes: 'maxEgressBytes',
};

/** The same fields under their camelCase names: an already-normalised policy is accepted too. */
const NetworkPolicySchema = z.strictObject(
  Object.fromEntries(Object.entries(NetworkSectionSchema.shape).map(([k, v]) => [CAMEL[k] ?? k, v])),
);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function uniq<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

/** Canonicalises every string of `list` with `check`, recording each failure at its own path. */
function canonicalList(
  list: unknown,
  path: string,
  check: (raw: string) => { ok: true; value: string } | { ok: false; message: string },
  issues: IssueCollector,
): string[] {
  const out: string[] = [];
  if (!Array.isArray(list)) return out;
  list.forEach((item: unknown, i) => {
    if (typeof item !== 'string') return;
    const r = check(item);
    if (r.ok) out.push(r.value);
    else issues.add(childPointer(path, i), r.message);
  });
  return uniq(out);
}

/**
 * Validates and normalises a `network` section found at `path` (absent = the secure default: no
 * network). Records problems in `issues`; returns undefined when there was any.
 */
export function normalizeNetwork(
  raw: unknown,
  path: string,
  issues: IssueCollector,
): NetworkPolicy | undefined {
  const value = raw ?? {};
  const camelNames: readonly string[] = Object.values(CAMEL);
  const camel = isRecord(value) && Object.keys(value).some((k) => camelNames.includes(k));
  const key = (snake: string): string => (camel ? (CAMEL[snake] ?? snake) : snake);
  let snakeValue: unknown = value;
  if (camel && validateWith(NetworkPolicySchema, value, path, issues) !== undefined && isRecord(value)) {
    snakeValue = Object.fromEntries([
      ...Object.entries(CAMEL).flatMap(([snake, c]) => (value[c] === undefined ? [] : [[snake, value[c]]])),
      // `mode` is spelled the same in both shapes.
      ...(value.mode === undefined ? [] : [['mode', value.mode]]),
    ]);
  }
  const parsed =
    camel && issues.hasWithin(path)
      ? undefined
      : validateWith(NetworkSectionSchema, snakeValue, path, issues);
  if (!isRecord(value)) return undefined;
  const domainsKey = key('allowed_domains');
  const cidrsKey = key('allowed_cidrs');
  const domains = canonicalList(
    value[domainsKey],
    childPointer(path, domainsKey),
    checkDomainPattern,
    issues,
  );
  const cidrs = canonicalList(value[cidrsKey], childPointer(path, cidrsKey), checkCidr, issues);
  if (parsed === undefined || issues.hasWithin(path)) return undefined;
  return {
    egressOnly: true,
    allowedDomains: domains,
    blockedPorts: uniq(parsed.blocked_ports ?? DEFAULT_NETWORK.blockedPorts),
    allowedPorts: uniq(parsed.allowed_ports ?? DEFAULT_NETWORK.allowedPorts),
    allowedCidrs: cidrs,
    logAllTraffic: parsed.log_all_traffic ?? DEFAULT_NETWORK.logAllTraffic,
    maxEgressBytes: parsed.max_egress_bytes ?? DEFAULT_NETWORK.maxEgressBytes,
    // Absent means enforce; only the exception is written into the model.
    ...(parsed.mode === 'report' ? { mode: 'report' as const } : {}),
  };
}

/**
 * Validates a `network` section (snake_case keys exactly as in openclaw.json, or an already
 * normalised camelCase {@link NetworkPolicy}) and returns the frozen, canonical policy.
 *
 * @param opts.path JSON pointer prefix for issue paths (default `''`).
 * @throws ConfigError listing every problem.
 * @example parseNetworkSection({ allowed_domains: ['API.Example.com.'] }).allowedDomains // ['api.example.com']
 */
export function parseNetworkSection(value: unknown, opts: { path?: string } = {}): NetworkPolicy {
  const path = opts.path ?? '';
  const issues = new IssueCollector();
  const plain = toPlainJson(value ?? {}, path, issues);
  const policy = issues.size === 0 ? normalizeNetwork(plain, path, issues) : undefined;
  if (policy === undefined || issues.size > 0) {
    throw new ConfigError(issues.size > 0 ? issues.sorted() : [{ path, message: 'is invalid' }], {
      source: 'network policy',
    });
  }
  return deepFreeze(policy);
}

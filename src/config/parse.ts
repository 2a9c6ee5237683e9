/**
 * `parseConfig`: one entry point for both input shapes, producing the frozen normalised model.
 */
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { IssueCollector, documentOrder } from './issues.js';
import { deepFreeze, toPlainJson } from './json.js';
import { parseOpenClawShape } from './openclaw.js';
import { parseSecurityProxyShape } from './security-proxy.js';
import type { GuardConfig } from './types.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Which input shape a document is in. OpenClaw's native shape is recognised by `agents.defaults`,
 * `agents.ownership`, an `agents.entries` object or an `agents.list` array; those names are reserved in the
 * security-proxy shape, so the two can never be confused.
 */
export function detectConfigFormat(value: unknown): GuardConfig['format'] {
  if (!isRecord(value) || !isRecord(value.agents)) return 'security-proxy';
  const a = value.agents;
  return a.defaults !== undefined || a.ownership !== undefined || isRecord(a.entries) || Array.isArray(a.list)
    ? 'openclaw'
    : 'security-proxy';
}

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Where the value came from (a file path or a label); used in messages and kept in the model. */
  readonly source?: string;
  /**
   * Directory relative paths (`entry`, `audit.path`) are resolved against.
   * @default the directory of `source` when it is given, else the current working directory
   */
  readonly baseDir?: string;
}

/**
 * Validates and normalises a configuration value (either shape) into a frozen {@link GuardConfig}.
 *
 * @throws ConfigError (`SG_CONFIG_INVALID`) listing every problem with its JSON pointer.
 * @example
 * const config = parseConfig(JSON.parse(text), { source: 'openclaw.json' });
 * config.agents.security_proxy_untrusted?.network.allowedDomains;
 */
export function parseConfig(value: unknown, opts: ParseConfigOptions = {}): GuardConfig {
  const source = opts.source;
  const baseDir = resolve(opts.baseDir ?? (source === undefined ? process.cwd() : dirname(resolve(source))));
  const issues = new IssueCollector();
  const plain = toPlainJson(value, '', issues);
  const error = (): ConfigError =>
    new ConfigError(
      issues.sorted(isRecord(plain) ? documentOrder(plain) : undefined),
      source === undefined ? undefined : { source },
    );
  if (issues.size > 0) throw error();
  if (!isRecord(plain)) {
    issues.add('', 'expected a JSON object at the top level, with an "agents" section');
    throw error();
  }
  const doc = plain;
  const ctx = { source, baseDir, issues };
  const config =
    detectConfigFormat(doc) === 'openclaw' ? parseOpenClawShape(doc, ctx) : parseSecurityProxyShape(doc, ctx);
  if (config === undefined || issues.size > 0) {
    if (issues.size === 0) issues.add('', 'is invalid');
    throw error();
  }
  return deepFreeze(config);
}

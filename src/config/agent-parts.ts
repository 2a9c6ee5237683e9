/**
 * Pieces of an agent shared by both input shapes: quotas, spawn policy, entry file, upstream
 * proxy, and the cross-reference check of `allowAgents`.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_CONSTRAINTS, DEFAULT_SPAWN } from './defaults.js';
import type { IssueCollector } from './issues.js';
import { checkProxyUrl } from './patterns.js';
import { childPointer } from './pointer.js';
import { redactUrl } from './redact.js';
import type { ConstraintsInput, PoolInput, SpawnInput } from './schema.js';
import type { Constraints, PoolPolicy, SpawnPolicy, UpstreamProxy } from './types.js';

/** Quotas with every default filled in. */
export function toConstraints(c: ConstraintsInput | undefined, timeoutSeconds?: number): Constraints {
  return {
    maxMemoryMb: c?.max_memory_mb ?? DEFAULT_CONSTRAINTS.maxMemoryMb,
    maxApiCalls: c?.max_api_calls ?? DEFAULT_CONSTRAINTS.maxApiCalls,
    maxCostUsd: c?.max_cost_usd ?? DEFAULT_CONSTRAINTS.maxCostUsd,
    timeoutSeconds: c?.timeout_seconds ?? timeoutSeconds ?? DEFAULT_CONSTRAINTS.timeoutSeconds,
    noMemoryPersistence: true,
  };
}

/** The `pool` key of an agent: absent when there is no pool (warm 0), so configs without one stay as they were. */
export function toPool(p: PoolInput | undefined): { pool?: PoolPolicy } {
  const warm = p?.warm ?? 0;
  return warm === 0 ? {} : { pool: { warm } };
}

/** Spawn quotas with every default filled in; `["*"]` becomes `'*'`. */
export function toSpawnPolicy(s: Partial<SpawnInput> | undefined): SpawnPolicy {
  const allow = s?.allowAgents ?? [];
  return {
    allowAgents: allow.includes('*') ? '*' : [...new Set(allow)],
    maxConcurrent: s?.maxConcurrent ?? DEFAULT_SPAWN.maxConcurrent,
    maxChildren: s?.maxChildren ?? DEFAULT_SPAWN.maxChildren,
    maxSpawnDepth: s?.maxSpawnDepth ?? DEFAULT_SPAWN.maxSpawnDepth,
    maxSpawnsPerMinute: s?.maxSpawnsPerMinute ?? DEFAULT_SPAWN.maxSpawnsPerMinute,
  };
}

/** `"*"` means any subagent; mixing it with names is almost certainly a mistake. */
export function checkAllowAgentsList(list: unknown, path: string, issues: IssueCollector): void {
  if (!Array.isArray(list) || !list.includes('*') || list.length === 1) return;
  issues.add(path, 'use ["*"] alone to allow any subagent, or list agent names without "*"');
}

/** Resolves `entry` against the config's directory; it must be an existing regular file. */
export function resolveEntry(
  raw: unknown,
  baseDir: string,
  path: string,
  issues: IssueCollector,
): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0) return undefined;
  const abs = resolve(baseDir, raw);
  try {
    const st = statSync(abs);
    if (!st.isFile()) {
      issues.add(
        path,
        `entry ${JSON.stringify(raw)} is not a file (resolved to ${abs}); expected the subagent's program`,
      );
      return undefined;
    }
  } catch {
    issues.add(
      path,
      `entry ${JSON.stringify(raw)} does not exist (resolved to ${abs}); paths are relative to the config file's directory`,
    );
    return undefined;
  }
  return abs;
}

/** Resolves `read_paths` against the config's directory; each must exist. */
export function resolveReadPaths(
  raw: unknown,
  baseDir: string,
  path: string,
  issues: IssueCollector,
): string[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: string[] = [];
  raw.forEach((p: unknown, i) => {
    if (typeof p !== 'string' || p.length === 0) return;
    const abs = resolve(baseDir, p);
    if (!existsSync(abs)) {
      issues.add(
        childPointer(path, String(i)),
        `read path ${JSON.stringify(p)} does not exist (resolved to ${abs}); paths are relative to the config file's directory`,
      );
      return;
    }
    out.push(abs);
  });
  return out;
}

/** Checks an upstream proxy URL; the full URL stays only in `url`, messages use the redacted form. */
export function toUpstream(raw: unknown, path: string, issues: IssueCollector): UpstreamProxy | undefined {
  if (typeof raw !== 'string') return undefined;
  const r = checkProxyUrl(raw);
  if (!r.ok) {
    issues.add(path, r.message);
    return undefined;
  }
  return { url: raw, redacted: redactUrl(raw) };
}

/** What the cross-reference check needs to know about each agent. */
export interface AgentRef {
  readonly role: 'parent' | 'subagent';
  /** The raw `allowAgents` list and where it is. */
  readonly allowAgents: unknown;
  readonly allowAgentsPath: string;
}

/**
 * Every name in every `allowAgents` must be a defined subagent. A parent named there is either an
 * error (security-proxy shape) or dropped and reported (OpenClaw shape, via `onParent`).
 */
export function checkAllowAgentsRefs(
  agents: ReadonlyMap<string, AgentRef>,
  issues: IssueCollector,
  onParent?: (path: string, name: string) => void,
): void {
  const names = [...agents.keys()];
  for (const ref of agents.values()) {
    if (!Array.isArray(ref.allowAgents)) continue;
    ref.allowAgents.forEach((item: unknown, i) => {
      if (typeof item !== 'string' || item === '*') return;
      const at = childPointer(ref.allowAgentsPath, i);
      const target = agents.get(item);
      if (target === undefined) {
        issues.add(
          at,
          `unknown agent ${JSON.stringify(item)}; defined agents: ${names.join(', ') || '(none)'}`,
        );
      } else if (target.role === 'parent') {
        if (onParent !== undefined) onParent(at, item);
        else
          issues.add(
            at,
            `${JSON.stringify(item)} is a parent agent; parents are run by your own code and never spawned`,
          );
      }
    });
  }
}

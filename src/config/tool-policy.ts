/**
 * Tool policies: validating patterns, and combining OpenClaw's layered allow/deny lists into the
 * single allow/deny pair of {@link ToolsPolicy}.
 *
 * Combining follows the stricter reading of every layer: a deny at any layer wins, and when more
 * than one layer has an allow list a tool must be allowed by all of them. Two allow lists are
 * intersected pattern by pattern; when two wildcards overlap without one containing the other the
 * overlap cannot be written as a pattern, so it is left out (denied) and reported.
 */
import { TOOL_ALIASES, toolAlias, toolGroup } from '../policy/tool-groups.js';
import type { IssueCollector } from './issues.js';
import { checkToolPattern } from './patterns.js';
import { childPointer } from './pointer.js';
import type { ToolsPolicy } from './types.js';

/** Validates and lower-cases a list of tool patterns found at `path`, recording each bad item. */
export function toolPatterns(list: unknown, path: string, issues: IssueCollector): string[] {
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  list.forEach((item: unknown, i) => {
    if (typeof item !== 'string') return;
    const r = checkToolPattern(item);
    if (r.ok) out.push(r.value);
    else issues.add(childPointer(path, i), r.message);
  });
  return [...new Set(out)];
}

/** Every name that denotes the same tool (`bash` and `exec`). */
function equivalents(name: string): string[] {
  const target = toolAlias(name) ?? name;
  const names = new Set([name, target]);
  for (const [alias, to] of Object.entries(TOOL_ALIASES)) if (to === target) names.add(alias);
  return [...names];
}

function globRe(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

/** True when every name matched by glob `a` is matched by glob `b`. */
function globWithin(a: string, b: string): boolean {
  // b's literal characters never match "*", so b matches a's text (with a's "*" kept as a
  // character) exactly when b's own wildcards can absorb every wildcard of a.
  return globRe(b).test(a);
}

function expand(p: string): string[] {
  return p.startsWith('group:') ? [...(toolGroup(p) ?? [])] : [p];
}

/** Intersection of two lower-cased, valid patterns; `unrepresentable` collects overlaps left out. */
function intersectPatterns(a: string, b: string, unrepresentable: string[]): string[] {
  if (a === '*') return [b];
  if (b === '*' || a === b) return [a];
  const out: string[] = [];
  for (const x of expand(a)) {
    for (const y of expand(b)) {
      const xw = x.includes('*');
      const yw = y.includes('*');
      if (!xw && !yw) {
        if (equivalents(x).includes(y)) out.push(toolAlias(x) ?? x);
      } else if (!xw) {
        if (equivalents(x).some((n) => globRe(y).test(n))) out.push(x);
      } else if (!yw) {
        if (equivalents(y).some((n) => globRe(x).test(n))) out.push(y);
      } else if (globWithin(x, y)) {
        out.push(x);
      } else if (globWithin(y, x)) {
        out.push(y);
      } else {
        unrepresentable.push(`${x} ∩ ${y}`);
      }
    }
  }
  return out;
}

/** One layer of a tool policy; an absent allow list places no restriction at that layer. */
export interface ToolLayer {
  readonly allow?: readonly string[] | undefined;
  readonly deny?: readonly string[] | undefined;
}

/**
 * Combines layers: deny = union of every layer's deny list; allowed = intersection of the allow
 * lists present (none present = no tools, the secure default).
 */
export function combineToolLayers(layers: readonly ToolLayer[]): {
  policy: ToolsPolicy;
  unrepresentable: string[];
} {
  const denied = [...new Set(layers.flatMap((l) => l.deny ?? []))];
  const allowLists = layers.flatMap((l) => (l.allow === undefined ? [] : [l.allow]));
  const unrepresentable: string[] = [];
  let allowed: string[] = [];
  const [first, ...rest] = allowLists;
  if (first !== undefined) {
    allowed = [...new Set(first)];
    for (const next of rest) {
      const merged = new Set<string>();
      for (const a of allowed)
        for (const b of next) for (const p of intersectPatterns(a, b, unrepresentable)) merged.add(p);
      allowed = [...merged];
    }
  }
  return { policy: { allowed, denied }, unrepresentable };
}

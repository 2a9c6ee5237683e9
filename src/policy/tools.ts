/**
 * Tool ACL: which tools a subagent may call. Deny wins over allow, a tool matched by nothing is
 * denied, names are case-insensitive, `group:*` names expand to their members, `*` is a wildcard,
 * and aliases (`bash` = `exec`) are the same tool — denying either name denies both, so a renamed
 * call cannot slip past a deny rule.
 */
import { GuardError } from '../errors.js';
import {
  PLUGINS_GROUP,
  TOOL_ALIASES,
  TOOL_GROUPS,
  isCoreTool,
  isKnownGroup,
  toolAlias,
  toolGroup,
} from './tool-groups.js';
import type { ToolDecision, ToolsPolicy } from './types.js';

const PATTERN_CHARS = /^[a-z0-9_.:*-]+$/;
const MAX_PATTERN = 128;
const TOOL_NAME = /^[A-Za-z0-9_.:-]+$/;

/**
 * Validates one `tools_allowed` / `tools_denied` (or OpenClaw `tools.allow` / `tools.deny`) entry.
 * Case-insensitive: it is checked lower-cased.
 *
 * @returns an error message saying what is expected, or null when the pattern is valid.
 * @example validateToolPattern('group:nope') // 'unknown tool group "group:nope"; known groups: group:fs, ...'
 */
export function validateToolPattern(p: string): string | null {
  if (typeof p !== 'string') return 'must be a string: a tool name, a "group:*" name or a pattern with "*"';
  if (p.length === 0)
    return 'must not be empty; expected a tool name such as "web_fetch", a group such as "group:web", or "*"';
  if (p.length > MAX_PATTERN)
    return `is ${p.length} characters long; a tool pattern has at most ${MAX_PATTERN}`;
  const lower = p.toLowerCase();
  if (!PATTERN_CHARS.test(lower)) {
    return `${JSON.stringify(p)} may contain only letters, digits, "_", "-", ".", ":" and "*"`;
  }
  if (lower.startsWith('group:')) {
    if (lower.includes('*'))
      return `${JSON.stringify(p)}: a group name cannot contain "*"; name the group exactly`;
    if (!isKnownGroup(lower)) {
      return `unknown tool group ${JSON.stringify(p)}; known groups: ${[...Object.keys(TOOL_GROUPS), PLUGINS_GROUP].join(', ')}`;
    }
  }
  return null;
}

/** Every name that denotes the same tool as `name` (itself, its alias target, and other aliases of it). */
function equivalentNames(name: string): string[] {
  const target = toolAlias(name) ?? name;
  const names = [target];
  for (const [alias, to] of Object.entries(TOOL_ALIASES)) if (to === target) names.push(alias);
  if (!names.includes(name)) names.push(name);
  return names;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** A compiled list of patterns: exact names (groups and aliases expanded) plus wildcard matchers. */
class PatternSet {
  readonly #exact = new Map<string, string>();
  readonly #wild: { re: RegExp; rule: string }[] = [];
  /** Set when the list holds `group:plugins`: every tool outside OpenClaw's core catalog. */
  #plugins = false;

  constructor(patterns: readonly string[], which: string) {
    for (const raw of patterns) {
      const problem = validateToolPattern(raw);
      if (problem !== null)
        throw new GuardError('SG_POLICY_INVALID', `tool ACL: ${which} pattern ${problem}`);
      const p = raw.toLowerCase();
      if (p === PLUGINS_GROUP) {
        this.#plugins = true;
      } else if (p.startsWith('group:')) {
        for (const member of toolGroup(p) ?? []) this.#addExact(member, p);
      } else if (p.includes('*')) {
        this.#wild.push({ re: globToRegExp(p), rule: p });
      } else {
        this.#addExact(p, p);
      }
    }
  }

  #addExact(name: string, rule: string): void {
    for (const n of equivalentNames(name)) if (!this.#exact.has(n)) this.#exact.set(n, rule);
  }

  match(names: readonly string[]): string | null {
    for (const n of names) {
      const rule = this.#exact.get(n);
      if (rule !== undefined) return rule;
    }
    for (const w of this.#wild) for (const n of names) if (w.re.test(n)) return w.rule;
    if (this.#plugins && !names.some(isCoreTool)) return PLUGINS_GROUP;
    return null;
  }
}

/**
 * Decides tool calls for one agent.
 *
 * @example
 * const acl = new ToolAcl({ allowed: ['group:web', 'read'], denied: ['web_search'] });
 * acl.decide('WEB_FETCH'); // { allow: true, reason: 'allowed', rule: 'group:web' }
 * acl.decide('web_search'); // { allow: false, reason: 'denied_by_rule', rule: 'web_search' }
 * acl.decide('exec'); // { allow: false, reason: 'not_allowed', rule: null }
 */
export class ToolAcl {
  readonly #allow: PatternSet;
  readonly #deny: PatternSet;
  /** Report-only: a tool outside the allowlist is let through, marked `enforced: false`. */
  readonly reportOnly: boolean;

  /** @throws GuardError `SG_POLICY_INVALID` when a pattern fails {@link validateToolPattern}. */
  constructor(policy: ToolsPolicy) {
    this.#allow = new PatternSet(policy.allowed, 'allowed');
    this.#deny = new PatternSet(policy.denied, 'denied');
    this.reportOnly = policy.mode === 'report';
  }

  /**
   * Decides one call by tool name. Deny rules are consulted first and win. In report-only mode a
   * valid name that no allow rule matches is allowed with `enforced: false` (reason `not_allowed`);
   * a deny rule and a malformed name are refused in both modes.
   */
  decide(tool: string): ToolDecision {
    // Tool names are ASCII (validateToolPattern enforces it for rules). Anything else is refused
    // before lower-casing, because Unicode case mapping folds look-alikes (U+212A KELVIN SIGN → k)
    // into ASCII names, and a `*` in a requested name must not be read as a wildcard.
    if (typeof tool !== 'string' || tool.length > MAX_PATTERN || !TOOL_NAME.test(tool)) {
      return { allow: false, reason: 'not_allowed', rule: null };
    }
    const names = equivalentNames(tool.toLowerCase());
    const denied = this.#deny.match(names);
    if (denied !== null) return { allow: false, reason: 'denied_by_rule', rule: denied };
    const allowed = this.#allow.match(names);
    if (allowed !== null) return { allow: true, reason: 'allowed', rule: allowed };
    if (this.reportOnly) return { allow: true, reason: 'not_allowed', rule: null, enforced: false };
    return { allow: false, reason: 'not_allowed', rule: null };
  }
}

/**
 * Tool groups and aliases, following OpenClaw's names so an existing OpenClaw tool policy means the
 * same thing here. Names are matched case-insensitively (everything is lower-cased first).
 *
 * Both tables are looked up with names a subagent chooses (`ctx.tools.call('constructor')`), so
 * they are null-prototype objects and every lookup goes through {@link toolAlias} /
 * {@link toolGroup}, which read own properties only: an `Object.prototype` member must never come
 * back as an alias target or a group.
 */

/** A frozen table without a prototype: `'toString' in table` is false. */
function ownTable<T>(entries: Record<string, T>): Readonly<Record<string, T>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, T>, entries));
}

/** OpenClaw's tool groups, by lower-case `group:*` name. */
export const TOOL_GROUPS: Readonly<Record<string, readonly string[]>> = ownTable<readonly string[]>({
  'group:fs': Object.freeze(['read', 'write', 'edit', 'apply_patch']),
  'group:runtime': Object.freeze(['exec', 'process', 'code_execution']),
  'group:web': Object.freeze(['web_search', 'web_fetch']),
  'group:sessions': Object.freeze([
    'sessions_list',
    'sessions_history',
    'sessions_send',
    'sessions_spawn',
    'session_status',
  ]),
  'group:memory': Object.freeze(['memory_search', 'memory_get']),
  'group:ui': Object.freeze(['browser', 'canvas']),
  'group:automation': Object.freeze(['cron', 'gateway']),
  'group:messaging': Object.freeze(['message']),
  'group:nodes': Object.freeze(['nodes']),
});

/** Alternative names that mean the same tool (`bash` is `exec`). */
export const TOOL_ALIASES: Readonly<Record<string, string>> = ownTable({
  bash: 'exec',
});

/** The tool a lower-case alias stands for, or undefined when `name` is not an alias. Own properties only. */
export function toolAlias(name: string): string | undefined {
  return Object.hasOwn(TOOL_ALIASES, name) ? TOOL_ALIASES[name] : undefined;
}

/** Members of a lower-case `group:*` name, or undefined when there is no such group. Own properties only. */
export function toolGroup(name: string): readonly string[] | undefined {
  return Object.hasOwn(TOOL_GROUPS, name) ? TOOL_GROUPS[name] : undefined;
}

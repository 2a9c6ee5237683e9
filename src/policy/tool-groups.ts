/**
 * Tool groups and aliases, taken from OpenClaw's own catalog (generated from the pinned release into
 * ./openclaw-catalog.ts) so an OpenClaw tool policy means the same thing here. Names are matched
 * case-insensitively (everything is lower-cased first).
 *
 * Both tables are looked up with names a subagent chooses (`ctx.tools.call('constructor')`), so
 * they are null-prototype objects and every lookup goes through {@link toolAlias} /
 * {@link toolGroup}, which read own properties only: an `Object.prototype` member must never come
 * back as an alias target or a group.
 */
import { OPENCLAW_CATALOG } from './openclaw-catalog.js';

/** A frozen table without a prototype: `'toString' in table` is false. */
function ownTable<T>(entries: Record<string, T>): Readonly<Record<string, T>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, T>, entries));
}

/**
 * `group:plugins`: every tool that is not one of OpenClaw's core tools (in OpenClaw, the tools of
 * loaded plugins; here, the tools the host application registers and this package's own
 * `sanitized_parse`). It has no fixed member list, so it is matched by {@link isCoreTool}.
 */
export const PLUGINS_GROUP = 'group:plugins';

/** OpenClaw's core tool groups, by lower-case `group:*` name (`group:plugins` is not listed: see {@link PLUGINS_GROUP}). */
export const TOOL_GROUPS: Readonly<Record<string, readonly string[]>> = ownTable<readonly string[]>(
  Object.fromEntries(
    Object.entries(OPENCLAW_CATALOG.groups).map(([name, members]) => [name, Object.freeze([...members])]),
  ),
);

/** Alternative names that mean the same tool (`bash` is `exec`, `cron` is `automations`). */
export const TOOL_ALIASES: Readonly<Record<string, string>> = ownTable<string>({
  ...OPENCLAW_CATALOG.aliases,
});

const CORE_TOOLS: ReadonlySet<string> = new Set<string>(OPENCLAW_CATALOG.tools);

/** The tool a lower-case alias stands for, or undefined when `name` is not an alias. Own properties only. */
export function toolAlias(name: string): string | undefined {
  return Object.hasOwn(TOOL_ALIASES, name) ? TOOL_ALIASES[name] : undefined;
}

/** Members of a lower-case `group:*` name, or undefined when there is no such group. Own properties only. */
export function toolGroup(name: string): readonly string[] | undefined {
  return Object.hasOwn(TOOL_GROUPS, name) ? TOOL_GROUPS[name] : undefined;
}

/** True for a lower-case `group:*` name this package knows, `group:plugins` included. */
export function isKnownGroup(name: string): boolean {
  return name === PLUGINS_GROUP || toolGroup(name) !== undefined;
}

/** True when a lower-case tool name (or alias) is one of OpenClaw's core tools. */
export function isCoreTool(name: string): boolean {
  return CORE_TOOLS.has(toolAlias(name) ?? name);
}

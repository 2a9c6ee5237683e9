/**
 * What OpenClaw itself would reject in an OpenClaw-shaped openclaw.json. OpenClaw's schema is
 * strict, so a key it does not know fails `openclaw config validate`; each such key is reported
 * here with code `SG_CONFIG_OPENCLAW_REJECTED`, its JSON pointer and where the setting belongs now
 * (usually our plugin entry). The accepted keys and limits come from the pinned package
 * (./openclaw-shape.generated.ts), never from memory.
 */
import type { IssueCollector } from './issues.js';
import { OPENCLAW_SHAPE, OPENCLAW_VERSION } from './openclaw-shape.generated.js';
import { OPENCLAW_AGENT_ID_RE, PLUGIN_ID } from './plugin-schema.js';
import { childPointer } from './pointer.js';

const CODE = 'SG_CONFIG_OPENCLAW_REJECTED';
const S = OPENCLAW_SHAPE;
/** Where our settings live in an OpenClaw file, as a JSON pointer. */
export const PLUGIN_CONFIG_POINTER = childPointer('/plugins/entries', PLUGIN_ID, 'config');
const plugin = (...segs: string[]): string => childPointer(PLUGIN_CONFIG_POINTER, ...segs);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type Hint = (key: string) => string | undefined;

function rejectUnknown(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  path: string,
  issues: IssueCollector,
  hint: Hint = () => undefined,
): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const where = hint(key);
    issues.add(
      childPointer(path, key),
      `OpenClaw ${OPENCLAW_VERSION} rejects ${JSON.stringify(key)} here (its schema is strict)${where === undefined ? '' : `; ${where}`}`,
      CODE,
    );
  }
}

const moveTo = (pointer: string): string => `set it at ${pointer} instead`;

/** Hints for our old extension keys on one agent (`id` is the agent's id). */
function agentHint(id: string): Hint {
  return (key) => {
    switch (key) {
      case 'entry':
      case 'read_paths':
      case 'pool':
      case 'constraints':
      case 'network':
        return moveTo(plugin('agents', id, key));
      case 'proxy':
        return moveTo(plugin('agents', id, 'upstream'));
      case 'id':
        return "the entry's key is its id; remove it";
      default:
        return undefined;
    }
  };
}

const DEFAULTS_HINT: Hint = (key) => {
  switch (key) {
    case 'constraints':
    case 'network':
      return moveTo(plugin('defaults', key));
    case 'tools':
      return 'tool policy for every agent goes in the top-level tools section (or agents.entries.<id>.tools)';
    case 'proxy':
      return `our upstream proxy is ${plugin('gateway', 'upstream')} (the top-level proxy section is OpenClaw's own outbound proxy)`;
    case 'entry':
    case 'read_paths':
    case 'pool':
      return `set it per agent at ${plugin('agents', '<id>', key)}`;
    default:
      return undefined;
  }
};

const ROOT_HINT: Hint = (key) => (key === 'audit' ? moveTo(plugin('audit')) : undefined);

/** Keys OpenClaw accepts in `agents.defaults.subagents` but not per agent. */
function spawnHint(id: string | undefined): Hint {
  return (key) => {
    if (id === undefined)
      return key === 'maxSpawnsPerMinute' ? moveTo(plugin('defaults', 'subagents', key)) : undefined;
    if (
      [
        'maxConcurrent',
        'maxChildrenPerAgent',
        'maxSpawnDepth',
        'runTimeoutSeconds',
        'maxSpawnsPerMinute',
      ].includes(key)
    )
      return `OpenClaw takes it only in agents.defaults.subagents; for this agent alone ${moveTo(plugin('agents', id, 'subagents', key))}`;
    return undefined;
  };
}

function checkRange(
  obj: Record<string, unknown>,
  key: keyof typeof S.limits,
  path: string,
  issues: IssueCollector,
): void {
  const v = obj[key];
  if (typeof v !== 'number') return;
  const r: { readonly min?: number; readonly max?: number } = S.limits[key];
  const low = r.min !== undefined && v < r.min;
  const high = r.max !== undefined && v > r.max;
  if (!Number.isInteger(v) || low || high) {
    const range =
      r.max === undefined
        ? `an integer of at least ${r.min ?? 0}`
        : `an integer from ${r.min ?? 0} to ${r.max}`;
    issues.add(childPointer(path, key), `OpenClaw ${OPENCLAW_VERSION} accepts ${range}, got ${v}`, CODE);
  }
}

/** Checks one agent (an `agents.entries` value or a legacy `agents.list` item). */
function checkAgent(
  raw: Record<string, unknown>,
  id: string,
  path: string,
  legacyItem: boolean,
  issues: IssueCollector,
): void {
  rejectUnknown(raw, legacyItem ? [...S.agentEntry, 'id'] : S.agentEntry, path, issues, agentHint(id));
  if (isRecord(raw.subagents))
    rejectUnknown(raw.subagents, S.entrySubagents, childPointer(path, 'subagents'), issues, spawnHint(id));
  if (isRecord(raw.tools)) rejectUnknown(raw.tools, S.agentTools, childPointer(path, 'tools'), issues);
}

/** The id message for an id OpenClaw refuses. */
export function badIdMessage(id: string): string {
  return `OpenClaw ${OPENCLAW_VERSION} rejects the agent id ${JSON.stringify(id)}: ids are 1-64 letters, digits, "_" or "-" and do not start with "-"${id.includes('.') ? ' (no dots)' : ''}`;
}

/** True when OpenClaw accepts `id` as an `agents.entries` key. */
export function isOpenClawAgentId(id: string): boolean {
  return OPENCLAW_AGENT_ID_RE.test(id);
}

/**
 * Records, with code SG_CONFIG_OPENCLAW_REJECTED, every key and value of `doc` that OpenClaw's
 * validator would reject at the levels this package reads. Legacy `agents.list` is OpenClaw's own
 * migration input and is checked item by item; the roster rules then apply to `agents.entries` only.
 */
export function checkOpenClawAcceptance(doc: Record<string, unknown>, issues: IssueCollector): void {
  rejectUnknown(doc, S.root, '', issues, ROOT_HINT);
  if (isRecord(doc.proxy)) rejectUnknown(doc.proxy, S.proxy, '/proxy', issues);
  if (isRecord(doc.tools)) {
    rejectUnknown(doc.tools, S.tools, '/tools', issues);
    if (isRecord(doc.tools.subagents))
      rejectUnknown(doc.tools.subagents, S.toolsSubagents, '/tools/subagents', issues);
  }
  if (isRecord(doc.plugins)) {
    rejectUnknown(doc.plugins, S.plugins, '/plugins', issues);
    if (isRecord(doc.plugins.entries))
      for (const [name, entry] of Object.entries(doc.plugins.entries))
        if (isRecord(entry))
          rejectUnknown(entry, S.pluginEntry, childPointer('/plugins/entries', name), issues);
  }
  const agents = doc.agents;
  if (!isRecord(agents)) return;
  rejectUnknown(agents, [...S.agents, 'list'], '/agents', issues);
  if (agents.ownership !== undefined && agents.ownership !== 'explicit')
    issues.add('/agents/ownership', `OpenClaw ${OPENCLAW_VERSION} accepts only "explicit"`, CODE);
  if (isRecord(agents.defaults)) {
    rejectUnknown(agents.defaults, S.agentDefaults, '/agents/defaults', issues, DEFAULTS_HINT);
    const sub = agents.defaults.subagents;
    if (isRecord(sub)) {
      rejectUnknown(sub, S.defaultsSubagents, '/agents/defaults/subagents', issues, spawnHint(undefined));
      for (const key of [
        'maxSpawnDepth',
        'maxChildrenPerAgent',
        'maxConcurrent',
        'runTimeoutSeconds',
      ] as const)
        checkRange(sub, key, '/agents/defaults/subagents', issues);
    }
  }
  if (Array.isArray(agents.list)) {
    agents.list.forEach((item: unknown, i) => {
      if (isRecord(item) && typeof item.id === 'string')
        checkAgent(item, item.id, childPointer('/agents/list', i), true, issues);
    });
  }
  if (!isRecord(agents.entries)) return;
  const entries = Object.entries(agents.entries);
  if (agents.list === undefined && entries.length === 0)
    issues.add(
      '/agents/entries',
      `OpenClaw ${OPENCLAW_VERSION} requires at least one agent in agents.entries`,
      CODE,
    );
  const seen = new Map<string, string>();
  for (const [id, raw] of entries) {
    const path = childPointer('/agents/entries', id);
    if (!isOpenClawAgentId(id)) issues.add(path, badIdMessage(id), CODE);
    const lower = id.toLowerCase();
    const first = seen.get(lower);
    if (first !== undefined)
      issues.add(path, `OpenClaw resolves "${first}" and "${id}" to the same agent id; rename one`, CODE);
    else seen.set(lower, id);
    if (isRecord(raw)) checkAgent(raw, id, path, false, issues);
  }
  if (agents.list !== undefined) return;
  const marked = entries.filter(([, e]) => isRecord(e) && e.default === true);
  if (marked.length > 1)
    issues.add(
      '/agents/entries',
      `OpenClaw accepts at most one default: true entry (found ${marked.length})`,
      CODE,
    );
  if (agents.ownership === 'explicit' && marked.length > 0)
    issues.add(
      '/agents/ownership',
      `OpenClaw rejects ownership "explicit" together with a legacy default: true marker; remove the marker and name the parent at ${plugin('parent')}`,
      CODE,
    );
  if (entries.length > 1 && marked.length === 0 && agents.ownership !== 'explicit')
    issues.add(
      '/agents/ownership',
      'OpenClaw requires agents.ownership: "explicit" (or one legacy default: true entry) when agents.entries has several agents',
      CODE,
    );
}

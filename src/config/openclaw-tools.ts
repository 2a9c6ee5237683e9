/**
 * A sub-agent's tool policy from an OpenClaw-shaped document, read the way OpenClaw reads it: every
 * layer OpenClaw applies (see ../policy/openclaw-layers.ts), OpenClaw's catalog, groups and
 * aliases, then combined into this package's single allow/deny pair.
 *
 * Deliberate differences from OpenClaw, all stricter (docs/config.md, "Tool policy: OpenClaw's
 * catalog and layers"): when no layer has an allow list OpenClaw allows every tool not denied, and
 * this package allows none; deny lists OpenClaw would skip (`tools.sandbox.tools.deny` when the
 * session is not sandboxed, `byProvider` denies when the model is unknown,
 * `agents.defaults.tools.deny`) still apply; `allow: ["write"]` does not also admit `apply_patch`.
 */
import { PLUGINS_GROUP, TOOL_GROUPS, isCoreTool, isKnownGroup, toolGroup } from '../policy/tool-groups.js';
import { ToolAcl } from '../policy/tools.js';
import {
  TOOL_PROFILES,
  allowedByLayers,
  openclawToolLayers,
  type OpenclawToolInputs,
  type PolicyLayer,
  type ToolPolicySection,
  type ToolScope,
} from '../policy/openclaw-layers.js';
import type { IssueCollector } from './issues.js';
import { checkToolPattern } from './patterns.js';
import { childPointer } from './pointer.js';
import { combineToolLayers } from './tool-policy.js';
import type { IgnoredKey, ToolsPolicy } from './types.js';

/** What {@link resolveOpenclawToolPolicy} needs to know about one agent. */
export interface OpenclawToolPolicyInput {
  /** The whole document (its `tools` section is read). */
  readonly root: Readonly<Record<string, unknown>>;
  /** `agents.defaults`, when present (model, sandbox mode, `subagents.maxSpawnDepth`). */
  readonly agentDefaults?: Readonly<Record<string, unknown>> | undefined;
  /** The agent's entry as written. */
  readonly agent: Readonly<Record<string, unknown>>;
  /** JSON pointer of the agent's entry. */
  readonly agentPath: string;
  /** Only sub-agents get a tool policy here (the parent is the caller's own code). */
  readonly isSubagent: true;
  /** `provider/model` to resolve `byProvider` with, overriding the agent's configured model. */
  readonly model?: string | undefined;
}

/** The combined policy plus the layers it came from (for `check` and for tests). */
export interface OpenclawToolPolicy {
  readonly policy: ToolsPolicy;
  readonly layers: readonly PolicyLayer[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

/** "did you mean" text for an unknown `group:` name. */
export function suggestGroup(name: string): string {
  const known = [...Object.keys(TOOL_GROUPS), PLUGINS_GROUP];
  const best = known
    .map((g) => ({ g, d: distance(name, g) }))
    .sort((x, y) => x.d - y.d || x.g.localeCompare(y.g))[0];
  if (best !== undefined && best.d <= Math.max(2, Math.floor(name.length / 4)))
    return `did you mean ${JSON.stringify(best.g)}?`;
  return `known groups: ${known.join(', ')}`;
}

const SECTION_KEYS = ['profile', 'allow', 'alsoAllow', 'deny'];
const NOT_APPLIED: Readonly<Record<string, string>> = {
  toolsBySender:
    'requester-scoped policy; a subagent-guard sub-agent has no requester of its own, so it is not applied; ignored',
  elevated:
    'elevated exec is an OpenClaw host feature; subagent-guard never runs tools outside its sandbox; ignored',
};
const OTHER = 'OpenClaw tool setting with no meaning for subagent-guard; ignored';

class Reader {
  constructor(
    readonly issues: IssueCollector,
    readonly ignored: IgnoredKey[],
  ) {}

  list(raw: unknown, path: string): string[] | undefined {
    if (raw === undefined) return undefined;
    if (!Array.isArray(raw)) {
      this.issues.add(path, 'expected an array of tool names, "group:*" names or patterns with "*"');
      return undefined;
    }
    const out: string[] = [];
    raw.forEach((item: unknown, i) => {
      const at = childPointer(path, i);
      if (typeof item !== 'string') {
        this.issues.add(at, 'expected a string: a tool name, a "group:*" name or a pattern with "*"');
        return;
      }
      const lower = item.trim().toLowerCase();
      if (/^group:[a-z0-9_.:-]+$/.test(lower) && !isKnownGroup(lower)) {
        // OpenClaw only warns: an unknown group matches no tool. It stays in its list (an allow
        // list naming only it still admits nothing) and is dropped after the layers are combined.
        this.ignored.push({
          path: at,
          message: `unknown tool group ${JSON.stringify(lower)} matches no tool; ${suggestGroup(lower)}`,
        });
        out.push(lower);
        return;
      }
      const r = checkToolPattern(lower);
      if (r.ok) out.push(r.value);
      else this.issues.add(at, r.message);
    });
    return [...new Set(out)];
  }

  section(raw: unknown, path: string, extra: readonly string[] = []): ToolPolicySection | undefined {
    if (raw === undefined) return undefined;
    if (!isRecord(raw)) {
      this.issues.add(path, 'expected an object with "profile", "allow", "alsoAllow" and/or "deny"');
      return undefined;
    }
    let profile: string | undefined;
    if (raw.profile !== undefined) {
      if (typeof raw.profile !== 'string' || !TOOL_PROFILES.includes(raw.profile))
        this.issues.add(
          childPointer(path, 'profile'),
          `unknown tool profile; OpenClaw's profiles are ${TOOL_PROFILES.map((p) => JSON.stringify(p)).join(', ')}`,
        );
      else profile = raw.profile;
    }
    if (raw.allow !== undefined && raw.alsoAllow !== undefined)
      this.issues.add(
        childPointer(path, 'alsoAllow'),
        'OpenClaw rejects "allow" and "alsoAllow" in one scope: merge alsoAllow into allow, or use "profile" with "alsoAllow"',
      );
    for (const key of Object.keys(raw)) {
      if (!SECTION_KEYS.includes(key) && !extra.includes(key))
        this.ignored.push({ path: childPointer(path, key), message: NOT_APPLIED[key] ?? OTHER });
    }
    return {
      profile,
      allow: this.list(raw.allow, childPointer(path, 'allow')),
      alsoAllow: this.list(raw.alsoAllow, childPointer(path, 'alsoAllow')),
      deny: this.list(raw.deny, childPointer(path, 'deny')),
    };
  }

  scope(raw: unknown, path: string, root: boolean): ToolScope | undefined {
    const extra = root ? ['byProvider', 'sandbox', 'subagents'] : ['byProvider', 'sandbox'];
    const base = this.section(raw, path, extra);
    if (base === undefined || !isRecord(raw)) return base;
    let byProvider: Record<string, ToolPolicySection> | undefined;
    const bpPath = childPointer(path, 'byProvider');
    if (raw.byProvider !== undefined) {
      if (!isRecord(raw.byProvider))
        this.issues.add(bpPath, 'expected an object keyed by provider or provider/model');
      else {
        byProvider = Object.create(null) as Record<string, ToolPolicySection>;
        for (const [key, value] of Object.entries(raw.byProvider)) {
          const s = this.section(value, childPointer(bpPath, key));
          if (s !== undefined) byProvider[key] = s;
        }
      }
    }
    let sandboxTools: ToolPolicySection | undefined;
    const sbPath = childPointer(path, 'sandbox');
    if (raw.sandbox !== undefined) {
      if (!isRecord(raw.sandbox)) this.issues.add(sbPath, 'expected an object with "tools"');
      else {
        for (const key of Object.keys(raw.sandbox))
          if (key !== 'tools') this.ignored.push({ path: childPointer(sbPath, key), message: OTHER });
        sandboxTools = this.section(raw.sandbox.tools, childPointer(sbPath, 'tools'));
      }
    }
    return { ...base, byProvider, sandboxTools };
  }
}

function modelOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isRecord(v) && typeof v.primary === 'string') return v.primary;
  return undefined;
}

function sandboxMode(v: unknown): unknown {
  return isRecord(v) ? v.mode : undefined;
}

/**
 * Resolves one sub-agent's tools from OpenClaw's `tools` (top level), the agent's own `tools`, its
 * model (for `byProvider`), the sandbox mode and `agents.defaults.subagents.maxSpawnDepth`.
 * Problems go to `issues` (with JSON pointers), notes and warnings (unknown `group:` names, with a
 * did-you-mean) to `ignored`.
 */
export function resolveOpenclawToolPolicy(
  input: OpenclawToolPolicyInput,
  issues: IssueCollector,
  ignored: IgnoredKey[],
): OpenclawToolPolicy {
  const r = new Reader(issues, ignored);
  const { root, agent, agentPath } = input;
  const defaults = input.agentDefaults ?? {};
  const rootScope = r.scope(root.tools, '/tools', true);
  let subagentTools: ToolPolicySection | undefined;
  if (isRecord(root.tools) && root.tools.subagents !== undefined) {
    const sp = '/tools/subagents';
    if (!isRecord(root.tools.subagents)) issues.add(sp, 'expected an object with "tools"');
    else {
      for (const key of Object.keys(root.tools.subagents))
        if (key !== 'tools') ignored.push({ path: childPointer(sp, key), message: OTHER });
      subagentTools = r.section(root.tools.subagents.tools, childPointer(sp, 'tools'));
    }
  }
  const agentScope = r.scope(agent.tools, childPointer(agentPath, 'tools'), false);

  const extraDeny: { label: string; deny: readonly string[] }[] = [];
  if (defaults.tools !== undefined) {
    // OpenClaw applies agents.defaults.tools to no listed agent (and its schema rejects the key);
    // a deny written there is still honoured here, an allow is not.
    const d = r.section(defaults.tools, '/agents/defaults/tools');
    if (d?.deny !== undefined && d.deny.length > 0)
      extraDeny.push({ label: 'agents.defaults.tools.deny', deny: d.deny });
    if (d?.allow !== undefined || d?.alsoAllow !== undefined || d?.profile !== undefined)
      ignored.push({
        path: '/agents/defaults/tools',
        message:
          'OpenClaw does not apply agents.defaults.tools to listed agents; only its deny list is enforced here. Put allow lists in tools or agents.entries.<id>.tools',
      });
  }

  const modelText = input.model ?? modelOf(agent.model) ?? modelOf(defaults.model);
  let model: OpenclawToolInputs['model'];
  const slash = modelText?.indexOf('/') ?? -1;
  if (modelText !== undefined && slash > 0)
    model = { provider: modelText.slice(0, slash), id: modelText.slice(slash + 1) };
  const hasByProvider = rootScope?.byProvider !== undefined || agentScope?.byProvider !== undefined;
  if (hasByProvider && model === undefined)
    ignored.push({
      path:
        agentScope?.byProvider !== undefined
          ? childPointer(agentPath, 'tools', 'byProvider')
          : '/tools/byProvider',
      message:
        'the agent has no "provider/model" model, so no byProvider entry is selected; every byProvider deny list still applies',
    });

  const mode = sandboxMode(agent.sandbox) ?? sandboxMode(defaults.sandbox) ?? 'off';
  const sandboxed = mode === 'all' || mode === 'non-main';
  if (!sandboxed && (rootScope?.sandboxTools !== undefined || agentScope?.sandboxTools !== undefined))
    ignored.push({
      path:
        agentScope?.sandboxTools !== undefined
          ? childPointer(agentPath, 'tools', 'sandbox', 'tools')
          : '/tools/sandbox/tools',
      message:
        'OpenClaw applies tools.sandbox.tools only to sandboxed sessions (sandbox.mode "all" or "non-main"); its deny list is enforced here anyway, its allow lists are not',
    });

  const subagents = isRecord(defaults.subagents) ? defaults.subagents : {};
  const maxSpawnDepth = typeof subagents.maxSpawnDepth === 'number' ? subagents.maxSpawnDepth : 5;
  const layers = openclawToolLayers({
    root: rootScope,
    agent: agentScope,
    subagentTools,
    model,
    sandboxed,
    role: maxSpawnDepth <= 1 ? 'leaf' : 'orchestrator',
    extraDeny,
  });

  const combined = combineToolLayers(
    layers.map((l) => ({
      allow: l.allow !== undefined && l.allow.length > 0 ? l.allow : undefined,
      deny: l.deny,
    })),
  );
  for (const u of combined.unrepresentable) {
    ignored.push({
      path: childPointer(agentPath, 'tools'),
      message: `allow lists of several layers overlap as ${u}, which no single pattern expresses; those tools are not allowed`,
    });
  }
  if (!layers.some((l) => l.allow !== undefined && l.allow.length > 0))
    ignored.push({
      path: childPointer(agentPath, 'tools'),
      message:
        'no profile or allow list applies to this agent: OpenClaw would offer every tool not denied, subagent-guard allows none. Set tools.profile or an allow list',
    });
  const known = (p: string): boolean => !p.startsWith('group:') || isKnownGroup(p);
  const kept = {
    allowed: combined.policy.allowed.filter(known),
    denied: combined.policy.denied.filter(known),
  };
  const policy = { ...kept, denied: relevantDenies(kept) };
  reportRemoved(agent.tools, childPointer(agentPath, 'tools'), policy, layers, ignored);
  return { policy, layers };
}

/** Notes each tool the agent's own allow lists name that another layer keeps from it. */
function reportRemoved(
  raw: unknown,
  path: string,
  policy: ToolsPolicy,
  layers: readonly PolicyLayer[],
  ignored: IgnoredKey[],
): void {
  if (!isRecord(raw)) return;
  const acl = new ToolAcl(policy);
  for (const key of ['allow', 'alsoAllow'] as const) {
    const list = raw[key];
    if (!Array.isArray(list)) continue;
    list.forEach((item: unknown, i) => {
      if (typeof item !== 'string' || item.includes('*') || item.toLowerCase().startsWith('group:')) return;
      const name = item.toLowerCase();
      if (acl.decide(name).allow) return;
      const by = layers.find((l) => !allowedByLayers(name, [l]));
      ignored.push({
        path: childPointer(path, key, i),
        message: `${JSON.stringify(name)} is not available: ${by === undefined ? 'no other layer allows it' : `${by.label} does not allow it`} (OpenClaw applies every tool layer; each allow list must admit a tool and no deny may name it)`,
      });
    });
  }
}

/**
 * The deny patterns that can still refuse something the allow list admits. The built-in sub-agent
 * and sandbox deny lists name dozens of tools; those no allow pattern reaches change no decision,
 * and listing them would bury the ones that do.
 */
function relevantDenies(policy: ToolsPolicy): string[] {
  const open = policy.allowed.some((p) => p.includes('*') || p === PLUGINS_GROUP);
  if (open) return [...policy.denied];
  const acl = new ToolAcl({ allowed: policy.allowed, denied: [] });
  const allowedNames = policy.allowed.flatMap((p) =>
    p.startsWith('group:') ? [...(toolGroup(p) ?? [])] : [p],
  );
  return policy.denied.filter((d) => {
    if (d === PLUGINS_GROUP) return allowedNames.some((n) => !isCoreTool(n));
    if (d.startsWith('group:')) return (toolGroup(d) ?? []).some((m) => acl.decide(m).allow);
    if (d.includes('*'))
      return allowedNames.some((n) => new ToolAcl({ allowed: [d], denied: [] }).decide(n).allow);
    return acl.decide(d).allow;
  });
}

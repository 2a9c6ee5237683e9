/**
 * OpenClaw's tool-policy layers, in the order OpenClaw applies them to a sub-agent's tools
 * (`tools.profile`, `tools.byProvider.<p>.profile`, `tools.allow/alsoAllow/deny`,
 * `tools.byProvider.<p>`, the agent's own `tools`, its `tools.byProvider.<p>`, `tools.sandbox.tools`
 * when the session is sandboxed, then `tools.subagents.tools` with the built-in sub-agent deny
 * list). A tool is available only when every layer lets it through: a deny at any layer wins, and
 * a layer with a non-empty allow list admits only what it lists. Pure: no I/O.
 *
 * The semantics follow OpenClaw 2026.9.6's own code (tool-policy-pipeline, sandbox-tool-policy,
 * sandbox/tool-policy, agent-tools.policy); the tables come from ./openclaw-catalog.ts.
 */
import { OPENCLAW_CATALOG } from './openclaw-catalog.js';
import { PLUGINS_GROUP, isCoreTool, toolAlias, toolGroup } from './tool-groups.js';

/** One `tools`-shaped section as written (lists lower-cased by the caller). */
export interface ToolPolicySection {
  readonly profile?: string | undefined;
  readonly allow?: readonly string[] | undefined;
  readonly alsoAllow?: readonly string[] | undefined;
  readonly deny?: readonly string[] | undefined;
}

/** A `tools` scope (the root one or an agent's) as written. */
export interface ToolScope extends ToolPolicySection {
  /** `byProvider`, keyed as written (`anthropic`, `openai/gpt-5.4`). */
  readonly byProvider?: Readonly<Record<string, ToolPolicySection>> | undefined;
  /** `sandbox.tools`. */
  readonly sandboxTools?: ToolPolicySection | undefined;
}

/** Everything that decides a sub-agent's tools. */
export interface OpenclawToolInputs {
  readonly root?: ToolScope | undefined;
  readonly agent?: ToolScope | undefined;
  /** Root `tools.subagents.tools` (OpenClaw reads it at the top level only). */
  readonly subagentTools?: ToolPolicySection | undefined;
  /** The agent's model as `provider` and optional model id; undefined when it cannot be resolved. */
  readonly model?: { readonly provider: string; readonly id?: string | undefined } | undefined;
  /** True when OpenClaw would sandbox the sub-agent's session (`sandbox.mode` `all` or `non-main`). */
  readonly sandboxed: boolean;
  /** `leaf` when the child sits at `maxSpawnDepth` (it may not spawn), else `orchestrator`. */
  readonly role: 'leaf' | 'orchestrator';
  /** Extra deny-only layers this package applies on top (see docs/config.md). */
  readonly extraDeny?: readonly { readonly label: string; readonly deny: readonly string[] }[] | undefined;
}

/** One policy layer; an absent or empty allow list places no restriction at that layer. */
export interface PolicyLayer {
  readonly label: string;
  readonly allow?: readonly string[] | undefined;
  readonly deny?: readonly string[] | undefined;
}

type ProfileId = keyof typeof OPENCLAW_CATALOG.profiles;

/** Tool profile names OpenClaw knows. */
export const TOOL_PROFILES: readonly string[] = Object.keys(OPENCLAW_CATALOG.profiles);

/** The allow list of a built-in profile, or undefined for an unknown or absent one. */
export function profileAllow(profile: string | undefined): readonly string[] | undefined {
  if (profile === undefined || !Object.hasOwn(OPENCLAW_CATALOG.profiles, profile)) return undefined;
  return OPENCLAW_CATALOG.profiles[profile as ProfileId].allow;
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs)];

/**
 * Policy names as OpenClaw rewrites them before matching: lower-case, aliases resolved, retired
 * names renamed (`update_plan` → `progress_card`) and family names widened (`canvas` also names
 * `show_widget`).
 */
export function normalizePolicyNames(list: readonly string[]): string[] {
  const renames: Readonly<Record<string, string>> = OPENCLAW_CATALOG.policyRenames;
  const families: Readonly<Record<string, readonly string[]>> = OPENCLAW_CATALOG.policyFamilies;
  return unique(
    list.flatMap((raw) => {
      const lower = raw.trim().toLowerCase();
      if (lower === '') return [];
      const n = toolAlias(lower) ?? lower;
      const renamed = Object.hasOwn(renames, n) ? (renames[n] ?? n) : n;
      return [renamed, ...(Object.hasOwn(families, n) ? (families[n] ?? []) : [])];
    }),
  );
}

/** OpenClaw's `pickSandboxToolPolicy`: allow ∪ alsoAllow, and alsoAllow alone means `*` plus those. */
function pick(label: string, s: ToolPolicySection | undefined): PolicyLayer | undefined {
  if (s === undefined) return undefined;
  const also = s.alsoAllow !== undefined && s.alsoAllow.length > 0 ? s.alsoAllow : undefined;
  let allow: string[] | undefined;
  if (s.allow !== undefined)
    allow =
      also === undefined ? [...s.allow] : unique([...(s.allow.length === 0 ? ['*'] : s.allow), ...also]);
  else if (also !== undefined) allow = unique(['*', ...also]);
  if (allow === undefined && s.deny === undefined) return undefined;
  return { label, allow, deny: s.deny };
}

/** A profile layer widened by `alsoAllow` (OpenClaw's `mergeAlsoAllowPolicy`). */
function profileLayer(
  label: string,
  profile: string | undefined,
  also: readonly string[] | undefined,
): PolicyLayer | undefined {
  const allow = profileAllow(profile);
  if (allow === undefined) return undefined;
  return {
    label: `${label} (${profile ?? ''})`,
    allow: also === undefined || also.length === 0 ? allow : unique([...allow, ...also]),
  };
}

function providerKey(key: string): string {
  const k = key.trim().toLowerCase();
  const slash = k.indexOf('/');
  if (slash <= 0) return k;
  const model = k.slice(slash + 1);
  return model === '' ? k.slice(0, slash) : `${k.slice(0, slash)}/${model}`;
}

/** OpenClaw's `resolveProviderToolPolicy`: `provider/model` first, then `provider`. */
function providerSection(
  byProvider: Readonly<Record<string, ToolPolicySection>> | undefined,
  model: OpenclawToolInputs['model'],
): { key: string; section: ToolPolicySection } | undefined {
  if (byProvider === undefined || model === undefined) return undefined;
  const lookup = new Map<string, { key: string; section: ToolPolicySection; canonical: boolean }>();
  for (const [key, section] of Object.entries(byProvider)) {
    const k = providerKey(key);
    if (k === '') continue;
    const canonical = key.toLowerCase() === k;
    const existing = lookup.get(k);
    if (existing === undefined || (canonical && !existing.canonical))
      lookup.set(k, { key, section, canonical });
  }
  const provider = providerKey(model.provider);
  const id = model.id?.trim().toLowerCase();
  for (const k of [...(id ? [`${provider}/${id}`] : []), provider]) {
    const hit = lookup.get(k);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** A glob list matcher with OpenClaw's rules: groups expanded, names normalised, `*` wildcard. */
export function matchesPolicyList(name: string, list: readonly string[]): boolean {
  const n = normalizePolicyNames([name])[0] ?? '';
  for (const p of normalizePolicyNames(list)) {
    if (p === PLUGINS_GROUP && !isCoreTool(n)) return true;
    for (const q of p.startsWith('group:') ? (toolGroup(p) ?? [p]) : [p]) {
      if (q === '*' || q === n) return true;
      if (q.includes('*')) {
        const re = new RegExp(`^${q.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
        if (re.test(n)) return true;
      }
    }
  }
  return false;
}

/** OpenClaw's `resolveSandboxToolPolicyForAgent`: per list, the agent's value replaces the root's. */
function sandboxLayer(
  root: ToolPolicySection | undefined,
  agent: ToolPolicySection | undefined,
): PolicyLayer {
  const allowCfg = agent?.allow ?? root?.allow;
  const alsoCfg = agent?.alsoAllow ?? root?.alsoAllow;
  const denyCfg = agent?.deny ?? root?.deny;
  const defaults = OPENCLAW_CATALOG.sandboxDefaults;
  let allow: string[];
  if (allowCfg !== undefined) {
    allow = allowCfg.length === 0 ? [] : unique([...allowCfg, ...(alsoCfg ?? [])]);
  } else {
    allow = unique([...defaults.allow, ...(alsoCfg ?? [])]);
  }
  const explicit = unique([...(allowCfg ?? []), ...(alsoCfg ?? [])]);
  let deny: string[] =
    denyCfg !== undefined
      ? [...denyCfg]
      : defaults.deny.filter((t) => explicit.length === 0 || !matchesPolicyList(t, explicit));
  // Kept from OpenClaw: denying the retired name "image" also denies view_image, and a non-empty
  // sandbox allow list always admits view_image unless it is denied.
  if (matchesPolicyList('image', deny) && !matchesPolicyList('view_image', deny))
    deny = [...deny, 'view_image'];
  const lowerDeny = deny.map((d) => d.toLowerCase());
  if (
    allow.length > 0 &&
    !lowerDeny.includes('view_image') &&
    !allow.map((a) => a.toLowerCase()).includes('view_image')
  )
    allow = [...allow, 'view_image'];
  return { label: 'tools.sandbox.tools', allow, deny };
}

/** The layers OpenClaw applies to a sub-agent, in its order; absent layers are left out. */
export function openclawToolLayers(input: OpenclawToolInputs): PolicyLayer[] {
  const { root, agent } = input;
  const profile = agent?.profile ?? root?.profile;
  const profileAlso = agent?.alsoAllow ?? root?.alsoAllow;
  const rootProvider = providerSection(root?.byProvider, input.model);
  const agentProvider = providerSection(agent?.byProvider, input.model);
  const providerProfile = agentProvider?.section.profile ?? rootProvider?.section.profile;
  const providerAlso = agentProvider?.section.alsoAllow ?? rootProvider?.section.alsoAllow;
  const layers: (PolicyLayer | undefined)[] = [
    profileLayer('tools.profile', profile, profileAlso),
    profileLayer('tools.byProvider.profile', providerProfile, providerAlso),
    pick('tools', root),
    rootProvider && pick(`tools.byProvider.${rootProvider.key}`, rootProvider.section),
    pick('agent tools', agent),
    agentProvider && pick(`agent tools.byProvider.${agentProvider.key}`, agentProvider.section),
  ];
  if (input.model === undefined) {
    // The provider is unknown: no provider entry can widen or narrow the allow lists, but every
    // deny written under byProvider still holds (a deny must never be lost).
    for (const [scope, s] of [
      ['tools', root],
      ['agent tools', agent],
    ] as const) {
      for (const [key, section] of Object.entries(s?.byProvider ?? {})) {
        if (section.deny !== undefined && section.deny.length > 0)
          layers.push({ label: `${scope}.byProvider.${key}.deny`, deny: section.deny });
      }
    }
  }
  if (input.sandboxed) layers.push(sandboxLayer(root?.sandboxTools, agent?.sandboxTools));
  else {
    const deny = agent?.sandboxTools?.deny ?? root?.sandboxTools?.deny;
    if (deny !== undefined && deny.length > 0) layers.push({ label: 'tools.sandbox.tools.deny', deny });
  }
  const sub = input.subagentTools;
  const subAllow =
    sub?.allow !== undefined && sub.alsoAllow !== undefined
      ? unique([...sub.allow, ...sub.alsoAllow])
      : sub?.allow;
  layers.push({
    label: `sub-agent (${input.role})`,
    allow: subAllow,
    deny: [...OPENCLAW_CATALOG.subagentDeny[input.role], ...(sub?.deny ?? [])],
  });
  for (const extra of input.extraDeny ?? []) layers.push({ label: extra.label, deny: extra.deny });
  return layers
    .filter((l): l is PolicyLayer => l !== undefined)
    .map((l) => ({
      label: l.label,
      allow: l.allow === undefined ? undefined : normalizePolicyNames(l.allow),
      deny: l.deny === undefined ? undefined : normalizePolicyNames(l.deny),
    }));
}

/** OpenClaw's decision for one tool name: every layer must let it through. */
export function allowedByLayers(name: string, layers: readonly PolicyLayer[]): boolean {
  return layers.every(
    (l) =>
      !matchesPolicyList(name, l.deny ?? []) &&
      (l.allow === undefined || l.allow.length === 0 || matchesPolicyList(name, l.allow)),
  );
}

#!/usr/bin/env node
// Generates src/policy/openclaw-catalog.ts from the pinned OpenClaw package installed in
// tools/openclaw (see scripts/setup-openclaw.mjs): its core tool catalog, groups, aliases, tool
// profiles, the built-in sub-agent deny lists and the sandbox tool defaults. The values are read
// from OpenClaw's own modules (run with Node >= 24.16, which OpenClaw needs), so the checked-in
// table is what that release enforces, not what its documentation says.
//
// Usage: <node24> scripts/gen-openclaw-catalog.mjs [--check]
//   --check  compare with the checked-in file instead of writing it; exit 1 when they differ.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = join(root, 'tools', 'openclaw', 'node_modules', 'openclaw');
const dist = join(pkgDir, 'dist');
const outFile = join(root, 'src', 'policy', 'openclaw-catalog.ts');
const check = process.argv.includes('--check');

const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;

// OpenClaw's dist is a bundle of hashed chunks; each keeps `//#region <source file>` markers and
// ends with `export { local as x, ... }`. Modules are found by their source file, names mapped
// through that export list, so a rebuilt bundle with other hashes still resolves.
const chunks = readdirSync(dist).filter((f) => f.endsWith('.mjs'));
const texts = new Map();
function chunkFor(region) {
  const marker = `//#region ${region}\n`;
  for (const f of chunks) {
    let text = texts.get(f);
    if (text === undefined) {
      text = readFileSync(join(dist, f), 'utf8');
      texts.set(f, text);
    }
    if (text.includes(marker)) return { file: join(dist, f), text };
  }
  throw new Error(`gen-openclaw-catalog: no chunk of openclaw ${version} holds ${region}`);
}
async function load(region, names) {
  const { file, text } = chunkFor(region);
  const m = /export \{([^}]*)\};\s*$/.exec(text);
  if (!m) throw new Error(`gen-openclaw-catalog: ${file} has no export list`);
  const map = new Map(
    m[1].split(',').map((s) => {
      const [local, exported] = s.trim().split(/\s+as\s+/);
      return [local, exported ?? local];
    }),
  );
  const mod = await import(pathToFileURL(file).href);
  const out = {};
  for (const n of names) {
    if (!map.has(n)) throw new Error(`gen-openclaw-catalog: ${region} does not export ${n}`);
    out[n] = mod[map.get(n)];
  }
  return { ...out, text };
}
/** A `new Map([["a", "b"], ...])` literal of string pairs declared as `const name` in `text`. */
function mapLiteral(text, name) {
  const m = new RegExp(`const ${name} = (?:/\\* @__PURE__ \\*/ )?new Map\\((\\[[\\s\\S]*?\\])\\);`).exec(
    text,
  );
  if (!m) throw new Error(`gen-openclaw-catalog: ${name} not found`);
  return JSON.parse(m[1]);
}

const catalog = await load('src/agents/tool-catalog.ts', [
  'CORE_TOOL_GROUPS',
  'PROFILE_OPTIONS',
  'resolveCoreToolProfilePolicy',
  'listCoreToolSections',
]);
const shared = await load('src/agents/tool-policy-shared.ts', ['normalizeToolPolicyName']);
const policy = await load('src/agents/tool-policy.ts', ['expandShippedCoreToolPolicyNames']);
const agentPolicy = await load('src/agents/agent-tools.policy.ts', ['resolveSubagentToolPolicyForSession']);
const sandbox = await load('src/agents/sandbox/constants.ts', ['DEFAULT_TOOL_ALLOW', 'DEFAULT_TOOL_DENY']);

const sections = catalog.listCoreToolSections({ swarmEnabled: true, githubPublicationAvailable: true });
const tools = sections.flatMap((s) => s.tools.map((t) => t.id));
const groups = Object.fromEntries(Object.entries(catalog.CORE_TOOL_GROUPS).map(([k, v]) => [k, [...v]]));
const aliases = Object.fromEntries(mapLiteral(shared.text, 'TOOL_NAME_ALIASES'));
for (const [alias, to] of Object.entries(aliases)) {
  if (shared.normalizeToolPolicyName(alias) !== to)
    throw new Error(`gen-openclaw-catalog: alias ${alias} does not normalise to ${to}`);
}
const renames = Object.fromEntries(mapLiteral(policy.text, 'SHIPPED_CORE_POLICY_RENAMES'));
const families = Object.fromEntries(mapLiteral(policy.text, 'SHIPPED_PLUGIN_POLICY_FAMILY_CORE_TOOLS'));
for (const [from, extra] of Object.entries(families)) {
  const got = policy.expandShippedCoreToolPolicyNames([from]);
  if (JSON.stringify(got) !== JSON.stringify([renames[from] ?? from, ...extra]))
    throw new Error(`gen-openclaw-catalog: ${from} expands to ${JSON.stringify(got)}`);
}
const profiles = Object.fromEntries(
  catalog.PROFILE_OPTIONS.map((p) => {
    const r = catalog.resolveCoreToolProfilePolicy(p.id);
    return [p.id, { allow: r?.allow ?? [], ...(r?.deny ? { deny: r.deny } : {}) }];
  }),
);
// The built-in sub-agent deny lists, read through OpenClaw's own resolver for a depth-1 child:
// maxSpawnDepth 1 makes it a leaf, 5 (OpenClaw's default) an orchestrator.
const subagentDeny = (maxSpawnDepth) =>
  agentPolicy.resolveSubagentToolPolicyForSession(
    { agents: { defaults: { subagents: { maxSpawnDepth } } } },
    'agent:main:subagent:catalog',
    { store: {} },
  ).deny;

const data = {
  version,
  tools,
  groups,
  aliases,
  policyRenames: renames,
  policyFamilies: families,
  profiles,
  subagentDeny: { orchestrator: subagentDeny(5), leaf: subagentDeny(1) },
  sandboxDefaults: { allow: [...sandbox.DEFAULT_TOOL_ALLOW], deny: [...sandbox.DEFAULT_TOOL_DENY] },
};

const source = `// Generated by scripts/gen-openclaw-catalog.mjs from openclaw ${version} (tools/openclaw). Do not edit:
// run \`<node24> scripts/gen-openclaw-catalog.mjs\`; test/integration/openclaw-catalog.test.ts fails on drift.
/**
 * OpenClaw's tool catalog as its pinned release enforces it: core tools with their section group,
 * the \`group:*\` tables (12 core groups; \`group:plugins\` is resolved at run time and is not here),
 * name aliases, renamed and family policy names, tool profiles, the deny lists OpenClaw applies to
 * every sub-agent (\`orchestrator\`: children below \`maxSpawnDepth\`; \`leaf\`: at it), and the
 * sandbox tool defaults used when \`tools.sandbox.tools\` leaves a list unset.
 */
export const OPENCLAW_CATALOG = ${JSON.stringify(data, null, 2)} as const;
`;

const prettier = await import(pathToFileURL(join(root, 'node_modules', 'prettier', 'index.mjs')).href);
const options = (await prettier.resolveConfig(outFile)) ?? {};
const formatted = await prettier.format(source, { ...options, filepath: outFile });

if (check) {
  let current = '';
  try {
    current = readFileSync(outFile, 'utf8');
  } catch {
    // missing file: reported as drift below
  }
  if (current !== formatted) {
    console.error(
      `gen-openclaw-catalog: src/policy/openclaw-catalog.ts differs from openclaw ${version}; regenerate it`,
    );
    process.exit(1);
  }
  console.log(`gen-openclaw-catalog: src/policy/openclaw-catalog.ts matches openclaw ${version}`);
} else {
  writeFileSync(outFile, formatted);
  console.log(`gen-openclaw-catalog: wrote src/policy/openclaw-catalog.ts from openclaw ${version}`);
}

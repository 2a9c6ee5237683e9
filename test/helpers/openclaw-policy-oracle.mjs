#!/usr/bin/env node
// Differential-test oracle: asks OpenClaw's own policy code (the pinned package in tools/openclaw,
// run with Node >= 24.16) which tools a sub-agent session gets. Reads JSON from stdin:
//   { "names": ["read", ...], "cases": [{ "config": {...}, "agentId": "w", "model": "openai/gpt-5" }] }
// and prints { "results": [{ "allowed": [...], "sandboxed": bool } | { "error": "..." }] }.
// Each config is first checked by OpenClaw's validateConfigObject, and its materialised result is
// what the policy code sees, as at run time.
//
// The path is the one OpenClaw takes for a sub-agent turn: the session key
// agent:<id>:subagent:<uuid>, resolveSandboxRuntimeStatus for sandboxing (and then
// resolveSandboxToolPolicyForAgent), resolveConversationCapabilityProfile for the profile, global,
// agent, byProvider and sub-agent layers, and applyToolPolicyPipeline over the tool list. Names
// outside OpenClaw's core catalog are presented as tools of a plugin, as this package's tools are.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'tools', 'openclaw', 'node_modules', 'openclaw', 'dist');

// Chunks are found by their `//#region <source>` marker and read through their export list
// (see scripts/gen-openclaw-catalog.mjs).
const chunks = readdirSync(dist).filter((f) => f.endsWith('.mjs'));
async function load(region, names) {
  const marker = `//#region ${region}\n`;
  for (const f of chunks) {
    const text = readFileSync(join(dist, f), 'utf8');
    if (!text.includes(marker)) continue;
    const m = /export \{([^}]*)\};\s*$/.exec(text);
    const map = new Map(
      (m?.[1] ?? '').split(',').map((s) => {
        const [local, exported] = s.trim().split(/\s+as\s+/);
        return [local, exported ?? local];
      }),
    );
    const mod = await import(pathToFileURL(join(dist, f)).href);
    return Object.fromEntries(
      names.map((n) => {
        if (!map.has(n)) throw new Error(`${region} does not export ${n}`);
        return [n, mod[map.get(n)]];
      }),
    );
  }
  throw new Error(`no chunk holds ${region}`);
}

const { resolveSandboxRuntimeStatus } = await load('src/agents/sandbox/runtime-status.ts', [
  'resolveSandboxRuntimeStatus',
]);
const { resolveSandboxToolPolicyForAgent } = await load('src/agents/sandbox/tool-policy.ts', [
  'resolveSandboxToolPolicyForAgent',
]);
const { resolveConversationCapabilityProfile } = await load('src/agents/conversation-capability-profile.ts', [
  'resolveConversationCapabilityProfile',
]);
const { resolveConversationToolPolicies, buildConversationToolPolicyPipelineSteps } = await load(
  'src/agents/conversation-tool-policy-pipeline.ts',
  ['resolveConversationToolPolicies', 'buildConversationToolPolicyPipelineSteps'],
);
const { applyToolPolicyPipeline } = await load('src/agents/tool-policy-pipeline.ts', [
  'applyToolPolicyPipeline',
]);
const { isKnownCoreToolId } = await load('src/agents/tool-catalog.ts', ['isKnownCoreToolId']);
const { normalizeToolPolicyName } = await load('src/agents/tool-policy-shared.ts', [
  'normalizeToolPolicyName',
]);
const { validateConfigObject } = await load('src/config/validation-core.ts', ['validateConfigObject']);

const input = JSON.parse(readFileSync(0, 'utf8'));
const results = input.cases.map((c, i) => {
  try {
    // OpenClaw validates the file and runs on the materialised result; an invalid case is a bug
    // in the test, not a finding.
    const validated = validateConfigObject(JSON.parse(JSON.stringify(c.config)));
    if (!validated.ok) return { error: `invalid OpenClaw config: ${JSON.stringify(validated.issues)}` };
    const cfg = validated.config;
    const sessionKey = `agent:${c.agentId}:subagent:oracle-${i}`;
    const slash = typeof c.model === 'string' ? c.model.indexOf('/') : -1;
    const modelProvider = slash > 0 ? c.model.slice(0, slash) : undefined;
    const modelId = slash > 0 ? c.model.slice(slash + 1) : undefined;
    const status = resolveSandboxRuntimeStatus({
      cfg,
      sessionKey,
      agentId: c.agentId,
      preparedSessionEntry: null,
    });
    const sandboxToolPolicy = status.sandboxed
      ? resolveSandboxToolPolicyForAgent(cfg, status.classificationAgentId)
      : undefined;
    const capabilityProfile = resolveConversationCapabilityProfile({
      config: cfg,
      sessionKey,
      agentId: c.agentId,
      modelProvider,
      modelId,
      sandboxToolPolicy,
    });
    const policies = resolveConversationToolPolicies({ capabilityProfile });
    const tools = input.names.map((name) => ({ name }));
    const filtered = applyToolPolicyPipeline({
      tools,
      toolMeta: (tool) =>
        isKnownCoreToolId(normalizeToolPolicyName(tool.name)) ? undefined : { pluginId: 'subagent-guard' },
      warn: () => undefined,
      steps: buildConversationToolPolicyPipelineSteps({
        capabilityProfile,
        policies,
        includeRuntimeToolPolicy: true,
      }),
    });
    return { allowed: filtered.map((t) => t.name), sandboxed: status.sandboxed };
  } catch (err) {
    return { error: String(err?.stack ?? err) };
  }
});
process.stdout.write(JSON.stringify({ results }));

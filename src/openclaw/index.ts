/**
 * `subagent-guard/openclaw`: this package as an OpenClaw plugin (id `subagent-guard`). Installed
 * into a Gateway (`openclaw plugins install`, or `plugins.load.paths`), it reads the openclaw.json
 * the Gateway already has (our settings under `plugins.entries["subagent-guard"].config`) and
 *
 * - applies every agent's tool ACL and per-run call/cost quotas in `before_tool_call`, refusing
 *   OpenClaw's host-side network tools unless `enforce.host_network_tools` is "allow";
 * - checks and reserves every `sessions_spawn` against the spawn quotas, released on
 *   `subagent_ended`, a failed spawn, a timeout or `gateway_stop`;
 * - registers `guarded_fetch`, which fetches through our egress gateway in a subagent of the
 *   calling agent;
 * - audits every decision with OpenClaw's agentId, sessionKey and runId.
 *
 * Needs Node >= 24.16 (OpenClaw's own floor); the rest of the package keeps Node >= 20.18.
 * `register(api)` is synchronous, as OpenClaw requires; the egress gateway starts on first use.
 */
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import { createAuditLogger } from '../audit/logger.js';
import { PLUGIN_ID, PluginConfigSchema, type PluginEnforce } from '../config/plugin-schema.js';
import { parseConfig } from '../config/parse.js';
import type { GuardConfig } from '../config/types.js';
import { ConfigError, errorMessage } from '../errors.js';
import { GUARDED_FETCH_PARAMETERS, GuardedFetch } from './guarded-fetch.js';
import { PluginGuard } from './guard.js';
import type { OpenclawPluginApi, OpenclawTool, OpenclawToolFactoryContext } from './types.js';

export { PluginGuard } from './guard.js';
export type { PluginGuardOptions } from './guard.js';
export { ToolGuard, HOST_NETWORK_TOOLS } from './tool-guard.js';
export type { PluginToolDecision, PluginToolReason, ToolGuardOptions } from './tool-guard.js';
export { SpawnGuard, sessionDepth } from './spawn-guard.js';
export type { PluginSpawnDecision, PluginSpawnReason, SpawnGuardOptions } from './spawn-guard.js';
export { GuardedFetch, FETCH_PARENT } from './guarded-fetch.js';
export type { OpenclawPluginApi } from './types.js';

/** Where relative paths of the Gateway's openclaw.json resolve: its directory. */
function configDir(): string {
  const path = process.env.OPENCLAW_CONFIG_PATH;
  if (path !== undefined && path !== '') return dirname(path);
  return join(process.env.OPENCLAW_STATE_DIR ?? join(homedir(), '.openclaw'));
}

/** Reads the Gateway's config; the reason it is unusable instead of throwing. */
function readConfig(
  api: OpenclawPluginApi,
): { config: GuardConfig; enforce: PluginEnforce | undefined } | { invalid: string } {
  try {
    const config = parseConfig(api.config, { source: 'openclaw.json (Gateway)', baseDir: configDir() });
    const plugin = PluginConfigSchema.safeParse(api.pluginConfig ?? {});
    return { config, enforce: plugin.success ? plugin.data.enforce : undefined };
  } catch (err) {
    if (err instanceof ConfigError) {
      const first = err.issues.slice(0, 3).map((i) => `${i.path || '/'}: ${i.message}`);
      return { invalid: `${err.issues.length} config issue(s): ${first.join('; ')}` };
    }
    return { invalid: errorMessage(err) };
  }
}

function refusingTool(why: string): OpenclawTool {
  return {
    name: 'guarded_fetch',
    label: 'Guarded fetch',
    description: 'Fetch a URL through subagent-guard (unavailable: ' + why + ')',
    parameters: GUARDED_FETCH_PARAMETERS,
    execute: () =>
      Promise.resolve({ content: [{ type: 'text', text: `guarded_fetch is unavailable: ${why}` }] }),
  };
}

/** Wires the hooks and the tool into one Gateway. */
function register(api: OpenclawPluginApi): void {
  const mode = (api as { registrationMode?: unknown }).registrationMode;
  if (mode !== undefined && mode !== 'full') {
    // Discovery and setup loads only list what the plugin provides; nothing runs there.
    api.registerTool(refusingTool('the plugin is not loaded for a Gateway run'), { name: 'guarded_fetch' });
    return;
  }
  const read = readConfig(api);
  const sink = createAuditLogger(
    'invalid' in read ? {} : { path: read.config.audit.path, level: read.config.audit.level },
  );
  const logger: Logger = sink.logger;
  const guard = new PluginGuard({
    config: 'invalid' in read ? { invalid: read.invalid } : read.config,
    enforce: 'invalid' in read ? undefined : read.enforce,
    logger,
  });
  const fetcher = 'invalid' in read ? undefined : new GuardedFetch({ config: read.config, logger });
  if ('invalid' in read) {
    logger.error(
      { event: AuditEvent.PluginStart, plugin: PLUGIN_ID, ok: false, detail: read.invalid },
      'config invalid: every tool call is refused',
    );
    api.logger?.error(`subagent-guard: configuration invalid, every tool call is refused: ${read.invalid}`);
  } else {
    logger.info(
      {
        event: AuditEvent.PluginStart,
        plugin: PLUGIN_ID,
        ok: true,
        agents: Object.keys(read.config.agents),
        hostNetworkTools: read.enforce?.host_network_tools ?? 'deny',
      },
      'subagent-guard enforcing in the OpenClaw Gateway',
    );
  }

  // Highest priority: a refusal is terminal and must come before any other plugin's rewrite.
  api.on('before_tool_call', (event: unknown, ctx: unknown) => guard.beforeToolCall(event, ctx), {
    priority: 10_000,
  });
  api.on('after_tool_call', (event: unknown, ctx: unknown) => {
    guard.afterToolCall(event, ctx);
  });
  api.on('subagent_spawned', (event: unknown, ctx: unknown) => {
    guard.subagentSpawned(event, ctx);
  });
  api.on('subagent_ended', (event: unknown, ctx: unknown) => {
    guard.subagentEnded(event, ctx);
  });
  api.on('gateway_stop', async () => {
    guard.stop();
    await fetcher?.close();
    await sink.close();
  });

  api.registerTool(
    (ctx: OpenclawToolFactoryContext) => {
      if (fetcher === undefined) return refusingTool('the plugin configuration is invalid');
      const agentId = typeof ctx.agentId === 'string' ? guard.resolveAgent(ctx.agentId) : undefined;
      if (agentId === undefined) return refusingTool('the calling agent is not defined in agents.entries');
      return {
        name: 'guarded_fetch',
        label: 'Guarded fetch',
        description:
          "Fetch an untrusted http(s) URL in an isolated subagent-guard subagent with this agent's own domain allowlist and quotas; JSON bodies are returned sanitized.",
        parameters: GUARDED_FETCH_PARAMETERS as unknown as Record<string, unknown>,
        execute: (_toolCallId: string, params: unknown, signal?: AbortSignal) =>
          fetcher.run({ agentId, sessionKey: ctx.sessionKey, runId: ctx.runId }, params, signal),
      };
    },
    { name: 'guarded_fetch' },
  );
}

/**
 * The plugin entry OpenClaw loads (`definePluginEntry`'s shape, without importing OpenClaw).
 * Its config schema is the manifest's (openclaw.plugin.json), validated by OpenClaw before load.
 */
const plugin = {
  id: PLUGIN_ID,
  name: 'subagent-guard',
  description:
    'Per-agent tool, spawn and egress enforcement: tool ACLs, quotas, guarded_fetch and an audit log.',
  register,
};
export default plugin;

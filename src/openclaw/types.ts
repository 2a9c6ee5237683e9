/**
 * The parts of OpenClaw's plugin API this plugin uses, written down structurally from the pinned
 * release's `dist/plugin-entry-*.d.ts` (2026.9.6). OpenClaw is an optional peer, never imported:
 * the library keeps working on Node 20 without it. Every field OpenClaw hands us is re-checked
 * before use (`guard.ts`), because a missing id must fail closed, not fall through.
 */

/** `ctx` of `before_tool_call` / `after_tool_call` (PluginHookToolContext). */
export interface OpenclawToolContext {
  agentId?: string;
  sessionKey?: string;
  sessionId?: string;
  runId?: string;
  toolName?: string;
  toolCallId?: string;
  abortSignal?: AbortSignal;
}

/** `before_tool_call` event (PluginHookBeforeToolCallEvent). */
export interface OpenclawBeforeToolCallEvent {
  toolName: string;
  params: Record<string, unknown>;
  runId?: string;
  toolCallId?: string;
}

/** `before_tool_call` result (PluginHookBeforeToolCallResult, the parts we return). */
export interface OpenclawBeforeToolCallResult {
  block?: boolean;
  blockReason?: string;
}

/** `after_tool_call` event (PluginHookAfterToolCallEvent). */
export interface OpenclawAfterToolCallEvent {
  toolName: string;
  params: Record<string, unknown>;
  runId?: string;
  toolCallId?: string;
  result?: unknown;
  error?: string;
}

/** `ctx` of the subagent hooks (PluginHookSubagentContext). */
export interface OpenclawSubagentContext {
  runId?: string;
  childSessionKey?: string;
  requesterSessionKey?: string;
}

/** `subagent_spawned` event (PluginHookSubagentSpawnedEvent). */
export interface OpenclawSubagentSpawnedEvent {
  childSessionKey: string;
  agentId: string;
  runId: string;
  mode?: 'run' | 'session';
  label?: string;
}

/** `subagent_ended` event (PluginHookSubagentEndedEvent): no agentId, `targetSessionKey` is the child. */
export interface OpenclawSubagentEndedEvent {
  targetSessionKey: string;
  targetKind?: 'subagent' | 'acp';
  reason?: string;
  runId?: string;
  outcome?: string;
  error?: string;
}

/** What a tool's `execute` returns (AgentToolResult). */
export interface OpenclawToolResult {
  content: { type: 'text'; text: string }[];
  details?: unknown;
}

/** A tool as `api.registerTool` takes it (AnyAgentTool, the parts we use). */
export interface OpenclawTool {
  name: string;
  label?: string;
  description: string;
  parameters: Record<string, unknown>;
  execute(toolCallId: string, params: unknown, signal?: AbortSignal): Promise<OpenclawToolResult>;
}

/** Context a tool factory receives (OpenClawPluginToolContext, the parts we use). */
export interface OpenclawToolFactoryContext {
  agentId?: string;
  sessionKey?: string;
  sessionId?: string;
  runId?: string;
}

/** `api.logger` (PluginLogger). */
export interface OpenclawLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The `api` object `register(api)` receives (OpenClawPluginApi, the parts we use). */
export interface OpenclawPluginApi {
  id: string;
  config: unknown;
  pluginConfig?: Record<string, unknown>;
  logger?: OpenclawLogger;
  /** Resolves a user path (`~`) the way OpenClaw does; absent in some harnesses. */
  resolvePath?: (input: string) => string;
  registerTool(
    tool: OpenclawTool | ((ctx: OpenclawToolFactoryContext) => OpenclawTool | null | undefined),
    opts?: { name?: string; names?: string[]; optional?: boolean },
  ): void;
  on(hookName: string, handler: (event: never, ctx: never) => unknown, opts?: { priority?: number }): void;
}

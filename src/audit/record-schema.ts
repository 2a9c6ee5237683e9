/**
 * The field schema of every audit record, one strict zod schema per event. The source of truth
 * for `schemas/audit-record.schema.json` (shipped as `subagent-guard/audit-record.schema.json`)
 * and for docs/observability.md; a test validates every record real runs write against it.
 *
 * Strict: a field a record carries that its schema does not name is an error, so a new field
 * cannot reach the log undocumented. The map is checked with `satisfies Record<AuditEventName, ...>`:
 * an event added to the registry without a schema here does not compile.
 */
import { z } from 'zod';
import { REFUSAL_REASONS } from '../gateway/reasons.js';
import { TERMINATION_REASONS, VIOLATION_REASONS } from '../ipc/outcome.js';
import { PLUGIN_SPAWN_REASONS } from '../openclaw/spawn-guard.js';
import { PLUGIN_TOOL_REASONS } from '../openclaw/tool-guard.js';
import { AuditEvent, type AuditEventName } from './events.js';

/**
 * pino's numeric levels (what `pino-pretty -L warn` and every pino tool filter on). The label
 * (`info`, `warn`, ...) is the key; `debug`/`trace` records are not written by this package.
 */
export const AUDIT_LEVELS = Object.freeze({ debug: 20, info: 30, warn: 40, error: 50 } as const);

const level = z
  .literal([20, 30, 40, 50])
  .describe('pino numeric level: 20 debug, 30 info, 40 warn, 50 error');

/** Fields every record carries (pino's own plus ours). */
const base = {
  level,
  time: z.string().describe('ISO 8601 time the record was written'),
  pid: z.number().int().describe('process id of the writer (the orchestrator or the gateway)'),
  hostname: z.string().describe('host name of the writer'),
  service: z.literal('subagent-guard'),
  msg: z.string().describe('human-readable summary; never parsed'),
};

const id = z.string().max(64);
const name = z.string().max(256);
const ms = z.number().nonnegative();
const count = z.number().int().nonnegative();

/** Who a subagent record is about. */
const who = {
  subagentId: id,
  agent: name,
  parent: name,
  parentId: id.optional().describe('id of the parent subagent, for a nested spawn'),
};

const usage = z.strictObject({
  wallMs: ms,
  toolCalls: count,
  apiCalls: count,
  costUsd: z.number().nonnegative(),
  peakRssMb: z.number().nonnegative(),
  egressRequests: count,
  egressBytesOut: count,
  egressBytesIn: count,
});

const egressUsage = {
  requests: count,
  bytesIn: count,
  bytesOut: count,
};

const isolationLevel = z.enum(['gvisor', 'bubblewrap', 'unshare', 'process']);
const reportOnlyPart = z.enum(['network', 'tools']);
const notEnforced = z
  .literal(false)
  .optional()
  .describe(
    'false on an allow that report-only mode let through (the record is warn; reason is what enforcement would have said); absent otherwise',
  );
const egressReason = z.enum(['allowed', ...REFUSAL_REASONS]);

/** OpenClaw's own ids, for correlating with its logs (absent when OpenClaw did not send them). */
const openclawIds = {
  agentId: name.optional(),
  sessionKey: name.optional(),
  runId: name.optional(),
};
const pluginToolReason = z.enum(PLUGIN_TOOL_REASONS);
const pluginSpawnReason = z.enum(PLUGIN_SPAWN_REASONS);

function record<E extends AuditEventName, S extends z.core.$ZodLooseShape>(
  event: E,
  shape: S,
  description: string,
): z.ZodObject<typeof base & { event: z.ZodLiteral<E> } & S, z.core.$strict> {
  return z.strictObject({ ...base, event: z.literal(event), ...shape }).describe(description);
}

/** One strict schema per audit event. */
export const AuditRecordSchemas = {
  [AuditEvent.OrchestratorStart]: record(
    AuditEvent.OrchestratorStart,
    {
      isolation: isolationLevel,
      staleDirsRemoved: count,
      available: z.array(isolationLevel),
      cgroup: z.enum(['v2', 'v1']).nullable(),
      gateway: z.string().describe('the gateway URL, without credentials'),
      weaker: z
        .string()
        .optional()
        .describe('set (and the record is warn) when the level is weaker than a sandbox'),
      inspectorOpen: z.literal(true).optional().describe("Node's inspector was already open"),
    },
    'orchestrator started',
  ),
  [AuditEvent.OrchestratorClose]: record(
    AuditEvent.OrchestratorClose,
    { isolation: isolationLevel },
    'orchestrator closed',
  ),
  [AuditEvent.OrchestratorReportOnly]: record(
    AuditEvent.OrchestratorReportOnly,
    { code: z.literal('SG_REPORT_ONLY'), agent: name, reportOnly: z.array(reportOnlyPart) },
    'an agent of the config runs part of its policy in report-only mode (at creation, once per agent)',
  ),
  [AuditEvent.OrchestratorSignalIgnored]: record(
    AuditEvent.OrchestratorSignalIgnored,
    { signal: z.literal('SIGUSR1') },
    'SIGUSR1 reached the orchestrator and was ignored',
  ),
  [AuditEvent.Spawn]: record(
    AuditEvent.Spawn,
    {
      ...who,
      depth: count,
      isolation: isolationLevel,
      enforcing: z
        .boolean()
        .describe('false (and the record is warn) when part of its policy is report-only'),
      reportOnly: z
        .array(reportOnlyPart)
        .optional()
        .describe('the policy parts in report-only mode; absent when enforcing'),
    },
    'a spawn was accepted',
  ),
  [AuditEvent.SpawnDenied]: record(
    AuditEvent.SpawnDenied,
    {
      parent: name,
      parentId: id.optional(),
      agent: name,
      reason: z.enum([
        'unknown_agent',
        'agent_not_allowed',
        'depth_exceeded',
        'children_exceeded',
        'rate_exceeded',
        'queue_full',
      ]),
      detail: z.string(),
    },
    'a spawn was refused by the spawn quotas',
  ),
  [AuditEvent.SubagentLog]: record(
    AuditEvent.SubagentLog,
    {
      ...who,
      text: z.string(),
      fields: z.unknown().optional().describe('what the subagent passed to ctx.log (masked, size-capped)'),
    },
    'a line the subagent logged through ctx.log',
  ),
  [AuditEvent.SubagentOutput]: record(
    AuditEvent.SubagentOutput,
    { ...who, stream: z.enum(['stdout', 'stderr']), text: z.string() },
    "the first bytes of a subagent's stdout/stderr (credentials masked)",
  ),
  [AuditEvent.ToolDecision]: record(
    AuditEvent.ToolDecision,
    {
      ...who,
      tool: z.string().max(128),
      decision: z.enum(['allow', 'deny']),
      reason: z.enum([
        'allowed',
        'denied_by_rule',
        'not_allowed',
        'unknown_tool',
        'api_calls_exceeded',
        'args_invalid',
        'cost_exceeded',
        'cost_invalid',
      ]),
      rule: z.string().nullable(),
      enforced: notEnforced,
    },
    'a tool call decision by the broker',
  ),
  [AuditEvent.ToolResult]: record(
    AuditEvent.ToolResult,
    {
      ...who,
      tool: z.string().max(128),
      ok: z.boolean(),
      code: z.string().optional().describe('SG_* code of a failed call'),
      denied: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('a refusal a built-in made on the subagent’s behalf (e.g. a redirect)'),
      costUsd: z.number().nonnegative().describe('charged for the call (the settled reservation)'),
      reservedUsd: z.number().nonnegative().describe('reserved against max_cost_usd before the handler ran'),
      reportedUsd: z
        .number()
        .nonnegative()
        .optional()
        .describe('what the handler reported with ctx.reportCost (absent: it reported nothing)'),
      durationMs: ms,
    },
    'a tool call finished',
  ),
  [AuditEvent.Violation]: record(
    AuditEvent.Violation,
    { ...who, reason: z.enum(VIOLATION_REASONS as [string, ...string[]]), detail: z.string() },
    'a violation was detected; the subagent is being terminated',
  ),
  [AuditEvent.Exit]: record(
    AuditEvent.Exit,
    {
      ...who,
      status: z.enum(['completed', 'failed', 'terminated']).optional(),
      reason: z.enum(TERMINATION_REASONS).optional(),
      code: z.string().optional(),
      usage: usage.optional(),
      logLinesDropped: count.optional(),
      ipcQueuedPeakBytes: count.optional(),
      warm: z.literal(true).optional().describe("its sandbox came from the agent's warm pool"),
      killMs: z.number().optional(),
      teardownMs: z.number().optional(),
      teardownError: z.string().optional().describe('an error record (level 50): one teardown step failed'),
    },
    'the subagent exited (any status), with usage figures',
  ),
  [AuditEvent.PoolError]: record(
    AuditEvent.PoolError,
    {
      agent: name,
      phase: z.enum(['prestart', 'idle', 'claim']),
      code: z.string().optional(),
      error: z.strictObject({ message: z.string() }),
      disabled: z.literal(true).optional().describe('the pool stopped refilling; spawns start cold'),
    },
    'a warm pool could not start, keep or hand over a sandbox; the spawn starts cold',
  ),
  [AuditEvent.GatewayListen]: record(
    AuditEvent.GatewayListen,
    {
      host: z.string(),
      port: z.number().int().min(0).max(65535).optional(),
      nonLoopback: z.literal(true).optional(),
    },
    'egress gateway listening (warn and nonLoopback when not on loopback)',
  ),
  [AuditEvent.GatewayClose]: record(
    AuditEvent.GatewayClose,
    { host: z.string().optional(), port: z.number().int().min(0).max(65535).optional() },
    'egress gateway closed',
  ),
  [AuditEvent.GatewayRegister]: record(
    AuditEvent.GatewayRegister,
    {
      subagentId: id,
      agent: name.optional(),
      parent: name.optional(),
      allowedDomains: count,
      upstream: z.string().optional().describe('upstream proxy URL, credentials redacted'),
      enforcing: z.boolean().describe('false (and the record is warn) when its egress is report-only'),
    },
    'a subagent was registered with the gateway',
  ),
  [AuditEvent.GatewayRevoke]: record(
    AuditEvent.GatewayRevoke,
    { subagentId: id, ...egressUsage },
    "a subagent's credential was revoked, with its final egress usage",
  ),
  [AuditEvent.GatewayError]: record(
    AuditEvent.GatewayError,
    { subagentId: id.optional(), err: z.string().describe('the error message only') },
    "the gateway caught a failure of its own or of a caller's hook",
  ),
  [AuditEvent.GatewayViolation]: record(
    AuditEvent.GatewayViolation,
    {
      subagentId: id,
      agent: name.optional(),
      kind: z.enum(['connection_limit', 'auth_failures']),
      detail: z.string(),
    },
    'a subagent misused a standalone gateway',
  ),
  [AuditEvent.EgressDecision]: record(
    AuditEvent.EgressDecision,
    {
      subagentId: id.nullable().describe('null when no subagent could be identified'),
      agent: name.optional(),
      parent: name.optional(),
      method: z.string(),
      host: z.string(),
      port: z.number().int().min(0).max(65535),
      address: z.string().optional().describe('the address dialled or refused'),
      decision: z.enum(['allow', 'deny']),
      reason: egressReason,
      status: z.number().int(),
      rule: z.string().nullable(),
      dnsMs: ms.optional(),
      connectMs: ms.optional(),
      enforced: notEnforced,
    },
    'one egress decision',
  ),
  [AuditEvent.EgressClose]: record(
    AuditEvent.EgressClose,
    {
      subagentId: id,
      agent: name.optional(),
      parent: name.optional(),
      method: z.string(),
      host: z.string(),
      port: z.number().int().min(0).max(65535),
      address: z.string(),
      status: z.number().int(),
      dnsMs: ms.optional(),
      connectMs: ms.optional(),
      bytesIn: count,
      bytesOut: count,
      durationMs: ms,
      end: z.string(),
    },
    'one closed egress connection or exchange',
  ),
  [AuditEvent.EgressSuppressed]: record(
    AuditEvent.EgressSuppressed,
    {
      subagentId: id.nullable(),
      agent: name.optional(),
      parent: name.optional(),
      cap: count.optional(),
      perSecond: count.optional(),
      final: z.boolean(),
      decisions: count.optional(),
      closes: count.optional(),
      reasons: z.record(z.string(), count).optional(),
    },
    'egress records left out once an audit cap was reached',
  ),
  [AuditEvent.PluginStart]: record(
    AuditEvent.PluginStart,
    {
      plugin: z.literal('subagent-guard'),
      ok: z.boolean(),
      agents: z.array(name).optional().describe('agents of agents.entries the plugin enforces for'),
      hostNetworkTools: z.enum(['deny', 'allow']).optional(),
      detail: z
        .string()
        .optional()
        .describe('why the configuration is unusable (then every call is refused)'),
    },
    'the OpenClaw plugin was registered in a Gateway',
  ),
  [AuditEvent.PluginToolDecision]: record(
    AuditEvent.PluginToolDecision,
    {
      ...openclawIds,
      tool: name.nullable(),
      allow: z.boolean(),
      reason: pluginToolReason,
      rule: z.string().nullable().optional(),
      calls: count.optional().describe('calls of this run, after this one when allowed'),
      costUsd: z.number().nonnegative().optional(),
    },
    'one OpenClaw tool call decided by the plugin',
  ),
  [AuditEvent.PluginSpawnDecision]: record(
    AuditEvent.PluginSpawnDecision,
    {
      ...openclawIds,
      allow: z.boolean(),
      reason: pluginSpawnReason,
      detail: z.string().optional(),
      agent: name.optional().describe('the agent to be spawned'),
      depth: count.optional(),
      reservation: count.optional(),
      toolCallId: name.optional(),
    },
    'one OpenClaw sessions_spawn call decided by the spawn quotas',
  ),
  [AuditEvent.PluginSubagentSpawned]: record(
    AuditEvent.PluginSubagentSpawned,
    {
      ...openclawIds,
      requesterSessionKey: name.optional(),
      checked: z.boolean().describe('false: no checked sessions_spawn call reserved this child'),
      malformed: z.literal(true).optional(),
      reservation: count.optional(),
      depth: count.optional(),
    },
    'OpenClaw reported a spawned subagent (sessionKey is the child session)',
  ),
  [AuditEvent.PluginSubagentEnded]: record(
    AuditEvent.PluginSubagentEnded,
    {
      sessionKey: name.optional(),
      runId: name.optional(),
      malformed: z.literal(true).optional(),
      endReason: name.optional(),
      outcome: name.optional(),
    },
    "OpenClaw reported a subagent's end",
  ),
  [AuditEvent.PluginSpawnReleased]: record(
    AuditEvent.PluginSpawnReleased,
    {
      agentId: name,
      requesterAgentId: name,
      requesterSessionKey: name,
      sessionKey: name.optional(),
      runId: name.optional(),
      reservation: count,
      cause: z.enum(['ended', 'spawn_failed', 'timeout', 'gateway_stop']),
    },
    'a spawn reservation was given back',
  ),
  [AuditEvent.PluginGuardedFetch]: record(
    AuditEvent.PluginGuardedFetch,
    {
      ...openclawIds,
      host: z.string().optional(),
      subagentId: id.optional(),
      status: z.enum(['completed', 'failed', 'terminated']).optional(),
      ok: z.boolean(),
      reason: name.optional(),
      code: z.string().optional(),
      httpStatus: z.number().int().nullable().optional(),
      bytes: count.optional(),
      truncated: z.boolean().optional(),
    },
    'one guarded_fetch call and how its subagent ended',
  ),
} as const satisfies Record<AuditEventName, z.ZodObject>;

/** One audit record, any event. */
export const AuditRecordSchema = z.discriminatedUnion(
  'event',
  Object.values(AuditRecordSchemas) as unknown as [
    (typeof AuditRecordSchemas)[AuditEventName],
    ...(typeof AuditRecordSchemas)[AuditEventName][],
  ],
);

/** One audit record, as written to the log. */
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

/** Checks one parsed record; the issues say which field of which event is wrong. */
export function validateAuditRecord(
  value: unknown,
): { ok: true; record: AuditRecord } | { ok: false; issues: string[] } {
  const r = AuditRecordSchema.safeParse(value);
  if (r.success) return { ok: true, record: r.data };
  return {
    ok: false,
    issues: r.error.issues.map((i) => `${i.path.length === 0 ? '/' : `/${i.path.join('/')}`}: ${i.message}`),
  };
}

/** The JSON Schema published as `subagent-guard/audit-record.schema.json`. */
export function buildAuditRecordJsonSchema(): Record<string, unknown> {
  const json = z.toJSONSchema(AuditRecordSchema, { target: 'draft-2020-12', io: 'output' }) as Record<
    string,
    unknown
  >;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'subagent-guard audit record',
    description:
      'One line of the audit log (pino JSON). `event` names the record; each event has its own strict set of fields.',
    ...json,
  };
}

/**
 * The IPC message vocabulary between the parent (spawner) and a subagent's runtime, as zod
 * schemas. Every schema is strict: an unknown `type` or an extra key is a protocol violation,
 * because a child that speaks anything but this exact protocol is either broken or hostile.
 *
 * Sizes are bounded here too (names, log lines) so that a valid-looking message cannot smuggle
 * unbounded strings into audit records; the frame limit bounds everything else.
 */
import { z } from 'zod';

import { MAX_LOG_FIELDS, MAX_LOG_MESSAGE_LENGTH, MAX_NAME_LENGTH, MAX_TEXT_LENGTH } from './limits.js';

export * from './limits.js';

/** A call id: chosen by the child, positive, unique among its outstanding calls. */
export const CallIdSchema = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** A tool/agent name as sent by a child. */
const NameSchema = z.string().min(1).max(MAX_NAME_LENGTH);

/** `{ code, message }` as carried in failed results. */
export const WireErrorSchema = z.strictObject({
  code: z.string().min(1).max(MAX_NAME_LENGTH),
  message: z.string().max(MAX_TEXT_LENGTH),
});
/** An error carried in a message. */
export type WireError = z.infer<typeof WireErrorSchema>;

// ----- parent -> child -------------------------------------------------------------------------

/** First message to the child: who it is, its task, how to reach the gateway, its output cap. */
export const StartMessageSchema = z.strictObject({
  type: z.literal('start'),
  id: z.string().min(1).max(MAX_NAME_LENGTH),
  agent: NameSchema,
  parent: NameSchema,
  task: z.unknown(),
  egress: z.strictObject({
    /**
     * `http://user:pass@host:port` (process mode) or `http://user:pass@localhost` with `socketPath`
     * (namespaced modes). The child's own credential; it never appears in argv or env of the launch.
     */
    proxyUrl: z.string().min(1).max(2048),
    /** Path of the gateway's Unix socket as seen inside the sandbox. */
    socketPath: z.string().min(1).max(1024).optional(),
    /** Fixed port for the in-sandbox loopback forwarder (HTTP_PROXY); absent = ephemeral. */
    httpProxyPort: z.number().int().min(1).max(65535).optional(),
  }),
  limits: z.strictObject({
    /** Largest serialised output the child may return, bytes. */
    maxOutputBytes: z.number().int().positive(),
  }),
});
/** The `start` message. */
export type StartMessage = z.infer<typeof StartMessageSchema>;

/** Answer to a `tool_call`. */
export const ToolResultMessageSchema = z.union([
  z.strictObject({
    type: z.literal('tool_result'),
    callId: CallIdSchema,
    ok: z.literal(true),
    value: z.unknown(),
  }),
  z.strictObject({
    type: z.literal('tool_result'),
    callId: CallIdSchema,
    ok: z.literal(false),
    error: WireErrorSchema,
  }),
]);
/** The `tool_result` message. */
export type ToolResultMessage = z.infer<typeof ToolResultMessageSchema>;

/** Answer to a `spawn`: the nested subagent's Outcome, or why it could not be spawned. */
export const SpawnResultMessageSchema = z.union([
  z.strictObject({ type: z.literal('spawn_result'), callId: CallIdSchema, outcome: z.unknown() }),
  z.strictObject({ type: z.literal('spawn_result'), callId: CallIdSchema, error: WireErrorSchema }),
]);
/** The `spawn_result` message. */
export type SpawnResultMessage = z.infer<typeof SpawnResultMessageSchema>;

/**
 * The parent asks the child to stop (ctx.signal aborts). Sent once, shortly before the wall-clock
 * timeout (see `abortNoticeMs` in spawner/subagent.ts), so a subagent can return what it has;
 * violations, cancellation and shutdown still SIGKILL without notice.
 */
export const AbortMessageSchema = z.strictObject({
  type: z.literal('abort'),
  reason: z.string().max(MAX_TEXT_LENGTH),
});
/** The `abort` message. */
export type AbortMessage = z.infer<typeof AbortMessageSchema>;

/** Every message the parent may send to a child. */
export const ParentMessageSchema = z.union([
  StartMessageSchema,
  ToolResultMessageSchema,
  SpawnResultMessageSchema,
  AbortMessageSchema,
]);
/** A message from the parent to a child. */
export type ParentMessage = z.infer<typeof ParentMessageSchema>;

// ----- child -> parent -------------------------------------------------------------------------

/** The runtime booted and waits for `start`. */
export const ReadyMessageSchema = z.strictObject({ type: z.literal('ready') });
/** The `ready` message. */
export type ReadyMessage = z.infer<typeof ReadyMessageSchema>;

/** `ctx.tools.call(name, args)`. Arguments are validated later by the broker against the tool's schema. */
export const ToolCallMessageSchema = z.strictObject({
  type: z.literal('tool_call'),
  callId: CallIdSchema,
  name: NameSchema,
  args: z.unknown(),
});
/** The `tool_call` message. */
export type ToolCallMessage = z.infer<typeof ToolCallMessageSchema>;

/** `ctx.spawn(agent, task)`. */
export const SpawnMessageSchema = z.strictObject({
  type: z.literal('spawn'),
  callId: CallIdSchema,
  agent: NameSchema,
  task: z.unknown(),
});
/** The `spawn` message. */
export type SpawnMessage = z.infer<typeof SpawnMessageSchema>;

/** `ctx.log(msg, fields)`; audited as `subagent.log`. */
export const LogMessageSchema = z.strictObject({
  type: z.literal('log'),
  msg: z.string().max(MAX_LOG_MESSAGE_LENGTH),
  fields: z
    .record(z.string().max(MAX_NAME_LENGTH), z.unknown())
    .refine((f) => Object.keys(f).length <= MAX_LOG_FIELDS, { message: `at most ${MAX_LOG_FIELDS} fields` })
    .optional(),
});
/** The `log` message. */
export type LogMessage = z.infer<typeof LogMessageSchema>;

/** The subagent's final answer. */
export const ResultMessageSchema = z.union([
  z.strictObject({ type: z.literal('result'), ok: z.literal(true), output: z.unknown() }),
  z.strictObject({ type: z.literal('result'), ok: z.literal(false), error: WireErrorSchema }),
]);
/** The `result` message. */
export type ResultMessage = z.infer<typeof ResultMessageSchema>;

/** The runtime saw the sandbox refuse something (ERR_ACCESS_DENIED, ...). Informative: the parent decides. */
export const SandboxViolationMessageSchema = z.strictObject({
  type: z.literal('sandbox_violation'),
  detail: z.string().max(MAX_TEXT_LENGTH),
});
/** The `sandbox_violation` message. */
export type SandboxViolationMessage = z.infer<typeof SandboxViolationMessageSchema>;

/** Every message a child may send to the parent. */
export const ChildMessageSchema = z.union([
  ReadyMessageSchema,
  ToolCallMessageSchema,
  SpawnMessageSchema,
  LogMessageSchema,
  ResultMessageSchema,
  SandboxViolationMessageSchema,
]);
/** A message from a child to the parent. */
export type ChildMessage = z.infer<typeof ChildMessageSchema>;

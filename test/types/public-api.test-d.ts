/**
 * Type tests of the public API, checked by `npm run typecheck` (part of `npm test`): they compile
 * or the build fails. Each `@ts-expect-error` is an assertion that a misuse does NOT compile.
 */
/* eslint-disable @typescript-eslint/no-meaningless-void-operator -- values are referenced only to be type-checked */
import { expectTypeOf } from 'expect-type';
import type { ErrorCodes } from '../../src/index.js';
import {
  ConfigError,
  GuardError,
  SpawnDeniedError,
  createOrchestrator,
  type ErrorCode,
  type Orchestrator,
  type Outcome,
  type TerminationReason,
  type ToolContext,
  type ToolDefinition,
  type Usage,
} from '../../src/index.js';
import { defineSubagent, type SubagentContext } from '../../src/runtime/index.js';

// --- Outcome narrows on `status` ---------------------------------------------------------------
declare const outcome: Outcome;
expectTypeOf(outcome.usage).toEqualTypeOf<Usage>();
expectTypeOf(outcome.id).toBeString();
if (outcome.status === 'completed') {
  expectTypeOf(outcome.output).toBeUnknown();
  // @ts-expect-error a completed outcome has no reason
  void outcome.reason;
} else if (outcome.status === 'failed') {
  expectTypeOf(outcome.error).toEqualTypeOf<{ readonly code: string; readonly message: string }>();
  // @ts-expect-error a failed outcome has no output
  void outcome.output;
} else {
  expectTypeOf(outcome.status).toEqualTypeOf<'terminated'>();
  expectTypeOf(outcome.reason).toEqualTypeOf<TerminationReason>();
  expectTypeOf(outcome.detail).toBeString();
}
expectTypeOf<Outcome['status']>().toEqualTypeOf<'completed' | 'failed' | 'terminated'>();
expectTypeOf<'tool_denied'>().toExtend<TerminationReason>();
expectTypeOf<'egress_denied'>().toExtend<TerminationReason>();
// @ts-expect-error not a termination reason
const notAReason: TerminationReason = 'killed';
void notAReason;

// --- Error codes are a closed union, and classes keep theirs ----------------------------------
expectTypeOf<'SG_CONFIG_INVALID'>().toExtend<ErrorCode>();
expectTypeOf<'SG_TOOL_UNDEFINED'>().toExtend<ErrorCode>();
expectTypeOf<keyof typeof ErrorCodes>().toEqualTypeOf<ErrorCode>();
// @ts-expect-error codes are SG_* names from the registry only
const badCode: ErrorCode = 'SG_NOT_A_CODE';
void badCode;
declare const err: unknown;
if (err instanceof GuardError) expectTypeOf(err.code).toEqualTypeOf<ErrorCode>();
if (err instanceof ConfigError) expectTypeOf(err.issues[0]?.path).toEqualTypeOf<string | undefined>();
if (err instanceof SpawnDeniedError) expectTypeOf(err.reason).toBeString();

// --- Tool handlers: args unknown (validate them), a context without the credential -------------
const lookup: ToolDefinition = {
  description: 'Look up a ticket',
  inputSchema: { type: 'object' },
  costUsd: 0.01,
  handler: async (args, ctx) => {
    expectTypeOf(args).toBeUnknown();
    expectTypeOf(ctx).toEqualTypeOf<ToolContext>();
    expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
    // @ts-expect-error user handlers never see the subagent's proxy credential
    void ctx.proxyUrl;
    return Promise.resolve({ title: 'x' });
  },
};
// @ts-expect-error a handler must return a promise
const syncTool: ToolDefinition = { description: '', inputSchema: {}, handler: () => 1 };
void syncTool;
// @ts-expect-error inputSchema is required
const noSchema: ToolDefinition = { description: '', handler: () => Promise.resolve(1) };
void noSchema;

// --- createOrchestrator and spawn --------------------------------------------------------------
expectTypeOf(createOrchestrator).returns.toEqualTypeOf<Promise<Orchestrator>>();
expectTypeOf(createOrchestrator).parameter(0).toHaveProperty('tools');
declare const orchestrator: Orchestrator;
expectTypeOf(orchestrator.run({ parent: 'p', agent: 'a', task: 1 })).toEqualTypeOf<Promise<Outcome>>();
// @ts-expect-error parent is required
void orchestrator.spawn({ agent: 'a', task: 1 });
void lookup;

// --- Child side: defineSubagent infers the task type -------------------------------------------
const entry = defineSubagent(async (task: { url: string }, ctx) => {
  expectTypeOf(ctx).toEqualTypeOf<SubagentContext<{ url: string }>>();
  expectTypeOf(ctx.tools.call('web_fetch', { url: task.url })).toEqualTypeOf<Promise<unknown>>();
  expectTypeOf(ctx.spawn('x', {})).toEqualTypeOf<Promise<Outcome>>();
  return Promise.resolve({ ok: true });
});
void entry;

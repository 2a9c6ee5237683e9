import { Ajv, type ValidateFunction } from 'ajv';
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import { GuardError, ToolError } from '../errors.js';
import { MAX_ERROR_MESSAGE_TO_CHILD } from '../ipc/limits.js';
import { toolAlias } from '../policy/tool-groups.js';
import type { ToolDecision } from '../policy/types.js';
import { ByteBudget, BytePace } from './budget.js';
import { CallCost, reservationNano, usdOf, type CostDeclaration } from './cost.js';
import { BUILTIN_TOOLS } from './builtin/index.js';
import {
  MAX_TOOL_RESULT_BYTES,
  TOOL_BYTES_BURST_PER_SUBAGENT,
  TOOL_BYTES_IN_FLIGHT_PER_SUBAGENT,
  TOOL_BYTES_PER_SECOND_PER_SUBAGENT,
} from './limits.js';
import type { BuiltinToolContext, ToolDefinition } from './types.js';
import {
  channels,
  DiagnosticsChannels,
  type ToolDecisionMessage,
  type ToolResultMessage,
} from '../observability/channels.js';

const toolDecisionChannel = channels[DiagnosticsChannels.ToolDecision];
const toolResultChannel = channels[DiagnosticsChannels.ToolResult];

/** Violations the broker can report; the spawner terminates the subagent with this reason. */
export type BrokerViolation = 'tool_denied' | 'api_calls_exceeded' | 'cost_exceeded';

/** What one brokered call came to. */
export type BrokerOutcome =
  | { readonly kind: 'ok'; readonly value: unknown }
  | { readonly kind: 'error'; readonly error: { readonly code: string; readonly message: string } }
  | { readonly kind: 'violation'; readonly reason: BrokerViolation; readonly detail: string };

/** The per-subagent side of a call: who asks, what it may use, what it has left. */
export interface BrokerSession {
  readonly subagentId: string;
  readonly agent: string;
  readonly parent: string;
  /** The agent's tool ACL (src/policy ToolAcl). */
  readonly acl: { decide(tool: string): ToolDecision };
  /** Takes one unit of the shared API-call budget (tool calls + egress requests); false = exhausted. */
  takeApiCall(): boolean;
  /** Reserves `usd` of the cost budget; false = the call would exceed `max_cost_usd`. */
  reserveCost(usd: number): boolean;
  /**
   * Settles a reservation made with `reserveCost(reservedUsd)` to `chargedUsd` (<= reservedUsd),
   * giving the difference back to the budget. Absent: every call is charged its whole reservation.
   */
  settleCost?(reservedUsd: number, chargedUsd: number): void;
  /** Aborted when the subagent is terminated. */
  readonly signal: AbortSignal;
  /** The subagent's own gateway credential, for built-in tools only. */
  readonly proxyUrl: string;
  /**
   * The agent's egress policy (decisions before DNS), for built-in tools only: web_fetch refuses a
   * redirect it would deny as a tool error instead of a violation. Absent: the gateway decides.
   */
  readonly egress?: BuiltinToolContext['egress'];
}

/** Options of {@link ToolBroker}. */
export interface ToolBrokerOptions {
  /** User tools; a user tool with a built-in's name replaces the built-in. */
  readonly tools?: Readonly<Record<string, ToolDefinition>> | undefined;
  readonly logger: Logger;
  /** Serialised result size cap. @default MAX_TOOL_RESULT_BYTES (768 KiB, below the 1 MiB IPC frame) */
  readonly maxResultBytes?: number;
  /** Bytes one subagent's built-in calls may hold at once. @default TOOL_BYTES_IN_FLIGHT_PER_SUBAGENT (2 MiB) */
  readonly maxBytesInFlight?: number;
}

interface CompiledTool {
  readonly name: string;
  readonly cost: CostDeclaration;
  readonly builtin: boolean;
  readonly validate: ValidateFunction;
  readonly run: (
    args: unknown,
    session: BrokerSession,
    reportCost: (usd: number) => void,
  ) => Promise<unknown>;
}

const MAX_LOGGED_NAME = 128;

function checkDefinition(name: string, def: unknown): asserts def is ToolDefinition {
  const bad = (what: string): never => {
    throw new ToolError('SG_TOOL_DEFINITION_INVALID', `tool '${name}': ${what}`, { details: { tool: name } });
  };
  if (typeof def !== 'object' || def === null) bad('the definition must be an object');
  const d = def as Record<string, unknown>;
  if (typeof d['description'] !== 'string') bad('`description` must be a string');
  if (typeof d['inputSchema'] !== 'object' || d['inputSchema'] === null)
    bad('`inputSchema` must be a JSON Schema object');
  if (typeof d['handler'] !== 'function') bad('`handler` must be a function');
  const cost = d['costUsd'];
  if (cost !== undefined && (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0)) {
    bad('`costUsd` must be a finite number >= 0');
  }
  const max = d['maxCostUsd'];
  if (
    max !== undefined &&
    typeof max !== 'function' &&
    (typeof max !== 'number' || !Number.isFinite(max) || max < 0)
  ) {
    bad('`maxCostUsd` must be a finite number >= 0 or a function of the arguments');
  }
}

/**
 * Lower-cased name with aliases resolved. The name comes from the child: the alias lookup reads
 * own properties only, or `constructor` would come back as `Object` (a function, not a name).
 */
export function canonicalToolName(name: string): string {
  const lower = name.toLowerCase();
  return toolAlias(lower) ?? lower;
}

function wireError(err: unknown, tool: string): { code: string; message: string } {
  if (err instanceof GuardError)
    return { code: err.code, message: err.message.slice(0, MAX_ERROR_MESSAGE_TO_CHILD) };
  const message = err instanceof Error ? err.message : 'the tool failed';
  return {
    code: 'SG_TOOL_FAILED',
    message: `tool '${tool}' failed: ${message.slice(0, MAX_ERROR_MESSAGE_TO_CHILD)}`,
  };
}

/**
 * The parent-side tool broker. Order of checks per call: ACL (deny/unknown terminates before any
 * handler runs) → arguments against the tool's JSON Schema (invalid = an error result, the
 * subagent made a mistake, not an attack) → API-call quota → cost reservation (the call's maximum)
 * → handler → settlement (the reservation becomes what the handler reported) → size-capped result.
 * Every call that passes the ACL costs one API call, even with invalid arguments, so a subagent
 * cannot spin the broker for free. Each call produces exactly one `tool.decision` audit event.
 */
export class ToolBroker {
  readonly #tools = new Map<string, CompiledTool>();
  readonly #logger: Logger;
  readonly #maxResultBytes: number;
  readonly #maxBytesInFlight: number;
  /** One in-flight budget per session (per subagent), dropped with the session. */
  readonly #budgets = new WeakMap<BrokerSession, { inFlight: ByteBudget; pace: BytePace }>();

  constructor(opts: ToolBrokerOptions) {
    this.#logger = opts.logger;
    this.#maxResultBytes = opts.maxResultBytes ?? MAX_TOOL_RESULT_BYTES;
    this.#maxBytesInFlight = opts.maxBytesInFlight ?? TOOL_BYTES_IN_FLIGHT_PER_SUBAGENT;
    // One ajv instance per broker: compiled validators are cached per tool, never per call.
    const ajv = new Ajv({ strict: true, allErrors: false, validateFormats: false, coerceTypes: false });
    const compile = (name: string, schema: object): ValidateFunction => {
      try {
        return ajv.compile(schema);
      } catch (err) {
        throw new ToolError(
          'SG_TOOL_DEFINITION_INVALID',
          `tool '${name}': inputSchema is not a valid JSON Schema`,
          {
            cause: err,
            details: { tool: name },
          },
        );
      }
    };
    for (const [name, def] of Object.entries(BUILTIN_TOOLS)) {
      this.#tools.set(name, {
        name,
        cost: { costUsd: def.costUsd, maxCostUsd: def.maxCostUsd },
        builtin: true,
        validate: compile(name, def.inputSchema),
        run: (args, s, reportCost) =>
          def.handler(args, {
            subagentId: s.subagentId,
            agent: s.agent,
            signal: s.signal,
            reportCost,
            proxyUrl: s.proxyUrl,
            maxResultBytes: this.#maxResultBytes,
            ...this.#budgetOf(s),
            egress: s.egress,
          }),
      });
    }
    for (const [rawName, def] of Object.entries(opts.tools ?? {})) {
      checkDefinition(rawName, def);
      const name = canonicalToolName(rawName);
      this.#tools.set(name, {
        name,
        cost: { costUsd: def.costUsd, maxCostUsd: def.maxCostUsd },
        builtin: false,
        validate: compile(rawName, def.inputSchema),
        // User handlers never see the credential: who is calling, the abort signal, the cost meter.
        run: (args, s, reportCost) =>
          def.handler(args, { subagentId: s.subagentId, agent: s.agent, signal: s.signal, reportCost }),
      });
    }
  }

  #budgetOf(session: BrokerSession): { inFlight: ByteBudget; pace: BytePace } {
    let budget = this.#budgets.get(session);
    if (budget === undefined) {
      budget = {
        inFlight: new ByteBudget(this.#maxBytesInFlight),
        pace: new BytePace(TOOL_BYTES_PER_SECOND_PER_SUBAGENT, TOOL_BYTES_BURST_PER_SUBAGENT),
      };
      this.#budgets.set(session, budget);
    }
    return budget;
  }

  /** Names of every tool the broker can run (built-ins and user tools), canonical lower-case. */
  get names(): string[] {
    return [...this.#tools.keys()];
  }

  /**
   * Runs one call from a subagent. Never throws: every failure is an outcome.
   *
   * Every decision before the handler (ACL, API budget, arguments, cost) is answered
   * synchronously, as a plain value, so the caller can terminate a violating subagent before it
   * reads its next message: several calls can arrive in one chunk, and with an async answer the
   * next call's handler would already be running when the violation was acted on. Only a call
   * that reaches its handler returns a promise.
   */
  call(session: BrokerSession, rawName: string, args: unknown): BrokerOutcome | Promise<BrokerOutcome> {
    const name = canonicalToolName(rawName);
    const logged = name.slice(0, MAX_LOGGED_NAME);
    const audit = (allow: boolean, reason: string, rule: string | null, enforced?: false): void => {
      if (toolDecisionChannel.hasSubscribers) {
        toolDecisionChannel.publish({
          subagentId: session.subagentId,
          agent: session.agent,
          parent: session.parent,
          tool: logged,
          allow,
          reason,
          rule,
        } satisfies ToolDecisionMessage);
      }
      const rec = {
        event: AuditEvent.ToolDecision,
        subagentId: session.subagentId,
        parent: session.parent,
        agent: session.agent,
        tool: logged,
        decision: allow ? 'allow' : 'deny',
        reason,
        rule,
      };
      if (enforced === false)
        this.#logger.warn(
          { ...rec, enforced: false },
          `tool allowed, not enforcing (would be ${reason.replaceAll('_', ' ')})`,
        );
      else this.#logger.info(rec, 'tool decision');
    };
    const decision = session.acl.decide(name);
    if (!decision.allow) {
      audit(false, decision.reason, decision.rule);
      return {
        kind: 'violation',
        reason: 'tool_denied',
        detail: `tool '${logged}' is ${decision.reason.replaceAll('_', ' ')}`,
      };
    }
    const tool = this.#tools.get(name);
    if (tool === undefined) {
      audit(false, 'unknown_tool', decision.rule);
      return { kind: 'violation', reason: 'tool_denied', detail: `tool '${logged}' has no definition` };
    }
    if (!session.takeApiCall()) {
      audit(false, 'api_calls_exceeded', decision.rule);
      return {
        kind: 'violation',
        reason: 'api_calls_exceeded',
        detail: `tool call '${logged}' is over max_api_calls`,
      };
    }
    if (!tool.validate(args)) {
      audit(false, 'args_invalid', decision.rule);
      const first = tool.validate.errors?.[0];
      const where = first === undefined ? '' : ` at ${first.instancePath === '' ? '/' : first.instancePath}`;
      return {
        kind: 'error',
        error: {
          code: 'SG_TOOL_ARGS_INVALID',
          message: `tool '${logged}': arguments invalid${where}: ${first?.message ?? 'schema mismatch'}`,
        },
      };
    }
    const reserved = reservationNano(logged, tool.cost, args, {
      subagentId: session.subagentId,
      agent: session.agent,
    });
    if (typeof reserved !== 'number') {
      // The parent's own tool declared a cost it cannot have: a bug on our side, not the subagent's.
      audit(false, 'cost_invalid', decision.rule);
      return { kind: 'error', error: wireError(reserved, tool.name) };
    }
    // Check-and-reserve in this synchronous turn: concurrent calls are decided one after another
    // against what earlier ones reserved, so together they can never pass the cap.
    if (!session.reserveCost(usdOf(reserved))) {
      audit(false, 'cost_exceeded', decision.rule);
      return {
        kind: 'violation',
        reason: 'cost_exceeded',
        detail: `tool call '${logged}' (reserving ${usdOf(reserved)} USD) would exceed max_cost_usd`,
      };
    }
    // Report-only: the ACL would have refused it; its one record says so (enforced: false).
    if (decision.enforced === false) audit(true, decision.reason, decision.rule, false);
    else audit(true, 'allowed', decision.rule);
    return this.#runAudited(tool, args, session, logged, new CallCost(logged, reserved));
  }

  async #runAudited(
    tool: CompiledTool,
    args: unknown,
    session: BrokerSession,
    logged: string,
    cost: CallCost,
  ): Promise<BrokerOutcome> {
    const started = performance.now();
    const ran = await this.#run(tool, args, session, cost.report);
    const { denied } = ran;
    const settled = cost.settle();
    // A cost fault is the parent's bug and replaces whatever the handler returned: the call was
    // charged its whole reservation, and the subagent learns the call failed.
    const outcome: BrokerOutcome =
      settled.fault === undefined
        ? ran.outcome
        : { kind: 'error', error: wireError(settled.fault, tool.name) };
    if (settled.chargedNano < cost.reservedNano) {
      session.settleCost?.(usdOf(cost.reservedNano), usdOf(settled.chargedNano));
    }
    const costUsd = usdOf(session.settleCost === undefined ? cost.reservedNano : settled.chargedNano);
    const durationMs = Math.round(performance.now() - started);
    if (toolResultChannel.hasSubscribers) {
      toolResultChannel.publish({
        subagentId: session.subagentId,
        agent: session.agent,
        parent: session.parent,
        tool: logged,
        ok: outcome.kind === 'ok',
        code: outcome.kind === 'error' ? outcome.error.code : undefined,
        costUsd,
        durationMs,
      } satisfies ToolResultMessage);
    }
    this.#logger.info(
      {
        event: AuditEvent.ToolResult,
        subagentId: session.subagentId,
        parent: session.parent,
        agent: session.agent,
        tool: logged,
        ok: outcome.kind === 'ok',
        code: outcome.kind === 'error' ? outcome.error.code : undefined,
        // A refusal a built-in made on the subagent's behalf (e.g. a redirect): its one audit record.
        denied,
        costUsd,
        reservedUsd: usdOf(cost.reservedNano),
        reportedUsd: settled.reportedNano === null ? undefined : usdOf(settled.reportedNano),
        durationMs,
      },
      'tool result',
    );
    return outcome;
  }

  async #run(
    tool: CompiledTool,
    args: unknown,
    session: BrokerSession,
    reportCost: (usd: number) => void,
  ): Promise<{ outcome: BrokerOutcome; denied?: Readonly<Record<string, unknown>> | undefined }> {
    let value: unknown;
    try {
      value = await tool.run(args, session, reportCost);
    } catch (err) {
      const denied =
        tool.builtin && err instanceof GuardError && err.code === 'SG_TOOL_REDIRECT_DENIED'
          ? err.details
          : undefined;
      return { outcome: { kind: 'error', error: wireError(err, tool.name) }, denied };
    }
    return { outcome: this.#capped(tool, value) };
  }

  #capped(tool: CompiledTool, value: unknown): BrokerOutcome {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch {
      text = undefined;
    }
    if (text === undefined && value !== undefined) {
      return {
        kind: 'error',
        error: {
          code: 'SG_TOOL_FAILED',
          message: `tool '${tool.name}' returned a value that is not JSON-serialisable`,
        },
      };
    }
    const size = text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
    if (size > this.#maxResultBytes) {
      return {
        kind: 'error',
        error: {
          code: 'SG_TOOL_FAILED',
          message: `tool '${tool.name}' returned ${size} bytes, over the ${this.#maxResultBytes}-byte result limit`,
        },
      };
    }
    // Re-parse so the child receives plain JSON data, never live objects or getters from the
    // handler. A built-in's result is plain data already (our code builds it from JSON.parse and
    // strings), and re-parsing up to 768 KiB would cost the parent's loop another ~15 ms per call.
    if (tool.builtin) return { kind: 'ok', value: value ?? null };
    return { kind: 'ok', value: text === undefined ? null : (JSON.parse(text) as unknown) };
  }
}

/**
 * The error model: one base class, one subclass per area, one registry of stable codes.
 *
 * Codes are `SG_<AREA>_<DETAIL>`; once released a code is never renamed or reused.
 * `docs/errors.md` lists every code with its meaning and how to fix it; a test keeps both in sync.
 *
 * A policy *denial* is not an exception: it is a `Decision` and an audit event. Errors are for
 * bad input, unavailable capabilities and broken peers.
 */

/** Every error code this package can produce, with a one-line meaning. */
export const ErrorCodes = {
  SG_CONFIG_INVALID: 'The configuration does not validate; `issues` lists every problem with its JSON path.',
  SG_CONFIG_READ: 'The configuration file could not be read or parsed as JSON/JSON5.',
  SG_CONFIG_OPENCLAW_REJECTED:
    "An issue code (inside SG_CONFIG_INVALID): a key or value of an OpenClaw-shaped openclaw.json that OpenClaw's own validator rejects.",
  SG_SPAWN_DENIED: 'A spawn was refused by the spawn quotas (`reason` says which).',
  SG_ISOLATION_UNAVAILABLE: 'The requested isolation level is not available on this machine.',
  SG_ORCHESTRATOR_CLOSED: 'The orchestrator was closed; no more spawns are accepted.',
  SG_ORCHESTRATOR_INVALID_OPTIONS: 'createOrchestrator received invalid options (config, tools, isolation).',
  SG_SPAWN_INVALID_REQUEST:
    'spawn() received an invalid request (missing entry, task not JSON-serialisable, bad names).',
  SG_GATEWAY_INVALID_OPTIONS: 'createEgressGateway or register() received invalid options.',
  SG_GATEWAY_LISTEN: 'The egress gateway could not listen on the requested address.',
  SG_GATEWAY_CLOSED: 'The egress gateway was closed.',
  SG_GATEWAY_DUPLICATE_ID: 'register() was called with an id that is already registered.',
  SG_GATEWAY_UPSTREAM_SELF:
    "An upstream proxy is the gateway's own listen address: every request would loop through itself.",
  SG_GATEWAY_PARENT_AGENT:
    '`gateway serve --agent` named a parent agent: parents are run by the caller and get no credential.',
  SG_GATEWAY_VALIDATE_NO_ANSWER:
    '`gateway validate` got no answer from the proxy under test (unreachable, closed without a status line, or silent until --timeout).',
  SG_GATEWAY_VALIDATE_AUTH:
    '`gateway validate`: the proxy under test answered 407 (credentials in --proxy-url missing or wrong); nothing was exercised.',
  SG_SANDBOX_ENTRY:
    'The subagent entry is missing, not absolute, or in a location the sandbox cannot expose safely.',
  SG_SANDBOX_READ_GRANT:
    'A read grant (the entry directory or an explicit grant) would expose the config, the audit log, a secret file or a path outside it.',
  SG_SANDBOX_LAUNCH: 'The sandbox could not be set up or the child process could not be started.',
  SG_IPC_PROTOCOL: 'A message on the subagent IPC channel was malformed, oversized or unexpected.',
  SG_TOOL_ARGS_INVALID: "A tool call's arguments do not match the tool's input schema.",
  SG_TOOL_FAILED: 'A tool handler threw or rejected.',
  SG_TOOL_REDIRECT_DENIED:
    "web_fetch did not follow a redirect because the agent's egress policy refuses its target.",
  SG_TOOL_UNKNOWN:
    'Reserved: versions up to 0.1 used it for invalid tool definitions, which are now SG_TOOL_DEFINITION_INVALID.',
  SG_TOOL_DEFINITION_INVALID:
    'A tool definition passed to createOrchestrator or the broker is malformed (description, inputSchema, handler, costUsd).',
  SG_TOOL_UNDEFINED:
    'createOrchestrator: a subagent is allowed a tool by name that is neither built in nor passed in `tools`.',
  SG_ISOLATION_WEAKER:
    'A process warning (not thrown): the orchestrator runs subagents at a level weaker than a sandbox (process).',
  SG_TOOL_COST_INVALID:
    "A tool's cost figure is invalid: its maxCostUsd (number or function of the arguments) or a ctx.reportCost() figure is not a finite number >= 0, the function threw, or a cost was reported after the call ended.",
  SG_TOOL_COST_OVERRUN:
    'A tool handler reported (ctx.reportCost) more than the maximum cost the broker reserved for the call.',
  SG_MODEL_NOT_ALLOWED:
    'model_call: the calling agent may not use that model (not in its list or the price table), or asked for more tokens than its limit.',
  SG_MODEL_KEY_MISSING:
    'model_call: the parent has no API key for the call (the environment variable is unset or empty, or the key function returned none or threw).',
  SG_MODEL_UPSTREAM:
    'model_call: the provider could not be reached, was refused by the address rules, answered with an error status, or sent an answer without usable text and usage.',
  SG_SUBAGENT_FAILED: 'The subagent program threw, crashed or exited without a result.',
  SG_SUBAGENT_OUTPUT: 'The subagent returned a value that is not JSON-serialisable or is too large.',
  SG_USAGE: 'The command line was used incorrectly.',
  SG_AUDIT_SINK:
    'The audit sink failed (disk full, closed pipe); decisions that cannot be recorded are refused.',
  SG_POLICY_INVALID: 'A policy engine object was built from invalid or non-canonical rules.',
  SG_OTEL_MISSING:
    'instrumentOpenTelemetry was called but the optional peer dependency @opentelemetry/api is not installed.',
  SG_METRICS_LISTEN: 'The Prometheus metrics endpoint could not listen on the requested address.',
  SG_REPORT_ONLY:
    'A warning, not an error: an agent runs its network or tools policy in report-only mode; what its allowlist refuses is recorded (enforced: false) and let through.',
  SG_DOCTOR_UNSATISFIED:
    '`doctor` found something the config or the requested isolation needs that this host cannot give (a level, a cgroup memory controller, a supported Node), or a secret-looking file in reach of a sandbox.',
  SG_INTERNAL: 'An internal invariant of subagent-guard did not hold (a bug: please report it).',
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof ErrorCodes;

/**
 * Brands that survive two copies of this package in one process (two versions in node_modules, a
 * bundled and an installed copy): `instanceof` compares prototypes, which differ between copies,
 * so each class also answers for any object carrying its `Symbol.for` brand (the pattern of
 * undici's lib/core/errors.js). Keys are global; the classes they name are this package's own.
 */
const BRANDS = new Map<abstract new (...args: never[]) => unknown, symbol>();

function brandKey(name: string): symbol {
  return Symbol.for(`subagent-guard.${name}`);
}

function hasBrand(value: unknown, key: symbol): boolean {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return (value as Record<symbol, unknown>)[key] === true;
  } catch {
    // A hostile getter or proxy: not one of ours.
    return false;
  }
}

/** Gives a class its brand: its instances (and its subclasses') carry it, `instanceof` reads it. */
function brand(cls: abstract new (...args: never[]) => unknown, name: string): void {
  const key = brandKey(name);
  BRANDS.set(cls, key);
  Object.defineProperty(cls.prototype, key, { value: true, enumerable: false, writable: false });
}

/** Base class of every error thrown by subagent-guard. */
export class GuardError extends Error {
  /**
   * True for an instance of this class from any copy of subagent-guard. A subclass that has no
   * brand of its own (a user's) answers by prototype only, never by its parent's brand.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const key = BRANDS.get(this);
    return key !== undefined && hasBrand(value, key);
  }

  /** Stable machine-readable code, `SG_*`. */
  readonly code: ErrorCode;
  /** Log-safe structured details (never contains secrets). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details === undefined ? undefined : Object.freeze({ ...options.details });
  }
}

/** One problem found in a configuration. */
export interface ConfigIssue {
  /** JSON pointer to the offending value, e.g. `/agents/worker/network/allowed_domains/0`. */
  readonly path: string;
  /** What is wrong and what is expected. Never contains secrets. */
  readonly message: string;
  /**
   * A finer code for some issues, e.g. `SG_CONFIG_OPENCLAW_REJECTED` for a key OpenClaw's own
   * validator would reject. Absent for ordinary validation problems.
   */
  readonly code?: ErrorCode;
}

/** The configuration is invalid; `issues` carries every problem found, not just the first. */
export class ConfigError extends GuardError {
  readonly issues: readonly ConfigIssue[];
  /** Where the configuration came from (a file path or a caller-supplied label). */
  readonly source: string | undefined;

  constructor(issues: readonly ConfigIssue[], options?: { source?: string; cause?: unknown }) {
    const where = options?.source === undefined ? 'configuration' : options.source;
    const lines = issues.map(
      (i) => `  ${i.path === '' ? '/' : i.path}: ${i.message}${i.code === undefined ? '' : ` [${i.code}]`}`,
    );
    super(
      'SG_CONFIG_INVALID',
      `${where} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.issues = Object.freeze(issues.map((i) => Object.freeze({ ...i })));
    this.source = options?.source;
  }
}

/** The configuration file could not be read or parsed. */
export class ConfigReadError extends GuardError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('SG_CONFIG_READ', message, options);
  }
}

/** Why a spawn was refused before anything was launched. */
export type SpawnDeniedReason =
  | 'unknown_agent'
  | 'agent_not_allowed'
  | 'depth_exceeded'
  | 'children_exceeded'
  | 'rate_exceeded'
  | 'queue_full';

/** A spawn was refused synchronously by the spawn quotas. */
export class SpawnDeniedError extends GuardError {
  readonly reason: SpawnDeniedReason;
  constructor(reason: SpawnDeniedReason, message: string, details?: Record<string, unknown>) {
    super(
      'SG_SPAWN_DENIED',
      message,
      details === undefined ? undefined : { details: { reason, ...details } },
    );
    this.reason = reason;
  }
}

/** Errors raised by the egress gateway's API (not denials: those are decisions). */
export class GatewayError extends GuardError {}

/** Errors raised by the spawner (isolation unavailable, closed orchestrator, ...). */
export class SpawnerError extends GuardError {}

/** A subagent broke the IPC protocol. */
export class IpcProtocolError extends GuardError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('SG_IPC_PROTOCOL', message, options);
  }
}

/** Errors raised by the tool broker (bad arguments, failing handler, bad definition). */
export class ToolError extends GuardError {}

/**
 * An invariant of subagent-guard itself did not hold: a bug, never the caller's input. Carries
 * `SG_INTERNAL` so that it is still one of the documented codes.
 */
export class InternalError extends GuardError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('SG_INTERNAL', `internal: ${message}`, options);
  }
}

/** Wrong command-line usage. */
export class UsageError extends GuardError {
  constructor(message: string) {
    super('SG_USAGE', message);
  }
}

brand(GuardError, 'GuardError');
brand(ConfigError, 'ConfigError');
brand(ConfigReadError, 'ConfigReadError');
brand(SpawnDeniedError, 'SpawnDeniedError');
brand(GatewayError, 'GatewayError');
brand(SpawnerError, 'SpawnerError');
brand(IpcProtocolError, 'IpcProtocolError');
brand(ToolError, 'ToolError');
brand(UsageError, 'UsageError');
brand(InternalError, 'InternalError');

/**
 * True for an error of subagent-guard from any copy of the package (see {@link GuardError}): the
 * check to use where two versions may meet, e.g. a library that catches what a plugin threw.
 */
export function isGuardError(value: unknown): value is GuardError {
  return hasBrand(value, brandKey('GuardError'));
}

/**
 * The thrown value as an Error: itself when it is one, otherwise an Error whose message is its
 * string form (for a value whose `toString` throws, its type) and whose `cause` is the value.
 */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(describe(value), { cause: value });
}

/** The message of a thrown value, whatever was thrown (never throws itself). */
export function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message;
  return describe(value);
}

function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return `non-error thrown (${typeof value})`;
  }
}

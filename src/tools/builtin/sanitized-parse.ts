import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ToolError } from '../../errors.js';
import { MAX_TOOL_RESULT_BYTES } from '../limits.js';
import type { BuiltinToolDefinition } from '../types.js';

/** Default and hard ceilings of `sanitized_parse`. */
export const SANITIZED_PARSE_LIMITS = {
  /** @default 262144 (256 KiB) */
  defaultMaxBytes: 256 * 1024,
  /**
   * No call may raise maxBytes above the broker's result cap: the parsed value comes back as the
   * result, and minified JSON re-serialises to about its own size, so a longer text could only
   * be parsed (at the parent's expense) to fail the cap afterwards. Minify a text to fit.
   */
  hardMaxBytes: MAX_TOOL_RESULT_BYTES,
  /** @default 32 */
  defaultMaxDepth: 32,
  hardMaxDepth: 256,
} as const;

/** Keys dropped from every parsed object: they are prototype-pollution gadgets once merged. */
const POISON_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Nesting depth of a JSON text, computed without recursion so a hostile `[[[[...` cannot blow the
 * parent's stack before the limit is applied. Brackets inside strings do not count.
 */
export function jsonDepth(text: string, limit: number): { depth: number; exceededAt: number | null } {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > max) max = depth;
      if (depth > limit) return { depth, exceededAt: i };
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return { depth: max, exceededAt: null };
}

function readLimit(value: unknown, fallback: number, hard: number): number {
  return typeof value === 'number' ? Math.min(value, hard) : fallback;
}

/** Objects visited between two yields to the event loop while dropping poison keys. */
const NODES_PER_SLICE = 4096;

/**
 * Deletes every poison key from a freshly parsed value, iteratively (the depth is bounded already,
 * but no recursion is cheaper than a bounded one). Yields after every {@link NODES_PER_SLICE}
 * objects, so a caller on the event loop can pause there; a synchronous caller just runs it out.
 */
function* dropPoisonKeys(root: unknown): Generator<void, void, void> {
  const stack: unknown[] = [root];
  let visited = 0;
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (++visited % NODES_PER_SLICE === 0) yield;
    if (Array.isArray(node)) {
      for (const item of node) if (typeof item === 'object' && item !== null) stack.push(item);
      continue;
    }
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (POISON_KEYS.has(key)) Reflect.deleteProperty(record, key);
      else {
        const v = record[key];
        if (typeof v === 'object' && v !== null) stack.push(v);
      }
    }
  }
}

/**
 * Checks size and depth, then parses without a reviver (a reviver made parsing four times
 * slower, all of it on the parent's event loop). Size is refused before anything is scanned.
 */
function checkText(text: string, opts: { maxBytes?: number; maxDepth?: number }): void {
  const maxBytes = readLimit(
    opts.maxBytes,
    SANITIZED_PARSE_LIMITS.defaultMaxBytes,
    SANITIZED_PARSE_LIMITS.hardMaxBytes,
  );
  const maxDepth = readLimit(
    opts.maxDepth,
    SANITIZED_PARSE_LIMITS.defaultMaxDepth,
    SANITIZED_PARSE_LIMITS.hardMaxDepth,
  );
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    throw new ToolError(
      'SG_TOOL_FAILED',
      `sanitized_parse: text is ${bytes} bytes, over the ${maxBytes}-byte limit`,
    );
  }
  const { exceededAt } = jsonDepth(text, maxDepth);
  if (exceededAt !== null) {
    throw new ToolError(
      'SG_TOOL_FAILED',
      `sanitized_parse: nesting deeper than ${maxDepth} levels at offset ${exceededAt}`,
    );
  }
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const why = err instanceof Error ? err.message : 'unparseable';
    throw new ToolError('SG_TOOL_FAILED', `sanitized_parse: invalid JSON (${why})`);
  }
}

/**
 * Parses untrusted JSON with a size cap, a depth cap and prototype-pollution keys removed.
 * Failures are tool errors returned to the subagent, never violations: bad data is expected here.
 */
export function sanitizedParse(text: string, opts: { maxBytes?: number; maxDepth?: number } = {}): unknown {
  checkText(text, opts);
  const value = parseText(text);
  const walk = dropPoisonKeys(value);
  while (walk.next().done !== true);
  return value;
}

/**
 * {@link sanitizedParse} for the parent's event loop: the longest unbroken step is `JSON.parse`
 * of a text already known to fit the result cap (10-20 ms at the maximum); the checks run in a turn
 * of their own and the poison-key walk yields every {@link NODES_PER_SLICE} objects.
 */
export async function sanitizedParseSliced(
  text: string,
  opts: { maxBytes?: number; maxDepth?: number } = {},
  pace?: { ready(signal: AbortSignal, what: string): Promise<void>; charge(bytes: number): void },
  signal?: AbortSignal,
): Promise<unknown> {
  checkText(text, opts);
  if (pace !== undefined && signal !== undefined) {
    // A subagent that keeps the parser busy waits for its own throughput budget.
    await pace.ready(signal, 'sanitized_parse');
    pace.charge(text.length);
  }
  // The size check, the depth scan and the parse each get their own turn of the loop.
  await yieldToLoop();
  const value = parseText(text);
  const walk = dropPoisonKeys(value);
  while (walk.next().done !== true) await yieldToLoop();
  return value;
}

/** The `sanitized_parse` built-in tool: `{ text, maxBytes?, maxDepth? }` → the parsed value. */
export const sanitizedParseTool: BuiltinToolDefinition = {
  description: 'Parse untrusted JSON text with size and depth limits; prototype-pollution keys are dropped.',
  inputSchema: {
    type: 'object',
    properties: {
      text: { type: 'string' },
      maxBytes: { type: 'integer', minimum: 1, maximum: SANITIZED_PARSE_LIMITS.hardMaxBytes },
      maxDepth: { type: 'integer', minimum: 1, maximum: SANITIZED_PARSE_LIMITS.hardMaxDepth },
    },
    required: ['text'],
    additionalProperties: false,
  },
  handler: (args, ctx) => {
    // The broker validated args against inputSchema; re-check the shape rather than cast.
    if (typeof args !== 'object' || args === null || !('text' in args) || typeof args.text !== 'string') {
      return Promise.reject(
        new ToolError('SG_TOOL_ARGS_INVALID', 'sanitized_parse: `text` must be a string'),
      );
    }
    const opts: { maxBytes?: number; maxDepth?: number } = {};
    if ('maxBytes' in args && typeof args.maxBytes === 'number') opts.maxBytes = args.maxBytes;
    if ('maxDepth' in args && typeof args.maxDepth === 'number') opts.maxDepth = args.maxDepth;
    return sanitizedParseSliced(args.text, opts, ctx.pace, ctx.signal);
  },
};

import { ToolError } from '../../errors.js';
import type { BuiltinToolDefinition } from '../types.js';

/** Default and hard ceilings of `sanitized_parse`. */
export const SANITIZED_PARSE_LIMITS = {
  /** @default 262144 (256 KiB) */
  defaultMaxBytes: 256 * 1024,
  /** No call may raise maxBytes above this (the text arrived in one IPC frame anyway). */
  hardMaxBytes: 1024 * 1024,
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

/**
 * Parses untrusted JSON with a size cap, a depth cap and prototype-pollution keys removed.
 * Failures are tool errors returned to the subagent, never violations: bad data is expected here.
 */
export function sanitizedParse(text: string, opts: { maxBytes?: number; maxDepth?: number } = {}): unknown {
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
  try {
    return JSON.parse(text, (key, value: unknown) => (POISON_KEYS.has(key) ? undefined : value)) as unknown;
  } catch (err) {
    const why = err instanceof Error ? err.message : 'unparseable';
    throw new ToolError('SG_TOOL_FAILED', `sanitized_parse: invalid JSON (${why})`);
  }
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
  handler: (args) => {
    // The broker validated args against inputSchema; re-check the shape rather than cast.
    if (typeof args !== 'object' || args === null || !('text' in args) || typeof args.text !== 'string') {
      return Promise.reject(
        new ToolError('SG_TOOL_ARGS_INVALID', 'sanitized_parse: `text` must be a string'),
      );
    }
    const opts: { maxBytes?: number; maxDepth?: number } = {};
    if ('maxBytes' in args && typeof args.maxBytes === 'number') opts.maxBytes = args.maxBytes;
    if ('maxDepth' in args && typeof args.maxDepth === 'number') opts.maxDepth = args.maxDepth;
    try {
      return Promise.resolve(sanitizedParse(args.text, opts));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  },
};

/**
 * Collecting configuration problems: every problem is reported at once, each with a JSON pointer
 * and a message saying what is expected. Zod issues are translated into that form here.
 */
import * as z from 'zod';
import type { ConfigIssue, ErrorCode } from '../errors.js';
import { childPointer, isWithin, type PathSegment } from './pointer.js';

/** Accumulates issues; a value that already has a problem is not reported twice. */
export class IssueCollector {
  readonly #issues: ConfigIssue[] = [];

  /**
   * Records a problem at `path`, unless that value (or a value containing it) already has one:
   * a structural error makes any deeper check of the same value meaningless.
   */
  add(path: string, message: string, code?: ErrorCode): void {
    if (this.covers(path)) return;
    this.#issues.push(code === undefined ? { path, message } : { path, message, code });
  }

  /** True when a problem is already recorded at `path` or at a value containing it. */
  covers(path: string): boolean {
    return this.#issues.some((i) => isWithin(path, i.path));
  }

  /** True when a problem is recorded at `path` or anywhere below it. */
  hasWithin(path: string): boolean {
    return this.#issues.some((i) => isWithin(i.path, path));
  }

  get size(): number {
    return this.#issues.length;
  }

  /**
   * The issues in document order: `order` maps each pointer of the document to its position (see
   * {@link documentOrder}); a missing key sorts right after its nearest existing ancestor.
   */
  sorted(order?: ReadonlyMap<string, number>): ConfigIssue[] {
    if (order === undefined) return [...this.#issues];
    const rank = (path: string): number => {
      let p = path;
      for (;;) {
        const r = order.get(p);
        if (r !== undefined) return r;
        if (p === '') return 0;
        p = p.slice(0, p.lastIndexOf('/'));
      }
    };
    return this.#issues
      .map((issue, i) => ({ issue, i, r: rank(issue.path) }))
      .sort((a, b) => a.r - b.r || a.i - b.i)
      .map((x) => x.issue);
  }
}

/** Position of every value of a JSON document in a depth-first walk, keyed by JSON pointer. */
export function documentOrder(doc: unknown): Map<string, number> {
  const order = new Map<string, number>();
  const walk = (v: unknown, at: string): void => {
    order.set(at, order.size);
    if (Array.isArray(v)) {
      v.forEach((item: unknown, i) => {
        walk(item, childPointer(at, i));
      });
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) walk(item, childPointer(at, k));
    }
  };
  walk(doc, '');
  return order;
}

/** Describes a value's type for a message without echoing strings (they may hold secrets). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string':
      return v === '' ? 'an empty string' : 'a string';
    case 'number':
      return Number.isFinite(v) ? `${v}` : String(v);
    case 'boolean':
      return String(v);
    case 'object':
      return 'an object';
    case 'undefined':
      return 'nothing';
    case 'bigint':
    case 'function':
    case 'symbol':
      return typeof v;
  }
  return 'a value';
}

const EXPECTED: Readonly<Record<string, string>> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'an array',
  null: 'null',
};

function plural(n: number | bigint, word: string): string {
  return `${n} ${word}${n === 1 || n === 1n ? '' : 's'}`;
}

/** Default messages for zod issues whose schema has no message of its own. */
function defaultMessage(iss: z.core.$ZodRawIssue): string {
  switch (iss.code) {
    case 'invalid_type': {
      const expected = EXPECTED[iss.expected] ?? iss.expected;
      if (iss.input === undefined) return `is required: expected ${expected}`;
      if (typeof iss.input === 'number' && !Number.isFinite(iss.input)) {
        return `expected a finite ${iss.expected === 'int' ? 'integer' : 'number'}, got ${describeValue(iss.input)}`;
      }
      if (iss.expected === 'int' && typeof iss.input === 'number') {
        return Number.isSafeInteger(Math.trunc(iss.input))
          ? `expected an integer, got ${describeValue(iss.input)}`
          : `expected an integer of at most ${Number.MAX_SAFE_INTEGER}`;
      }
      return `expected ${expected}, got ${describeValue(iss.input)}`;
    }
    case 'too_small': {
      if (iss.origin === 'array' || iss.origin === 'set')
        return `expected at least ${plural(iss.minimum, 'item')}`;
      if (iss.origin === 'string') {
        return Number(iss.minimum) <= 1
          ? 'must not be empty'
          : `expected at least ${plural(iss.minimum, 'character')}`;
      }
      const got = typeof iss.input === 'number' ? `, got ${iss.input}` : '';
      return iss.inclusive === false
        ? `expected a number greater than ${iss.minimum}${got}`
        : `expected a number of at least ${iss.minimum}${got}`;
    }
    case 'too_big': {
      if (iss.origin === 'array' || iss.origin === 'set')
        return `expected at most ${plural(iss.maximum, 'item')}`;
      if (iss.origin === 'string') return `expected at most ${plural(iss.maximum, 'character')}`;
      const got = typeof iss.input === 'number' ? `, got ${iss.input}` : '';
      return iss.inclusive === false
        ? `expected a number less than ${iss.maximum}${got}`
        : `expected a number of at most ${iss.maximum}${got}`;
    }
    case 'invalid_value':
      return `expected ${iss.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'invalid_format':
      return `does not have the expected form (${iss.format})`;
    case 'not_multiple_of':
      return `expected a multiple of ${iss.divisor}`;
    case 'invalid_union':
      return 'does not match any accepted form';
    case 'invalid_key':
      return 'is not an accepted key';
    case 'invalid_element':
      return 'has an invalid element';
    case 'unrecognized_keys':
      return 'unknown key';
    case 'custom':
      return typeof iss.message === 'string' ? iss.message : 'is invalid';
  }
}

/** Edit distance, for "did you mean" hints on unknown keys. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

/** The closest known key, if the unknown one looks like a misspelling (or camelCase/snake_case swap). */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const same = known.find((k) => norm(k) === norm(unknown));
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD <= Math.max(1, Math.floor(unknown.length / 4)) ? best : undefined;
}

/** The message for an unknown key, listing what is accepted there. */
export function unknownKeyMessage(key: string, known: readonly string[], hint?: string): string {
  const suggestion = suggestKey(key, known);
  const didYouMean = suggestion === undefined ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`;
  const accepted = known.length === 0 ? 'no keys are accepted here' : `accepted keys: ${known.join(', ')}`;
  return `unknown key ${JSON.stringify(key)}${didYouMean}; ${accepted}${hint === undefined ? '' : `. ${hint}`}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = Reflect.get(v, seg);
  }
  return v;
}

/** Options for {@link validateWith}. */
export interface ValidateOptions {
  /** Extra sentence appended to unknown-key messages at a given pointer (e.g. why a key is not accepted there). */
  readonly unknownKeyHint?: (pointer: string, key: string) => string | undefined;
}

/**
 * Validates `value` (found at `prefix` in the document) with a zod schema and records every
 * problem in `issues`. Unknown keys become one issue each, at the key's own path.
 *
 * @returns the parsed value, or undefined when there was any problem.
 */
export function validateWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  prefix: string,
  issues: IssueCollector,
  opts: ValidateOptions = {},
): z.output<T> | undefined {
  const knownKeys = new WeakMap<object, string[]>();
  const result = schema.safeParse(value, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys' && iss.inst instanceof z.ZodObject && iss.input !== undefined) {
        knownKeys.set(iss.input, Object.keys(iss.inst.shape));
      }
      return defaultMessage(iss);
    },
  });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const segs = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
    const pointer = childPointer(prefix, ...segs);
    if (issue.code === 'unrecognized_keys') {
      const holder = valueAt(value, issue.path);
      const known = typeof holder === 'object' && holder !== null ? (knownKeys.get(holder) ?? []) : [];
      for (const key of issue.keys) {
        const at = childPointer(pointer, key);
        issues.add(at, unknownKeyMessage(key, known, opts.unknownKeyHint?.(pointer, key)));
      }
    } else if (issue.code === 'invalid_key') {
      const inner = issue.issues[0]?.message ?? 'is not an accepted key';
      issues.add(pointer, inner);
    } else {
      issues.add(pointer, issue.message);
    }
  }
  return undefined;
}

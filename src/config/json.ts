/**
 * The trust boundary for configuration values handed to `parseConfig` by code: only plain JSON
 * data crosses it. Class instances, getters, cycles, functions and `__proto__` keys (which would
 * let inherited properties masquerade as settings) are refused; what passes is a fresh copy the
 * caller can no longer mutate underneath us.
 */
import { childPointer } from './pointer.js';
import type { IssueCollector } from './issues.js';

const MAX_DEPTH = 64;

function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Copies `value` as plain JSON data, recording a problem for anything that is not.
 * Object properties whose value is `undefined` count as absent.
 */
export function toPlainJson(value: unknown, path: string, issues: IssueCollector): unknown {
  const stack = new Set<object>();
  const copy = (v: unknown, at: string, depth: number): unknown => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') return v;
    if (typeof v !== 'object') {
      issues.add(at, `expected JSON data, got ${typeof v}`);
      return undefined;
    }
    if (depth > MAX_DEPTH) {
      issues.add(at, `is nested more than ${MAX_DEPTH} levels deep`);
      return undefined;
    }
    if (stack.has(v)) {
      issues.add(at, 'refers back to itself (a cycle); expected JSON data');
      return undefined;
    }
    stack.add(v);
    try {
      if (Array.isArray(v)) {
        const out: unknown[] = [];
        for (let i = 0; i < v.length; i++) {
          const item: unknown = v[i];
          if (item === undefined) issues.add(childPointer(at, i), 'expected JSON data, got nothing');
          out.push(copy(item, childPointer(at, i), depth + 1));
        }
        return out;
      }
      if (!isPlainObject(v)) {
        issues.add(at, 'expected a plain JSON object');
        return undefined;
      }
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v)) {
        const desc = Object.getOwnPropertyDescriptor(v, key);
        if (desc === undefined) continue;
        if (!('value' in desc)) {
          issues.add(childPointer(at, key), 'is an accessor; expected JSON data');
          continue;
        }
        if (key === '__proto__') {
          issues.add(childPointer(at, key), 'the key "__proto__" is not accepted');
          continue;
        }
        const item: unknown = desc.value;
        if (item === undefined) continue;
        out[key] = copy(item, childPointer(at, key), depth + 1);
      }
      return out;
    } finally {
      stack.delete(v);
    }
  };
  return copy(value, path, 0);
}

/** Deep-freezes a value built from plain objects and arrays. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze(Reflect.get(value, key));
  }
  return value;
}

/** A prototype-less record, so names such as `constructor` or `toString` are never inherited. */
export function nullProtoRecord<V>(entries: Iterable<readonly [string, V]> = []): Record<string, V> {
  const out = Object.create(null) as Record<string, V>;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

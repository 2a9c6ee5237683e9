/**
 * Depth and key-count bounds of JSON text, checked by one linear scan without recursion, so a
 * hostile frame (`[[[[…20,000 levels…]]]]`, 40 KB) is refused before JSON.parse, zod,
 * JSON.stringify or pino could recurse into it and overflow the stack.
 *
 * The scan works on UTF-8 bytes or on a string alike: the only characters it looks at (`"`, `\`,
 * brackets, `:`) are ASCII, and no byte of a multi-byte UTF-8 sequence is ASCII. It does not
 * validate JSON; JSON.parse still does that afterwards. Free of imports: the child loads it too.
 */

/** Bounds for {@link jsonShapeProblem}. */
export interface ShapeLimits {
  /** Deepest nesting of arrays and objects (a top-level object is depth 1). */
  readonly maxDepth: number;
  /** Most keys in any one object. */
  readonly maxKeys: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;

/**
 * Scans JSON text (a string or its UTF-8 bytes) and says what breaks the limits, or null.
 *
 * @example jsonShapeProblem('[[[1]]]', { maxDepth: 2, maxKeys: 10 }) // 'nesting deeper than 2 levels at offset 2'
 */
export function jsonShapeProblem(text: string | Uint8Array, limits: ShapeLimits): string | null {
  // One monomorphic loop over bytes (a string is encoded once): the scan runs on every frame.
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const length = bytes.length;
  const maxDepth = limits.maxDepth;
  const maxKeys = limits.maxKeys;
  // Keys seen so far in the object open at each depth (arrays never count keys).
  const keys = new Uint32Array(maxDepth + 2);
  let depth = 0;
  for (let i = 0; i < length; i++) {
    const c = bytes[i] as number;
    if (c === QUOTE) {
      // Jump to the closing quote: the next quote preceded by an even number of backslashes.
      let end = bytes.indexOf(QUOTE, i + 1);
      while (end !== -1 && escaped(bytes, end, i)) end = bytes.indexOf(QUOTE, end + 1);
      if (end === -1) return null; // unterminated: JSON.parse refuses it
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > maxDepth) return `nesting deeper than ${maxDepth} levels at offset ${i}`;
      keys[depth] = 0;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      // Unbalanced text is JSON.parse's to refuse; only keep the counter in range.
      if (depth > 0) depth--;
    } else if (c === COLON) {
      const n = (keys[depth] as number) + 1;
      if (n > maxKeys) return `an object with more than ${maxKeys} keys at offset ${i}`;
      keys[depth] = n;
    }
  }
  return null;
}

/** True when the quote at `at` is escaped: an odd run of backslashes before it (after `from`). */
function escaped(bytes: Uint8Array, at: number, from: number): boolean {
  let n = 0;
  for (let j = at - 1; j > from && bytes[j] === BACKSLASH; j--) n++;
  return n % 2 === 1;
}

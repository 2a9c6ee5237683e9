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
  const bytes = typeof text !== 'string';
  const length = text.length;
  // Keys seen so far in the object open at each depth (arrays never count keys).
  const keys = new Uint32Array(limits.maxDepth + 2);
  let depth = 0;
  let inString = false;
  for (let i = 0; i < length; i++) {
    const c = bytes ? (text[i] as number) : text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    switch (c) {
      case QUOTE:
        inString = true;
        break;
      case OPEN_BRACE:
      case OPEN_BRACKET:
        depth++;
        if (depth > limits.maxDepth) return `nesting deeper than ${limits.maxDepth} levels at offset ${i}`;
        keys[depth] = 0;
        break;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        // Unbalanced text is JSON.parse's to refuse; only keep the counter in range.
        if (depth > 0) depth--;
        break;
      case COLON: {
        const n = (keys[depth] ?? 0) + 1;
        if (n > limits.maxKeys) return `an object with more than ${limits.maxKeys} keys at offset ${i}`;
        keys[depth] = n;
        break;
      }
      default:
        break;
    }
  }
  return null;
}

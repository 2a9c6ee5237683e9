/** JSON pointers (RFC 6901) for issue paths. */

/** One path segment: an object key or an array index. */
export type PathSegment = string | number;

/** Escapes one reference token: `~` → `~0`, `/` → `~1` (in that order). */
export function escapeToken(segment: PathSegment): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Builds a pointer from segments; no segments is the whole document (`''`). */
export function toPointer(segments: readonly PathSegment[]): string {
  return segments.map((s) => `/${escapeToken(s)}`).join('');
}

/** Appends segments to an existing pointer. */
export function childPointer(base: string, ...segments: readonly PathSegment[]): string {
  return base + toPointer(segments);
}

/** Splits a pointer back into unescaped tokens (`''` → `[]`). */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** True when `pointer` is `ancestor` itself or lies below it. */
export function isWithin(pointer: string, ancestor: string): boolean {
  return ancestor === '' || pointer === ancestor || pointer.startsWith(`${ancestor}/`);
}

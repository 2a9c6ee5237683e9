/**
 * Strict IP text parsing and formatting shared by the policy modules (internal, not re-exported).
 *
 * Only unambiguous text is accepted here: dotted-quad decimal IPv4 without leading zeros, and
 * IPv6 without zone ids. Sloppy forms (`127.1`, `0177.0.0.1`, `2130706433`) are handled by the
 * WHATWG host parser in domains.ts, which turns them into canonical text first; anything that
 * reaches a socket must have gone through one canonical form so that what we check is what we dial.
 */
/**
 * Parses canonical dotted-quad IPv4 (`a.b.c.d`, each 0-255, no leading zeros) into an unsigned
 * 32-bit integer; returns -1 for anything else. Leading zeros are refused because libc reads
 * `010` as octal while other parsers read it as decimal.
 */
export function parseIpv4Strict(text: string): number {
  const len = text.length;
  if (len < 7 || len > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  let leadingZero = false;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || parts === 3) return -1;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
      leadingZero = false;
    } else if (c >= 48 && c <= 57) {
      if (leadingZero) return -1;
      if (digits === 0 && c === 48) leadingZero = true;
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  if (digits === 0 || parts !== 3) return -1;
  return value * 256 + part;
}

/** Formats an unsigned 32-bit integer as dotted-quad IPv4. */
export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

const IPV6_CHARS = /^[0-9a-fA-F:.]+$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseGroups(text: string, out: number[]): boolean {
  if (text.length === 0) return true;
  for (const g of text.split(':')) {
    if (!HEX_GROUP.test(g)) return false;
    out.push(parseInt(g, 16));
  }
  return true;
}

/**
 * Parses IPv6 text (optionally in brackets; a dotted-quad IPv4 tail allowed) into eight 16-bit
 * groups. Zone ids (`%eth0`) are refused: they select an interface, which a policy decision cannot
 * reason about. Returns null when the text is not IPv6.
 *
 * Hand-written (RFC 4291 text form) rather than delegated: general-purpose parsers differ on the
 * edges that matter here — one popular library reads `::1.2.3.4` as `::ffff:1.2.3.4` and
 * `::ffff:0177.0.0.1` as decimal 177 — and the gateway must read text exactly as the WHATWG parser does.
 */
export function parseIpv6(text: string): number[] | null {
  let t = text;
  if (t.length > 2 && t.charCodeAt(0) === 91 /* [ */ && t.charCodeAt(t.length - 1) === 93 /* ] */) {
    t = t.slice(1, -1);
  }
  if (t.length < 2 || t.length > 45 || !IPV6_CHARS.test(t)) return null;
  const tail: number[] = [];
  const lastColon = t.lastIndexOf(':');
  if (lastColon < 0) return null;
  if (t.includes('.', lastColon)) {
    const n = parseIpv4Strict(t.slice(lastColon + 1));
    if (n < 0) return null;
    tail.push(n >>> 16, n & 0xffff);
    // Keep the colon(s) before the IPv4 so "::1.2.3.4" still reads as "::" + groups.
    t = t.slice(0, lastColon + 1);
    if (!t.endsWith('::')) t = t.slice(0, -1);
  }
  const head: number[] = [];
  const rest: number[] = [];
  const gap = t.indexOf('::');
  if (gap >= 0) {
    if (t.indexOf('::', gap + 1) >= 0) return null;
    if (!parseGroups(t.slice(0, gap), head) || !parseGroups(t.slice(gap + 2), rest)) return null;
    rest.push(...tail);
    if (head.length + rest.length > 7) return null;
    return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  if (!parseGroups(t, head)) return null;
  head.push(...tail);
  return head.length === 8 ? head : null;
}

/** Formats eight 16-bit groups as RFC 5952 text (lower-case, longest zero run compressed, no dotted tail). */
export function formatIpv6(parts: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  let runStart = -1;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && parts[i] === 0) {
      if (runStart < 0) runStart = i;
    } else if (runStart >= 0) {
      const runLen = i - runStart;
      if (runLen > bestLen && runLen >= 2) {
        bestStart = runStart;
        bestLen = runLen;
      }
      runStart = -1;
    }
  }
  const hex = (from: number, to: number): string =>
    parts
      .slice(from, to)
      .map((p) => p.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** The 32-bit value of groups 6 and 7 (where most IPv4-in-IPv6 schemes put the IPv4 address). */
export function low32(parts: readonly number[]): number {
  return ((parts[6] ?? 0) * 65536 + (parts[7] ?? 0)) >>> 0;
}

/** The network part of `parts` under a prefix length (host bits cleared). */
export function v6Network(parts: readonly number[], prefix: number): number[] {
  const out: number[] = [];
  let bits = prefix;
  for (let i = 0; i < 8; i++) {
    const take = bits >= 16 ? 16 : bits > 0 ? bits : 0;
    const mask = take === 0 ? 0 : (0xffff << (16 - take)) & 0xffff;
    out.push((parts[i] ?? 0) & mask);
    bits -= take;
  }
  return out;
}

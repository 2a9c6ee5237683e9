/**
 * Header hygiene between the subagent and its targets.
 *
 * Names are compared in a folded form (lower-case, every non-alphanumeric character as `-`) so
 * spelling variants that some servers or CGI layers treat as the same header
 * (`Proxy_Authorization`, `PROXY.AUTHORIZATION`) are stripped too. Everything that is hop-by-hop,
 * proxy-directed or names a hop in `Connection` never crosses the gateway: in particular the
 * subagent's credential is never forwarded.
 */

/** Folds a header name so spelling variants compare equal. */
export function foldHeaderName(name: string): string {
  const lower = name.toLowerCase();
  // Nearly every name is already letters, digits and dashes: skip the regex replace for those.
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45)) return lower.replace(/[^a-z0-9]/g, '-');
  }
  return lower;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
  'http2-settings',
]);

function isProxyHeader(folded: string): boolean {
  return folded.startsWith('proxy-') || folded === 'proxy';
}

/** Counts raw headers whose folded name equals `folded`. */
export function countHeader(raw: readonly string[], folded: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (foldHeaderName(raw[i] ?? '') === folded) n++;
  return n;
}

/** Counts raw headers named exactly `lower` (case-insensitive). */
export function countExact(raw: readonly string[], lower: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] ?? '').toLowerCase() === lower) n++;
  return n;
}

/**
 * The two header counts the decision pipeline needs, in one pass over the raw list:
 * `Proxy-Authorization` (exact name, any case; duplicates are ambiguous and refused) and Host in
 * every spelling variant (two Host headers are refused).
 */
export function requestHeaderCounts(raw: readonly string[]): { proxyAuthorization: number; host: number } {
  let proxyAuthorization = 0;
  let host = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    // Only names of these two lengths can be either header: the rest skip the case folding.
    if (name.length === 19) {
      if (name.toLowerCase() === 'proxy-authorization') proxyAuthorization++;
    } else if (name.length === 4 && foldHeaderName(name) === 'host') host++;
  }
  return { proxyAuthorization, host };
}

/**
 * Hops named by `Connection` headers (folded) that the filter would otherwise keep, or undefined
 * when there are none (the usual `keep-alive` and `close` need no second pass, except for a
 * header that is literally named `Close`).
 */
function connectionHops(raw: readonly string[], at: readonly number[]): Set<string> | undefined {
  let named: Set<string> | undefined;
  for (const i of at) {
    const value = raw[i + 1] ?? '';
    // The value nearly every target sends names nothing the filter keeps.
    if (value.length === 10 && value.toLowerCase() === 'keep-alive') continue;
    for (const t of value.split(',')) {
      const tf = foldHeaderName(t.trim());
      // Hop-by-hop and proxy names are dropped (or exempted) regardless of what Connection says.
      if (tf === '' || HOP_BY_HOP.has(tf) || isProxyHeader(tf)) continue;
      named ??= new Set();
      named.add(tf);
    }
  }
  return named;
}

/**
 * False when a header name certainly does not fold to a hop-by-hop, proxy or `Connection` name:
 * those are the only names the filter treats specially, and they are recognisable by their first
 * letter and length (folding keeps the length), so most names skip the folding entirely.
 */
function mayBeSpecial(name: string): boolean {
  const n = name.length;
  // `| 0x20` lower-cases an ASCII letter and maps no other character onto one.
  switch (name.charCodeAt(0) | 0x20) {
    case 0x70: // p: proxy, proxy-*
      return n >= 5;
    case 0x74: // t: te, trailer, trailers, transfer-encoding
      return n === 2 || n === 7 || n === 8 || n === 17;
    case 0x68: // h: host, http2-settings
      return n === 4 || n === 14;
    case 0x65: // e: expect
      return n === 6;
    case 0x75: // u: upgrade
      return n === 7;
    case 0x63: // c: connection
    case 0x6b: // k: keep-alive
      return n === 10;
    default:
      return false;
  }
}

/**
 * Filters raw request headers for forwarding. Returns a flat `[name, value, ...]` list without
 * Host (the caller sets it from the target) and, for WebSocket upgrades, keeps `Upgrade` and a
 * clean `Connection: Upgrade`.
 */
export function forwardRequestHeaders(raw: readonly string[], opts: { upgrade: boolean }): string[] {
  return filterHeaders(raw, opts.upgrade, false);
}

/** Filters raw response headers from a target before they reach the subagent. */
export function forwardResponseHeaders(raw: readonly string[], opts: { upgrade: boolean }): string[] {
  return filterHeaders(raw, opts.upgrade, true);
}

/**
 * {@link forwardResponseHeaders} for a header list as the HTTP client parsed it (latin1 bytes):
 * only the headers kept are converted to strings.
 */
export function forwardResponseHeaderBuffers(raw: readonly Buffer[]): string[] {
  const text: string[] = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) text[i] = raw[i]?.toString('latin1') ?? '';
  return filterHeaders(text, false, true);
}

function filterHeaders(raw: readonly string[], upgrade: boolean, response: boolean): string[] {
  const out: string[] = [];
  // Positions (in raw) of Connection headers; rare beyond `keep-alive`/`close`, so the hops they
  // name are removed in a second pass only when there are any.
  let connections: number[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    if (!mayBeSpecial(name)) {
      out.push(name, raw[i + 1] ?? '');
      continue;
    }
    const f = foldHeaderName(name);
    if (f === 'connection') (connections ??= []).push(i);
    const keep =
      (upgrade && f === 'upgrade') ||
      // A response's Host and Expect mean nothing hop-by-hop; they pass through untouched.
      (response && (f === 'host' || f === 'expect')) ||
      !(HOP_BY_HOP.has(f) || isProxyHeader(f));
    if (keep) out.push(name, raw[i + 1] ?? '');
  }
  const named = connections === undefined ? undefined : connectionHops(raw, connections);
  let result = out;
  if (named !== undefined) {
    result = [];
    for (let i = 0; i < out.length; i += 2) {
      const name = out[i] ?? '';
      // Only names the first pass kept are here: none is hop-by-hop or exempt.
      if (named.has(foldHeaderName(name))) continue;
      result.push(name, out[i + 1] ?? '');
    }
  }
  if (upgrade) result.push('Connection', 'Upgrade');
  return result;
}

/** True when header names and values are safe to write raw (no CR/LF/NUL smuggling). */
export function rawHeadersSafe(flat: readonly string[]): boolean {
  for (const v of flat) if (/[\r\n\0]/.test(v)) return false;
  return true;
}

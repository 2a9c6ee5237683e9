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

/** Folded names of a raw header list (index i holds the name at raw[2i]) and the hops `Connection` names. */
function foldAll(raw: readonly string[]): { folded: string[]; named: Set<string> | undefined } {
  const folded: string[] = [];
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const f = foldHeaderName(raw[i] ?? '');
    folded.push(f);
    if (f !== 'connection') continue;
    named ??= new Set();
    for (const t of (raw[i + 1] ?? '').split(',')) {
      const tf = foldHeaderName(t.trim());
      if (tf !== '') named.add(tf);
    }
  }
  return { folded, named };
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

function filterHeaders(raw: readonly string[], upgrade: boolean, response: boolean): string[] {
  const { folded, named } = foldAll(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const f = folded[i >> 1] ?? '';
    const keep =
      (upgrade && f === 'upgrade') ||
      // A response's Host and Expect mean nothing hop-by-hop; they pass through untouched.
      (response && (f === 'host' || f === 'expect')) ||
      !(HOP_BY_HOP.has(f) || isProxyHeader(f) || (named !== undefined && named.has(f)));
    if (keep) out.push(raw[i] ?? '', raw[i + 1] ?? '');
  }
  if (upgrade) out.push('Connection', 'Upgrade');
  return out;
}

/** True when header names and values are safe to write raw (no CR/LF/NUL smuggling). */
export function rawHeadersSafe(flat: readonly string[]): boolean {
  for (const v of flat) if (/[\r\n\0]/.test(v)) return false;
  return true;
}

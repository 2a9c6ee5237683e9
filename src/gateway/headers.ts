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
  return name.toLowerCase().replace(/[^a-z0-9]/g, '-');
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

function connectionTokens(raw: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (foldHeaderName(raw[i] ?? '') !== 'connection') continue;
    for (const t of (raw[i + 1] ?? '').split(',')) {
      const f = foldHeaderName(t.trim());
      if (f !== '') out.add(f);
    }
  }
  return out;
}

/**
 * Filters raw request headers for forwarding. Returns a flat `[name, value, ...]` list without
 * Host (the caller sets it from the target) and, for WebSocket upgrades, keeps `Upgrade` and a
 * clean `Connection: Upgrade`.
 */
export function forwardRequestHeaders(raw: readonly string[], opts: { upgrade: boolean }): string[] {
  const named = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const f = foldHeaderName(name);
    if (opts.upgrade && f === 'upgrade') {
      out.push(name, raw[i + 1] ?? '');
      continue;
    }
    if (HOP_BY_HOP.has(f) || isProxyHeader(f) || named.has(f)) continue;
    out.push(name, raw[i + 1] ?? '');
  }
  if (opts.upgrade) out.push('Connection', 'Upgrade');
  return out;
}

/** Filters raw response headers from a target before they reach the subagent. */
export function forwardResponseHeaders(raw: readonly string[], opts: { upgrade: boolean }): string[] {
  const named = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const f = foldHeaderName(name);
    if (opts.upgrade && f === 'upgrade') {
      out.push(name, raw[i + 1] ?? '');
      continue;
    }
    if (f === 'host' || f === 'expect') {
      out.push(name, raw[i + 1] ?? '');
      continue;
    }
    if (HOP_BY_HOP.has(f) || isProxyHeader(f) || named.has(f)) continue;
    out.push(name, raw[i + 1] ?? '');
  }
  if (opts.upgrade) out.push('Connection', 'Upgrade');
  return out;
}

/** True when header names and values are safe to write raw (no CR/LF/NUL smuggling). */
export function rawHeadersSafe(flat: readonly string[]): boolean {
  for (const v of flat) if (/[\r\n\0]/.test(v)) return false;
  return true;
}

/**
 * Parsing of request targets: absolute-form URLs, CONNECT authorities and Host headers.
 *
 * Hosts go through the policy's WHATWG host parser, so every spelling of an address
 * (`127.1`, `0x7f000001`, `2130706433`, `[::ffff:127.0.0.1]`) reaches the policy as the address
 * it denotes. Anything ambiguous (userinfo, backslashes, empty or out-of-range ports, zone ids) is
 * refused rather than interpreted, because a proxy and an origin that read the same bytes
 * differently is how filters are bypassed.
 */
import { parseHost, type ParsedHost } from '../policy/index.js';

/** A parsed, canonical egress target. */
export interface Target {
  /** null for CONNECT. */
  readonly scheme: 'http' | 'ws' | null;
  readonly host: ParsedHost;
  /** Canonical host text for logs and the Host comparison (IPv6 without brackets). */
  readonly hostText: string;
  readonly port: number;
  /** Origin-form path + query to send to the target (absolute-form only). */
  readonly path: string;
  /** The authority exactly as the request carried it (for the Host comparison's fast path). */
  readonly authority?: string | undefined;
}

/** Why a target could not be used. */
export type TargetError = 'bad_request' | 'scheme_not_allowed' | 'host_invalid';

export type TargetResult =
  | { readonly ok: true; readonly target: Target }
  | { readonly ok: false; readonly reason: TargetError; readonly hostText: string; readonly port: number };

const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([/?][^#]*)?$/;
const PORT = /^[0-9]{1,5}$/;
const MAX_LOGGED_HOST = 255;

/** A log-safe copy of an untrusted host string. */
export function sanitizeHost(text: string): string {
  const cut = text.length > MAX_LOGGED_HOST ? text.slice(0, MAX_LOGGED_HOST) : text;
  return cut.replace(/[^\x21-\x7e]/g, '?');
}

/** Canonical text of a parsed host. */
export function hostToText(h: ParsedHost): string {
  return h.kind === 'domain' ? h.name : h.address;
}

interface Authority {
  readonly hostPart: string;
  /** undefined when absent, NaN when present but invalid. */
  readonly port: number | undefined;
}

function splitAuthority(authority: string): Authority | null {
  if (authority.includes('@') || authority.includes('\\') || authority.includes('%')) return null;
  let hostPart: string;
  let rest: string;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0) return null;
    hostPart = authority.slice(0, end + 1);
    rest = authority.slice(end + 1);
  } else {
    const colon = authority.indexOf(':');
    if (colon >= 0 && authority.indexOf(':', colon + 1) >= 0) return null;
    hostPart = colon < 0 ? authority : authority.slice(0, colon);
    rest = colon < 0 ? '' : authority.slice(colon);
  }
  if (hostPart === '') return null;
  if (rest === '') return { hostPart, port: undefined };
  if (!rest.startsWith(':')) return null;
  const p = rest.slice(1);
  if (!PORT.test(p)) return { hostPart, port: Number.NaN };
  const port = Number(p);
  return { hostPart, port: port >= 1 && port <= 65535 ? port : Number.NaN };
}

function resolveAuthority(
  authority: string,
  scheme: 'http' | 'ws' | null,
  defaultPort: number | undefined,
): TargetResult {
  const a = splitAuthority(authority);
  if (a === null) return { ok: false, reason: 'bad_request', hostText: sanitizeHost(authority), port: 0 };
  const port = a.port ?? defaultPort;
  if (port === undefined || Number.isNaN(port)) {
    return { ok: false, reason: 'bad_request', hostText: sanitizeHost(a.hostPart), port: 0 };
  }
  const host = parseHost(a.hostPart);
  if (host === null) return { ok: false, reason: 'host_invalid', hostText: sanitizeHost(a.hostPart), port };
  return { ok: true, target: { scheme, host, hostText: hostToText(host), port, path: '/', authority } };
}

/**
 * Parses the request target of a non-CONNECT request. Only absolute-form `http://` and `ws://`
 * are forwarded; `https://`/`wss://` must use CONNECT (the gateway never originates TLS), and
 * origin-form or other schemes are refused.
 */
export function parseAbsoluteTarget(url: string): TargetResult {
  const m = ABSOLUTE_FORM.exec(url);
  if (m === null) return { ok: false, reason: 'bad_request', hostText: '', port: 0 };
  const schemeText = (m[1] ?? '').toLowerCase();
  const authority = m[2] ?? '';
  if (schemeText !== 'http' && schemeText !== 'ws') {
    return { ok: false, reason: 'scheme_not_allowed', hostText: sanitizeHost(authority), port: 0 };
  }
  const r = resolveAuthority(authority, schemeText, 80);
  if (!r.ok) return r;
  let path = m[3] ?? '/';
  if (path.startsWith('?')) path = `/${path}`;
  return { ok: true, target: { ...r.target, path } };
}

/** Parses a CONNECT authority `host:port` (the port is mandatory). */
export function parseConnectTarget(authority: string): TargetResult {
  return resolveAuthority(authority, null, undefined);
}

/**
 * Checks a Host header against the target. Returns true when absent or when it names the same
 * host and port (after canonicalisation).
 */
export function hostHeaderMatches(header: string | undefined, target: Target, defaultPort: number): boolean {
  if (header === undefined) return true;
  // The very text the target was parsed from names the same host and port by construction (it
  // parsed, so it holds no whitespace for trim() to remove, and the default ports agree): skip
  // parsing it a second time.
  if (header === target.authority) return true;
  const a = splitAuthority(header.trim());
  if (a === null) return false;
  const port = a.port ?? defaultPort;
  if (Number.isNaN(port) || port !== target.port) return false;
  const h = parseHost(a.hostPart);
  return h !== null && h.kind === target.host.kind && hostToText(h) === target.hostText;
}

/** Host header value to send to the target for an absolute-form request. */
export function hostHeaderFor(target: Target): string {
  const host = target.host.kind === 'ipv6' ? `[${target.hostText}]` : target.hostText;
  return target.port === 80 ? host : `${host}:${target.port}`;
}

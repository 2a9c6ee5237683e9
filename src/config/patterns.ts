/**
 * Shapes of the strings a configuration holds (agent names, host patterns, CIDRs, tool patterns,
 * proxy URLs), as regular expressions for the zod schema and the published JSON Schema, plus the
 * precise checks behind them. The regular expressions catch what JSON Schema can express; the
 * checks (canonicalisation, public suffixes, unknown groups) are the real gate.
 */
import { isIPv4 } from 'node:net';
import { canonicalizeCidr, canonicalizeDomainPattern } from '../policy/domains.js';
import { PLUGINS_GROUP, TOOL_GROUPS } from '../policy/tool-groups.js';
import { validateToolPattern } from '../policy/tools.js';
import { RESERVED_AGENT_NAMES } from './defaults.js';
import { displayValue, redactUrl } from './redact.js';

/** A regular expression source that matches `word` in any letter case (JSON Schema has no `i` flag). */
function anyCase(word: string): string {
  // ASCII only (key words such as "group:" and group names), so code units are characters.
  return word
    .split('')
    .map((c) =>
      /[a-z]/i.test(c)
        ? `[${c.toLowerCase()}${c.toUpperCase()}]`
        : c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'),
    )
    .join('');
}

const NAME_BODY = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}';
/** Agent names: 1-64 of letters, digits, `_`, `.`, `-`; not one of the reserved OpenClaw keys. */
export const AGENT_NAME_RE = new RegExp(`^(?!(?:${RESERVED_AGENT_NAMES.join('|')})$)${NAME_BODY}$`, 'u');
/** An `allowAgents` item: an agent name or `*`. */
export const ALLOW_AGENT_RE = new RegExp(`^(?:\\*|${NAME_BODY})$`, 'u');

const LABEL = '[^\\s.*/\\\\:@?#\\[\\]%]{1,63}';
/**
 * `allowed_domains` items: a name, `*.` followed by at least two labels, or an IPv6 literal
 * (bracketed, or bare with at least two colons). A trailing dot is tolerated.
 */
export const DOMAIN_PATTERN_RE = new RegExp(
  `^(?:\\*\\.(?:${LABEL}\\.)+${LABEL}\\.?|(?:${LABEL}\\.)*${LABEL}\\.?|\\[[0-9A-Fa-f:.]+\\]|[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)$`,
  'u',
);
/** `allowed_cidrs` items: an address with an optional prefix length. */
export const CIDR_RE = /^[0-9A-Fa-f:.]+(?:\/[0-9]{1,3})?$/u;
/** Tool patterns: a known `group:` name, or a name/pattern of letters, digits, `_ . : - *`. */
export const TOOL_PATTERN_RE = new RegExp(
  `^(?:${anyCase('group:')}(?:${[...Object.keys(TOOL_GROUPS), PLUGINS_GROUP]
    .map((g) => anyCase(g.slice('group:'.length)))
    .join('|')})|(?!${anyCase('group:')})[A-Za-z0-9_.:*-]{1,128})$`,
  'u',
);
/** Upstream proxy URLs: http or https, an authority, nothing after it but an optional `/`. */
export const PROXY_URL_RE = new RegExp(`^${anyCase('http')}[sS]?://[^\\s/?#]+/?$`, 'u');
/** Gateway listen address: `host:port` or `[v6]:port`. */
export const LISTEN_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/u;

/** Result of one of the checks below. */
export type Checked = { ok: true; value: string } | { ok: false; message: string };

/**
 * Canonicalises an `allowed_domains` item. A pattern holding `@` may be a proxy URL pasted in the
 * wrong place, so its text is never echoed unredacted.
 */
export function checkDomainPattern(raw: string): Checked {
  if (raw.includes('@')) {
    return {
      ok: false,
      message: `${displayValue(raw)} contains "@" (userinfo); list only the host name, such as "api.example.com"`,
    };
  }
  return canonicalizeDomainPattern(raw);
}

/**
 * Shortest prefixes an `allowed_cidrs` exception may have. An exception exists to reach one
 * internal service range; `0.0.0.0/0` or `::/0` would quietly switch address filtering off for
 * every private range at once, so it is refused like `*` in `allowed_domains`. (fc00::/7, all of
 * IPv6 unique-local space, is the broadest legitimate IPv6 exception.)
 */
const MIN_CIDR_PREFIX = { v4: 8, v6: 7 } as const;

/** Canonicalises an `allowed_cidrs` item and refuses over-broad exceptions. */
export function checkCidr(raw: string): Checked {
  const checked = canonicalizeCidr(raw);
  if (!checked.ok) return checked;
  const slash = checked.value.lastIndexOf('/');
  const prefix = Number(checked.value.slice(slash + 1));
  const v6 = checked.value.includes(':');
  const min = v6 ? MIN_CIDR_PREFIX.v6 : MIN_CIDR_PREFIX.v4;
  if (prefix < min) {
    return {
      ok: false,
      message: `${displayValue(raw)} is too broad for an exception (shorter than /${min}); name the internal range the agent needs, such as ${v6 ? '"fd00:1234::/32"' : '"10.20.0.0/16"'}`,
    };
  }
  return checked;
}

/** Validates a tool pattern; returns its lower-cased form. */
export function checkToolPattern(raw: string): Checked {
  const problem = validateToolPattern(raw);
  // The policy engine quotes the pattern verbatim; a proxy URL pasted here must not be echoed.
  if (problem !== null)
    return { ok: false, message: problem.replace(JSON.stringify(raw), displayValue(raw)) };
  return { ok: true, value: raw.toLowerCase() };
}

/** Message for an agent name that does not fit {@link AGENT_NAME_RE}. */
export function agentNameMessage(raw: unknown): string {
  if (typeof raw === 'string' && RESERVED_AGENT_NAMES.includes(raw)) {
    return `the agent name ${JSON.stringify(raw)} is reserved (agents.${raw} is OpenClaw's own key)`;
  }
  return 'an agent name must be 1-64 letters, digits, "_", "." or "-", starting with a letter, digit or "_"';
}

/**
 * Checks an upstream proxy URL. Messages show the URL only redacted: the password must never
 * reach an error, a terminal or a log.
 */
export function checkProxyUrl(raw: string): Checked {
  const shown = JSON.stringify(redactUrl(raw));
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: `${shown} is not a valid URL; expected http://[user:password@]host:port` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return {
      ok: false,
      message: `${shown} uses the scheme "${url.protocol.replace(/:$/, '')}"; an upstream proxy URL must be http:// or https://`,
    };
  }
  if (url.hostname === '') return { ok: false, message: `${shown} has no host; expected http://host:port` };
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    return {
      ok: false,
      message: `${shown} has a path, query or fragment; expected only http://[user:password@]host:port`,
    };
  }
  return { ok: true, value: raw };
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Parses the gateway `listen` address; the gateway only ever listens on loopback. */
export function checkListen(
  raw: string,
): { ok: true; host: string; port: number } | { ok: false; message: string } {
  const colon = raw.lastIndexOf(':');
  const hostText = raw.slice(0, colon);
  const port = Number(raw.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    return { ok: false, message: 'expected "host:port" with a port from 0 to 65535 (0 = any free port)' };
  }
  const host = hostText.startsWith('[') ? hostText.slice(1, -1) : hostText;
  if (!LOOPBACK_NAMES.has(hostText) && !(isIPv4(host) && host.startsWith('127.'))) {
    return {
      ok: false,
      message: `the gateway listens on loopback only (127.0.0.0/8, [::1] or localhost), got ${JSON.stringify(hostText)}`,
    };
  }
  return { ok: true, host: host === 'localhost' ? '127.0.0.1' : host, port };
}

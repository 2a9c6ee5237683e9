/**
 * Canonical forms of host names, host patterns and CIDRs.
 *
 * Every host the gateway sees, and every pattern a config lists, is turned into exactly one
 * canonical text before it is compared: WHATWG host parsing (the same algorithm browsers and
 * undici's URL parser use), so `127.1`, `0x7f000001`, `2130706433` and `0177.0.0.1` are all
 * `127.0.0.1`, IDN becomes punycode, case and a trailing dot are dropped. Comparing anything other
 * than canonical forms is how allowlists get bypassed.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { parse as parseDomain } from 'tldts';
import { formatIpv6, parseIpv4Strict, parseIpv6, v6Network } from './ip.js';

/** Result of a canonicalisation: the canonical text, or a message saying what is expected. */
export type CanonicalResult = { ok: true; value: string } | { ok: false; message: string };

/**
 * A host taken from a request, in canonical form.
 * - `domain`: punycode, lower-case, no trailing dot.
 * - `ipv4`: dotted-quad decimal.
 * - `ipv6`: RFC 5952 text without brackets.
 */
export type ParsedHost =
  { kind: 'domain'; name: string } | { kind: 'ipv4'; address: string } | { kind: 'ipv6'; address: string };

const MAX_NAME = 253;
const MAX_LABEL = 63;
/** Longer input is refused before any parsing work (a DNS name is at most 253 octets). */
const MAX_INPUT = 1024;

/**
 * Characters that change how a URL parser splits an authority (`/ ? # @ \`), percent-encoding
 * (the WHATWG host parser decodes `%61` to `a`, so `ex%61mple.com` would silently become
 * `example.com`), and whitespace/controls. They are refused up front instead of being interpreted.
 */
const STRUCTURAL = /[\s\p{Cc}/?#@\\%]/u;
const LABEL = /^[a-z0-9_-]{1,63}$/;

function fail(message: string): { ok: false; message: string } {
  return { ok: false, message };
}

/** Validates an ASCII name produced by the WHATWG parser: labels of LDH + `_`, length limits. */
function checkAsciiName(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_NAME) return `is ${name.length} characters long; a host name has at most ${MAX_NAME}`;
  for (const label of name.split('.')) {
    if (label.length === 0) return 'has an empty label (two dots in a row, or a leading dot)';
    if (label.length > MAX_LABEL) {
      return `has a label of ${label.length} characters; a label has at most ${MAX_LABEL}`;
    }
    if (!LABEL.test(label)) {
      return `has a label "${label}" with characters other than letters, digits, "-" and "_"`;
    }
    // Node versions disagree on malformed punycode (older ones refuse `xn--zz`, newer ones pass it
    // through), and `xn--ascii-` is a second spelling of plain `ascii`. Requiring an exact round
    // trip gives one answer everywhere and one spelling per name.
    if (label.startsWith('xn--')) {
      const unicode = domainToUnicode(label);
      if (unicode === '' || unicode === label || domainToASCII(unicode) !== label) {
        return `has an invalid punycode label "${label}"`;
      }
    }
  }
  return null;
}

type HostResult = { ok: true; host: ParsedHost } | { ok: false; message: string };

/** Core host canonicalisation shared by patterns and request hosts. `text` holds no structural chars. */
function canonicalHost(text: string): HostResult {
  if (text.startsWith('[') || text.includes(':')) {
    const parts = parseIpv6(text);
    if (parts === null) {
      return fail(
        text.startsWith('[')
          ? 'is not a valid IPv6 address in brackets'
          : 'contains ":" but is not an IPv6 address (a port does not belong here)',
      );
    }
    return { ok: true, host: { kind: 'ipv6', address: formatIpv6(parts) } };
  }
  if (text.includes('[') || text.includes(']')) return fail('contains "[" or "]" outside an IPv6 literal');
  let ascii = domainToASCII(text);
  if (ascii === '') {
    return fail('is not a valid host name (invalid characters, invalid IDN, or a malformed IPv4 address)');
  }
  // A single trailing dot (ASCII or, before mapping, an ideographic full stop) marks a
  // fully-qualified name; it names the same host. Stripped after mapping so every dot form is covered.
  if (ascii.endsWith('.')) ascii = ascii.slice(0, -1);
  if (ascii.length === 0) return fail('is empty');
  // The WHATWG parser returns dotted-quad text exactly when it read the host as IPv4 (a name
  // whose last label is numeric is either IPv4 or rejected), so this test is unambiguous.
  if (parseIpv4Strict(ascii) >= 0) return { ok: true, host: { kind: 'ipv4', address: ascii } };
  const problem = checkAsciiName(ascii);
  if (problem !== null) return fail(problem);
  return { ok: true, host: { kind: 'domain', name: ascii } };
}

/**
 * Parses a host taken from a request: an absolute-form URL's host, a CONNECT authority's host or
 * a Host header's host — WITHOUT the port. Bracketed (and bare) IPv6 is accepted; zone ids,
 * percent-encoding, userinfo, paths, whitespace and forbidden code points are refused.
 *
 * @returns the canonical host, or null when the text is not a valid host.
 * @example parseHost('0x7f.1') // { kind: 'ipv4', address: '127.0.0.1' }
 * @example parseHost('[0:0:0:0:0:0:0:1]') // { kind: 'ipv6', address: '::1' }
 * @example parseHost('Bücher.Example.') // { kind: 'domain', name: 'xn--bcher-kva.example' }
 */
export function parseHost(input: string): ParsedHost | null {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_INPUT) return null;
  if (STRUCTURAL.test(input)) return null;
  const r = canonicalHost(input);
  return r.ok ? r.host : null;
}

/**
 * Splits an authority (`host:port`, `[v6]:port`, or `host` when `defaultPort` is given) and
 * parses the host with {@link parseHost}. The port must be decimal digits in 1-65535.
 *
 * @returns null when the authority is malformed or has no port and no default applies.
 * @example parseAuthority('[::1]:8443', null) // { host: { kind: 'ipv6', address: '::1' }, port: 8443 }
 */
export function parseAuthority(
  authority: string,
  defaultPort: number | null,
): { host: ParsedHost; port: number } | null {
  if (typeof authority !== 'string' || authority.length === 0 || authority.length > MAX_INPUT) return null;
  let hostText: string;
  let portText: string | null = null;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return null;
    hostText = authority.slice(0, close + 1);
    const rest = authority.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) return null;
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      if (authority.indexOf(':') !== colon) return null; // bare IPv6 needs brackets in an authority
      hostText = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    } else {
      hostText = authority;
    }
  }
  let port: number;
  if (portText === null) {
    if (defaultPort === null) return null;
    port = defaultPort;
  } else {
    if (!/^[0-9]{1,5}$/.test(portText)) return null;
    port = Number(portText);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  const host = parseHost(hostText);
  return host === null ? null : { host, port };
}

/**
 * Canonicalises one `allowed_domains` entry.
 *
 * Accepted: exact names (`api.example.com`), a leading wildcard label (`*.example.com`, which
 * matches subdomains at any depth but NOT `example.com` itself), and IP literals (`203.0.113.7`,
 * `[2001:db8::1]` or `2001:db8::1`; IPv6 canonicalises to the bracketed form `[2001:db8::1]`).
 * IDN becomes punycode, upper case becomes lower case, a trailing dot is dropped.
 *
 * Refused: empty, `*`, `*.`, a `*` anywhere but as the whole first label, a wildcard over a
 * public suffix (`*.com`, `*.co.uk`, ICANN section of the Public Suffix List) or over a single
 * label, a wildcard over an IP, schemes, userinfo, ports, paths, over-long labels/names and
 * invalid characters.
 *
 * @example canonicalizeDomainPattern('*.Bücher.example.') // { ok: true, value: '*.xn--bcher-kva.example' }
 * @example canonicalizeDomainPattern('*.co.uk') // { ok: false, message: '... public suffix ...' }
 */
export function canonicalizeDomainPattern(pattern: string): CanonicalResult {
  if (typeof pattern !== 'string') return fail('must be a string such as "api.example.com"');
  const shown = JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern);
  const expected = 'expected a host name such as "api.example.com", a rule such as "*.example.com", or an IP';
  if (pattern.length === 0) return fail(`must not be empty; ${expected}`);
  if (pattern.length > MAX_INPUT)
    return fail(`${shown} is too long; a host name has at most ${MAX_NAME} characters`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pattern)) {
    return fail(`${shown} is a URL; list only the host name (no scheme such as "https://"); ${expected}`);
  }
  if (pattern.includes('@')) return fail(`${shown} contains "@" (userinfo); list only the host name`);
  if (/[/?#\\]/.test(pattern))
    return fail(`${shown} contains a path, query or fragment; list only the host name`);
  if (/[\s\p{Cc}]/u.test(pattern)) return fail(`${shown} contains whitespace or control characters`);
  if (pattern.includes('%'))
    return fail(`${shown} contains "%" (percent-encoding or an IPv6 zone id are not allowed)`);
  if (/^[^:[\]]*:[0-9]*$/.test(pattern) || /^\[[^\]]*\]:/.test(pattern)) {
    return fail(`${shown} contains a port; list only the host name and put ports in network.allowed_ports`);
  }

  if (pattern === '*' || pattern === '*.') {
    return fail(`${shown} would allow every host; list each domain, or use a rule such as "*.example.com"`);
  }
  if (pattern.startsWith('*.')) {
    const rest = pattern.slice(2);
    if (rest.includes('*'))
      return fail(`${shown}: "*" is only allowed once, as the whole first label ("*.example.com")`);
    const r = canonicalHost(rest);
    if (!r.ok) return fail(`${shown}: the part after "*." ${r.message}; ${expected}`);
    if (r.host.kind !== 'domain')
      return fail(`${shown}: a wildcard cannot cover an IP address; list the address itself`);
    const name = r.host.name;
    if (name.length > MAX_NAME - 2)
      return fail(`${shown} is too long; a host name has at most ${MAX_NAME} characters`);
    if (!name.includes('.')) {
      return fail(
        `${shown} covers a whole top-level domain; name a registrable domain, as in "*.example.com"`,
      );
    }
    const info = parseDomain(name, { allowPrivateDomains: false, extractHostname: false });
    if (info.domain === null || info.publicSuffix === name) {
      return fail(
        `${shown} covers the public suffix "${name}" (every domain registered under it); ` +
          `name a registrable domain, as in "*.example.${name}"`,
      );
    }
    return { ok: true, value: `*.${name}` };
  }
  if (pattern.includes('*')) {
    return fail(`${shown}: "*" is only allowed as the whole first label, as in "*.example.com"`);
  }
  const r = canonicalHost(pattern);
  if (!r.ok) return fail(`${shown} ${r.message}; ${expected}`);
  switch (r.host.kind) {
    case 'domain':
      return { ok: true, value: r.host.name };
    case 'ipv4':
      return { ok: true, value: r.host.address };
    case 'ipv6':
      return { ok: true, value: `[${r.host.address}]` };
  }
}

/**
 * Canonicalises a CIDR (`10.20.0.0/16`, `fd00::/8`); a bare address means /32 or /128.
 * IPv4 must be dotted-quad decimal without leading zeros (`010.0.0.0` is octal to some parsers
 * and decimal to others, so it is refused). Host bits must be zero: `10.20.1.0/16` is an error
 * naming `10.20.0.0/16`, because a typo in an exception must not silently widen or move it.
 *
 * @example canonicalizeCidr('FD00::/8') // { ok: true, value: 'fd00::/8' }
 * @example canonicalizeCidr('10.0.0.1') // { ok: true, value: '10.0.0.1/32' }
 */
export function canonicalizeCidr(text: string): CanonicalResult {
  if (typeof text !== 'string') return fail('must be a string such as "10.20.0.0/16"');
  const expected = 'expected a CIDR such as "10.20.0.0/16" or "fd00::/8", or a single address';
  const shown = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
  if (text.length === 0 || text.length > 64) return fail(`${shown} is not a CIDR; ${expected}`);
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? null : text.slice(slash + 1);
  if (addrText.includes('%')) return fail(`${shown} contains an IPv6 zone id; ${expected}`);

  let isV6: boolean;
  let v4 = -1;
  let v6: number[] | null = null;
  if (addrText.includes(':')) {
    if (addrText.startsWith('['))
      return fail(`${shown}: write the IPv6 address without brackets; ${expected}`);
    v6 = parseIpv6(addrText);
    if (v6 === null) return fail(`${shown}: "${addrText}" is not a valid IPv6 address; ${expected}`);
    isV6 = true;
  } else {
    v4 = parseIpv4Strict(addrText);
    if (v4 < 0) {
      return fail(
        `${shown}: "${addrText}" is not a dotted-quad IPv4 address (four decimal numbers 0-255, ` +
          `no leading zeros); ${expected}`,
      );
    }
    isV6 = false;
  }
  const max = isV6 ? 128 : 32;
  let prefix = max;
  if (prefixText !== null) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > max) {
      return fail(`${shown}: the prefix length must be a whole number from 0 to ${max}; ${expected}`);
    }
    prefix = Number(prefixText);
  }
  if (isV6 && v6 !== null) {
    const network = v6Network(v6, prefix);
    const canon = `${formatIpv6(network)}/${prefix}`;
    if (network.some((g, i) => g !== v6[i])) {
      return fail(`${shown} has host bits set; the network address is "${canon}"`);
    }
    return { ok: true, value: canon };
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (v4 & mask) >>> 0;
  const canon = `${(net >>> 24) & 255}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${prefix}`;
  if (net !== v4) return fail(`${shown} has host bits set; the network address is "${canon}"`);
  return { ok: true, value: canon };
}

/**
 * Keeping secrets out of messages. Proxy URLs carry credentials; any text that might be a URL is
 * redacted before it is echoed in an error, a summary or a log line.
 */

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Redaction by hand, for text the WHATWG parser refuses or reads without a password: everything
 * before the LAST `@` of the text is taken as userinfo, even past a `/`, `?` or `#`, because a
 * password such as `p/ss` or `pa#ss` makes the parser end the authority early and would otherwise
 * be echoed. Over-redacting a path or fragment is the safe mistake.
 */
function redactByHand(text: string): string {
  const scheme = SCHEME.exec(text)?.[0] ?? '';
  const rest = text.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at < 0) return text;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return text;
  return `${scheme}${userinfo.slice(0, colon)}:***${rest.slice(at)}`;
}

/**
 * Returns the URL with any password replaced by `***` (the user name is kept so an operator can
 * tell credentials apart). Never throws; text that is not a URL is redacted by hand, so
 * `user:secret@host` and malformed URLs lose their password too.
 *
 * @example redactUrl('http://isolated:pass@security-pool.example:8080') // 'http://isolated:***@security-pool.example:8080'
 */
export function redactUrl(url: string): string {
  try {
    if (typeof url !== 'string') return '***';
    let parsed: URL | undefined;
    try {
      parsed = SCHEME.test(url) ? new URL(url) : undefined;
    } catch {
      parsed = undefined;
    }
    // Without a parsed password, the hand redaction still catches `user:@host`-like leftovers.
    if (parsed === undefined || parsed.password === '') return redactByHand(url);
    parsed.password = '***';
    let out = parsed.href;
    if (
      out.endsWith('/') &&
      !url.endsWith('/') &&
      parsed.pathname === '/' &&
      parsed.search === '' &&
      parsed.hash === ''
    ) {
      out = out.slice(0, -1);
    }
    return out;
  } catch {
    return '***';
  }
}

/**
 * A user-supplied string made safe to quote in a message: credentials redacted, long text cut,
 * JSON-quoted so whitespace and control characters are visible.
 */
export function displayValue(text: string, max = 80): string {
  const safe = text.includes('@') ? redactUrl(text) : text;
  return JSON.stringify(safe.length > max ? `${safe.slice(0, max)}…` : safe);
}

/**
 * Proxy credentials: minting and constant-time verification of `Proxy-Authorization: Basic`.
 *
 * Only a SHA-256 digest of each password is kept, so a heap dump of the parent does not hand out
 * working credentials. Both sides are hashed before `timingSafeEqual`, so neither the comparison
 * time nor an early length mismatch reveals anything about the stored secret; an unknown username
 * is compared against a dummy digest for the same reason.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { nanoid } from 'nanoid';

/** Subagent ids double as proxy usernames, so they must be safe in a URL's userinfo and a log. */
export const ID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;

/** 32 nanoid characters = 192 bits of randomness (the requirement is at least 128). */
const PASSWORD_LENGTH = 32;
/** A caller-supplied static password must look like one we would mint (>= 128 bits of nanoid alphabet). */
export const STATIC_PASSWORD_PATTERN = /^[A-Za-z0-9_-]{22,256}$/;

/** Longest header value we bother decoding; a Basic credential of ours is far shorter. */
const MAX_AUTH_HEADER = 1024;

function digest(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Outcome of checking a request's credential. */
export type AuthResult<T> =
  | { readonly ok: true; readonly value: T; readonly prepaid: boolean }
  | { readonly ok: false; readonly reason: 'auth_required' | 'auth_invalid' };

interface Entry<T> {
  readonly username: string;
  readonly digest: Buffer;
  readonly value: T;
  /** A second credential of the same owner whose requests its caller has already charged. */
  readonly prepaid: boolean;
}

/** A credential store mapping usernames to an owner value (the registration). */
export class CredentialStore<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #dummy = digest(randomBytes(32));
  /**
   * The header value each client connection last proved valid, so keep-alive requests skip the
   * base64 decode and the hash. Weak: it dies with the connection.
   */
  readonly #proven = new WeakMap<object, { header: string; entry: Entry<T> }>();

  /** Mints a fresh password for `username`; the caller hands it to the subagent, we keep a digest. */
  mint(username: string, value: T, fixed?: string, prepaid = false): string {
    const password = fixed ?? nanoid(PASSWORD_LENGTH);
    this.#entries.set(username, { username, digest: digest(password), value, prepaid });
    return password;
  }

  /** Forgets a username at once; later requests with its credential get 407. */
  delete(username: string): void {
    this.#entries.delete(username);
  }

  clear(): void {
    this.#entries.clear();
  }

  /**
   * Verifies a `Proxy-Authorization` header value. `count` is how many Proxy-Authorization
   * headers the request carried: more than one is ambiguous and refused.
   *
   * `connection` (the client socket) lets later requests on the same connection that repeat the
   * exact header already proven there skip the decode and hash. The shortcut compares with `===`
   * only against a value this same connection has already presented successfully, so its timing
   * can tell a client nothing it did not send itself; any other value takes the constant-time
   * path. It holds only while the username still maps to the same entry: `delete` (revoke) or a
   * re-registration ends it at once.
   */
  verify(header: string | undefined, count: number, connection?: object): AuthResult<T> {
    if (header === undefined || count === 0) return { ok: false, reason: 'auth_required' };
    if (count > 1 || header.length > MAX_AUTH_HEADER) return { ok: false, reason: 'auth_invalid' };
    if (connection !== undefined) {
      const proven = this.#proven.get(connection);
      if (proven !== undefined && proven.header === header) {
        if (this.#entries.get(proven.entry.username) === proven.entry)
          return { ok: true, value: proven.entry.value, prepaid: proven.entry.prepaid };
        this.#proven.delete(connection);
      }
    }
    const m = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
    const encoded = m?.[1];
    if (encoded === undefined) return { ok: false, reason: 'auth_invalid' };
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return { ok: false, reason: 'auth_invalid' };
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const entry = this.#entries.get(username);
    const given = digest(password);
    const equal = timingSafeEqual(given, entry === undefined ? this.#dummy : entry.digest);
    if (entry === undefined || !equal) return { ok: false, reason: 'auth_invalid' };
    if (connection !== undefined) this.#proven.set(connection, { header, entry });
    return { ok: true, value: entry.value, prepaid: entry.prepaid };
  }
}

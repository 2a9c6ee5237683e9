/**
 * Name resolution for egress: once per request, bounded in time, every answer validated.
 * The addresses returned here are the only ones the policy checks and the only ones dialled;
 * nothing downstream resolves the name again (no DNS-rebinding window).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Resolver } from './types.js';

/** The default resolver: the system's lookup, every address, in the system's order. */
export const systemResolver: Resolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export type ResolveResult =
  | { readonly ok: true; readonly addresses: readonly string[]; readonly ms: number }
  | { readonly ok: false; readonly reason: 'dns_error' | 'dns_timeout'; readonly ms: number };

const MAX_ANSWERS = 64;

/**
 * Resolves `name` with `resolver`, giving up after `timeoutMs`. An answer that is not an IP
 * literal makes the whole resolution an error (a resolver is not trusted to be well-formed).
 * IPv4 answers are ordered first so dialling prefers them; all answers are returned for checking.
 */
export async function resolveOnce(
  resolver: Resolver,
  name: string,
  timeoutMs: number,
): Promise<ResolveResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      resolve('timeout');
    }, timeoutMs);
  });
  try {
    const answer = await Promise.race([resolver(name), timeout]);
    const ms = performance.now() - started;
    if (answer === 'timeout') return { ok: false, reason: 'dns_timeout', ms };
    if (!Array.isArray(answer) || answer.length === 0 || answer.length > MAX_ANSWERS) {
      return { ok: false, reason: 'dns_error', ms };
    }
    const v4: string[] = [];
    const v6: string[] = [];
    for (const a of answer as unknown[]) {
      const address = typeof a === 'object' && a !== null && 'address' in a ? a.address : undefined;
      if (typeof address !== 'string') return { ok: false, reason: 'dns_error', ms };
      // Zone ids make the same text mean different hosts on different interfaces.
      const fam = address.includes('%') ? 0 : isIP(address);
      if (fam === 4) v4.push(address);
      else if (fam === 6) v6.push(address);
      else return { ok: false, reason: 'dns_error', ms };
    }
    return { ok: true, addresses: [...v4, ...v6], ms };
  } catch {
    return { ok: false, reason: 'dns_error', ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

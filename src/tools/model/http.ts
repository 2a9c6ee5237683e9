/**
 * One POST from the parent to a model provider, with the gateway's address rules: the name is
 * resolved once, every answer is classified, the request is refused if ANY answer is private,
 * loopback, metadata or otherwise prohibited (unless inside an explicitly configured CIDR;
 * metadata never), and exactly the checked address is dialled (no second lookup, no rebinding).
 * Redirects are not followed; the response body is size-capped; the call is bounded in time.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { ToolError } from '../../errors.js';
import { resolveOnce, systemResolver } from '../../gateway/resolve.js';
import type { Resolver } from '../../gateway/types.js';
import type { AddressPolicy } from '../../policy/addresses.js';

export interface PostOptions {
  readonly addresses: AddressPolicy;
  readonly resolver?: Resolver | undefined;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly signal: AbortSignal;
}

const DNS_TIMEOUT_MS = 5000;

const upstream = (message: string, details: Record<string, unknown>, cause?: unknown): ToolError =>
  new ToolError('SG_MODEL_UPSTREAM', message, { details, ...(cause === undefined ? {} : { cause }) });

/** Resolves and checks the host of `url`; returns the one address to dial. */
async function admit(url: URL, opts: PostOptions): Promise<{ address: string; family: 4 | 6 }> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: readonly string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    const r = await resolveOnce(opts.resolver ?? systemResolver, host, DNS_TIMEOUT_MS);
    if (!r.ok) throw upstream(`model_call: cannot resolve ${host} (${r.reason})`, { host, reason: r.reason });
    addresses = r.addresses;
  }
  if (addresses.length === 0) throw upstream(`model_call: ${host} has no address`, { host });
  for (const a of addresses) {
    const d = opts.addresses.check(a);
    if (!d.allow) {
      throw upstream(
        `model_call: ${host} resolves to ${a}, refused (${d.reason}${d.rule === null ? '' : `, ${d.rule}`}); list its range in allowedCidrs if it is yours`,
        { host, address: a, reason: d.reason },
      );
    }
  }
  const first = addresses[0] ?? '';
  return { address: first, family: isIP(first) === 6 ? 6 : 4 };
}

/** POSTs `body` as JSON; resolves to the status and the parsed JSON body (undefined if not JSON). */
export async function postJson(
  url: URL,
  headers: Record<string, string>,
  body: object,
  opts: PostOptions,
): Promise<{ status: number; json: unknown }> {
  const target = await admit(url, opts);
  const pinned: LookupFunction = (_name, options, cb) => {
    // Dial exactly the checked address, whatever the name resolves to now.
    if (options.all === true) cb(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  };
  if (opts.signal.aborted) {
    throw upstream('model_call: the call was aborted (the subagent ended)', { host: url.host });
  }
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: ToolError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      req.destroy();
      reject(err);
    };
    const req = request(url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        accept: 'application/json',
        'content-length': String(payload.length),
      },
      lookup: pinned,
      agent: false,
      ...(url.protocol === 'https:' && isIP(url.hostname) === 0 ? { servername: url.hostname } : {}),
    });
    // First, before anything can destroy the request: an 'error' without a listener would be an
    // uncaught exception in the parent.
    req.on('error', (err) => {
      fail(upstream(`model_call: request to ${url.host} failed: ${err.message}`, { host: url.host }));
    });
    const timer = setTimeout(() => {
      fail(
        upstream(`model_call: no complete answer from ${url.host} within ${opts.timeoutMs} ms`, {
          host: url.host,
        }),
      );
    }, opts.timeoutMs);
    const onAbort = (): void => {
      fail(upstream('model_call: the call was aborted (the subagent ended)', { host: url.host }));
    };
    if (opts.signal.aborted) {
      onAbort();
      return;
    }
    opts.signal.addEventListener('abort', onAbort, { once: true });
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxResponseBytes) {
          fail(
            upstream(`model_call: the answer from ${url.host} is over ${opts.maxResponseBytes} bytes`, {
              host: url.host,
            }),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => {
        fail(
          upstream(`model_call: reading the answer from ${url.host} failed: ${err.message}`, {
            host: url.host,
          }),
        );
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.end(payload);
  });
}

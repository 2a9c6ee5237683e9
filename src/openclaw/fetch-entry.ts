/**
 * The program a guarded_fetch subagent runs: one fetch of one URL, nothing else. It runs in the
 * calling agent's sandbox with that agent's credential, so the fetch (and every redirect hop) goes
 * through the egress gateway and that agent's domain list; a refused destination ends this
 * subagent (egress_denied), not the Gateway. Self-contained: it imports nothing.
 */

interface FetchTask {
  readonly url: string;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** What the subagent hands back to the plugin (which parses it with sanitized_parse). */
export interface FetchOutput {
  readonly status: number;
  readonly url: string;
  readonly contentType: string | null;
  readonly body: string;
  readonly truncated: boolean;
}

function readTask(task: unknown): FetchTask {
  const t = (typeof task === 'object' && task !== null ? task : {}) as Record<string, unknown>;
  if (typeof t.url !== 'string') throw new TypeError('task.url must be a string');
  return {
    url: t.url,
    maxBytes: typeof t.maxBytes === 'number' ? t.maxBytes : 256 * 1024,
    timeoutMs: typeof t.timeoutMs === 'number' ? t.timeoutMs : 30_000,
  };
}

export default async function guardedFetch(task: unknown): Promise<FetchOutput> {
  const { url, maxBytes, timeoutMs } = readTask(task);
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  if (res.body !== null) {
    for await (const value of res.body as AsyncIterable<Uint8Array>) {
      if (size + value.byteLength > maxBytes) {
        // Leaving the loop cancels the stream: the rest is never read.
        chunks.push(value.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  }
  const body = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
  return { status: res.status, url: res.url, contentType: res.headers.get('content-type'), body, truncated };
}

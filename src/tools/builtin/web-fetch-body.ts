/**
 * The parent-side half of `web_fetch` that touches response bytes: reading a body into one buffer
 * and fitting the tool's result into the broker's result cap. A hostile origin controls how the
 * body is chunked (one byte per chunk is legal HTTP), so nothing here may cost per-chunk memory.
 */

/** The part of undici's response body the reader needs. */
export interface BodyStream {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  once(event: 'end', fn: () => void): unknown;
  once(event: 'error', fn: (err: Error) => void): unknown;
  off(event: 'data', fn: (chunk: Buffer) => void): unknown;
  destroy(): unknown;
}

/** First allocation when the length is unknown; the buffer doubles up to the call's maxBytes. */
const INITIAL_BYTES = 16 * 1024;

/**
 * Reads at most `maxBytes` of `body` into a single buffer (grown by doubling, never more than
 * `maxBytes`): every chunk is copied and dropped at once, so a million 1-byte chunks cost one
 * buffer, not a million retained Buffer objects. Reading stops (and the body is destroyed) at the
 * first byte past `maxBytes`. Listening to 'data' rather than async-iterating costs no promise per
 * chunk.
 */
export function readBody(
  body: BodyStream,
  maxBytes: number,
  declaredLength: number | undefined,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  let buf = Buffer.allocUnsafe(Math.min(maxBytes, declaredLength ?? INITIAL_BYTES, maxBytes));
  let kept = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      const room = maxBytes - kept;
      const take = Math.min(room, chunk.length);
      if (kept + take > buf.length) {
        const next = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(buf.length * 2, kept + take)));
        buf.copy(next, 0, 0, kept);
        buf = next;
      }
      chunk.copy(buf, kept, 0, take);
      kept += take;
      if (chunk.length > room) {
        // The rest would only cost egress bytes, parent CPU and memory.
        body.off('data', onData);
        body.destroy();
        resolve({ bytes: buf.subarray(0, kept), truncated: true });
      }
    };
    body.on('data', onData);
    body.once('end', () => {
      resolve({ bytes: buf.subarray(0, kept), truncated: false });
    });
    body.once('error', (err) => {
      reject(err);
    });
  });
}

/** Characters JSON.stringify writes as more than themselves (a string never holds a lone surrogate after UTF-8 decoding). */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** The JSON result of one `web_fetch` call. */
export interface FetchResult {
  status: number;
  url: string;
  redirects: number;
  headers: Record<string, string>;
  body: string;
  truncated: boolean;
}

/**
 * Cuts `result.body` until the serialised result fits `capBytes`, marking it truncated. JSON
 * escaping can make a body up to six times longer (`\u0001`), so the byte count read is not the
 * size returned. The first cut is proportional to the body's average escaped width; each later
 * one removes at least a byte per excess byte, so this ends in a few rounds.
 */
export function fitResult(result: FetchResult, capBytes: number): FetchResult {
  let out = result;
  const wrapper = Buffer.byteLength(JSON.stringify({ ...out, body: '', truncated: true }), 'utf8');
  // A body with nothing to escape serialises to its own UTF-8 length: no need to serialise it
  // here (the broker does once more, and the IPC frame once again).
  if (!NEEDS_ESCAPE.test(out.body) && wrapper + Buffer.byteLength(out.body, 'utf8') <= capBytes) return out;
  let size = Buffer.byteLength(JSON.stringify(out), 'utf8');
  if (size <= capBytes) return out;
  const room = Math.max(0, capBytes - wrapper);
  let end = Math.floor((out.body.length * room) / Math.max(1, size - wrapper));
  for (;;) {
    // Never leave half a surrogate pair (it would be escaped as six bytes).
    const last = out.body.charCodeAt(end - 1);
    if (end > 0 && last >= 0xd800 && last <= 0xdbff) end -= 1;
    out = { ...out, body: out.body.slice(0, end), truncated: true };
    size = Buffer.byteLength(JSON.stringify(out), 'utf8');
    if (size <= capBytes || end === 0) return out;
    end = Math.max(0, end - (size - capBytes));
  }
}

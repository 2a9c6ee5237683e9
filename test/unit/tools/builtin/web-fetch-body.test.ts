import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { fitResult, readBody, type FetchResult } from '../../../../src/tools/builtin/web-fetch-body.js';

/** A real stream that delivers `n` bytes one byte per chunk, as a hostile origin can. */
function oneByteChunks(n: number, byte = 0x61): Readable {
  let sent = 0;
  return new Readable({
    read() {
      for (let i = 0; i < 1024 && sent < n; i++, sent++) this.push(Buffer.from([byte]));
      if (sent >= n) this.push(null);
    },
  });
}

function result(body: string): FetchResult {
  return { status: 200, url: 'http://a.test/', redirects: 0, headers: {}, body, truncated: false };
}

void describe('web_fetch body reader', () => {
  void test('coalesces 1-byte chunks into one buffer of exactly the body', async () => {
    const r = await readBody(oneByteChunks(100_000), 256 * 1024, undefined);
    assert.equal(r.truncated, false);
    assert.equal(r.bytes.length, 100_000);
    assert.ok(r.bytes.every((b) => b === 0x61));
    // One backing store, sized by doubling from 16 KiB: never one object per chunk.
    assert.ok(r.bytes.buffer.byteLength <= 128 * 1024, `${r.bytes.buffer.byteLength}`);
  });

  void test('stops at maxBytes, destroys the stream, never allocates past maxBytes', async () => {
    const s = oneByteChunks(1_000_000);
    const r = await readBody(s, 5000, 1_000_000);
    assert.equal(r.truncated, true);
    assert.equal(r.bytes.length, 5000);
    assert.ok(r.bytes.buffer.byteLength <= 8192 || r.bytes.byteOffset + 5000 <= r.bytes.buffer.byteLength);
    assert.equal(s.destroyed, true);
  });

  void test('a body of exactly maxBytes is not truncated', async () => {
    const r = await readBody(oneByteChunks(4096), 4096, 4096);
    assert.deepEqual([r.bytes.length, r.truncated], [4096, false]);
  });

  void test('rejects when the stream errors', async () => {
    const s = new Readable({ read() {} });
    const p = readBody(s, 100, undefined);
    s.destroy(new Error('socket hang up'));
    await assert.rejects(p, /socket hang up/);
  });
});

void describe('web_fetch result fitting', () => {
  void test('a result within the cap is returned unchanged', () => {
    const r = result('hello');
    assert.equal(fitResult(r, 10_000), r);
  });

  void test('a body that grows under JSON escaping is cut to fit and marked truncated', () => {
    const cap = 64 * 1024;
    const r = fitResult(result('\u0001'.repeat(cap)), cap);
    assert.equal(r.truncated, true);
    assert.ok(Buffer.byteLength(JSON.stringify(r)) <= cap);
    assert.ok(r.body.length > cap / 6 - 100, 'no more is cut than needed');
  });

  void test('never leaves half a surrogate pair', () => {
    const cap = 1000;
    const r = fitResult(result('😀'.repeat(1000)), cap);
    assert.ok(Buffer.byteLength(JSON.stringify(r)) <= cap);
    assert.equal(r.body.length % 2, 0);
    assert.doesNotMatch(JSON.stringify(r), /\\ud83d"/);
  });
});

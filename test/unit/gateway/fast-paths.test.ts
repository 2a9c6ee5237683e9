/**
 * Shortcuts taken for speed keep the guarantees of the slow paths they bypass: the per-connection
 * credential memo, the tunnel read buffer and header folding (the audit redaction paths are
 * tested with the audit logger, test/unit/audit/logger.test.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialStore } from '../../../src/gateway/auth.js';
import { foldHeaderName } from '../../../src/gateway/headers.js';
import { TunnelReader } from '../../../src/gateway/tunnel.js';

const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

void describe('CredentialStore per-connection memo', () => {
  void test('accepts the proven header again on the same connection only while the entry lives', () => {
    const s = new CredentialStore<string>();
    const pw = s.mint('sub', 'v1');
    const conn = {};
    assert.deepEqual(s.verify(basic('sub', pw), 1, conn), { ok: true, value: 'v1', prepaid: false });
    assert.deepEqual(s.verify(basic('sub', pw), 1, conn), { ok: true, value: 'v1', prepaid: false });
    s.delete('sub');
    assert.deepEqual(s.verify(basic('sub', pw), 1, conn), { ok: false, reason: 'auth_invalid' });
  });

  void test('a re-registered id with a new password invalidates the memo at once', () => {
    const s = new CredentialStore<string>();
    const old = s.mint('sub', 'v1');
    const conn = {};
    assert.equal(s.verify(basic('sub', old), 1, conn).ok, true);
    const fresh = s.mint('sub', 'v2');
    assert.equal(s.verify(basic('sub', old), 1, conn).ok, false);
    assert.deepEqual(s.verify(basic('sub', fresh), 1, conn), { ok: true, value: 'v2', prepaid: false });
  });

  void test('never lets a memo skip the duplicate-header check or vouch for another value', () => {
    const s = new CredentialStore<string>();
    const pw = s.mint('sub', 'v');
    const conn = {};
    assert.equal(s.verify(basic('sub', pw), 1, conn).ok, true);
    assert.deepEqual(s.verify(basic('sub', pw), 2, conn), { ok: false, reason: 'auth_invalid' });
    assert.equal(s.verify(basic('sub', `${pw}x`), 1, conn).ok, false);
    assert.equal(s.verify(basic('other', pw), 1, conn).ok, false);
    assert.equal(s.verify(basic('sub', pw), 1, {}).ok, true);
  });
});

void describe('TunnelReader', () => {
  void test('copies bytes that arrive before the tunnel is spliced and pauses until then', () => {
    const r = new TunnelReader();
    const buf = r.onread.buffer();
    buf.write('early', 'latin1');
    assert.equal(r.onread.callback(5, buf), false);
    // The read buffer is reused for the next read: the early bytes must not change with it.
    buf.write('XXXXX', 'latin1');
    const seen: string[] = [];
    const early = r.attach((chunk) => {
      seen.push(chunk.toString('latin1'));
      return true;
    });
    assert.deepEqual(
      early.map((b) => b.toString('latin1')),
      ['early'],
    );
    buf.write('later', 'latin1');
    assert.equal(r.onread.callback(5, buf), true);
    assert.deepEqual(seen, ['later']);
  });

  void test('moves to a new, larger buffer for good once a read fills the small one', () => {
    const r = new TunnelReader();
    const delivered: Buffer[] = [];
    r.attach((chunk) => {
      delivered.push(chunk);
      return true;
    });
    const small = r.onread.buffer();
    assert.equal(r.onread.buffer(), small, 'a partial read keeps the buffer');
    r.onread.callback(10, small);
    assert.equal(r.onread.buffer(), small);
    small.fill(1);
    r.onread.callback(small.length, small);
    const large = r.onread.buffer();
    assert.notEqual(large, small);
    assert.ok(large.length > small.length);
    // The chunk handed on from the old buffer is never overwritten by later reads.
    large.fill(2);
    r.onread.callback(large.length, large);
    assert.equal(r.onread.buffer(), large);
    assert.ok(delivered[1]?.every((b) => b === 1));
  });
});

void describe('foldHeaderName', () => {
  void test('folds case and every non-alphanumeric character, on the fast path and off it', () => {
    const cases: [string, string][] = [
      ['Proxy-Authorization', 'proxy-authorization'],
      ['proxy-authorization', 'proxy-authorization'],
      ['PROXY.AUTHORIZATION', 'proxy-authorization'],
      ['Proxy_Authorization', 'proxy-authorization'],
      ['X-Foo~Bar', 'x-foo-bar'],
      ['Content-MD5', 'content-md5'],
      ['', ''],
    ];
    for (const [name, folded] of cases) assert.equal(foldHeaderName(name), folded, name);
  });
});

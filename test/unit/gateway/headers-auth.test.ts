import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialStore } from '../../../src/gateway/auth.js';
import { forwardRequestHeaders, forwardResponseHeaders } from '../../../src/gateway/headers.js';
import { TokenBucket } from '../../../src/gateway/limits.js';
import { answerFor } from '../../../src/gateway/reasons.js';

const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

void describe('forwardRequestHeaders', () => {
  void test('strips proxy, hop-by-hop and Connection-named headers, including spelling variants', () => {
    const raw = [
      'Proxy-Authorization',
      'Basic x',
      'Proxy_Authorization',
      'Basic y',
      'PROXY.AUTHORIZATION',
      'z',
      'Proxy-Connection',
      'keep-alive',
      'Connection',
      'close, X-Secret',
      'X-Secret',
      '1',
      'Keep-Alive',
      '5',
      'TE',
      'trailers',
      'Transfer-Encoding',
      'chunked',
      'Upgrade',
      'h2c',
      'Host',
      'evil',
      'X-Kept',
      'ok',
    ];
    assert.deepEqual(forwardRequestHeaders(raw, { upgrade: false }), ['X-Kept', 'ok']);
  });
  void test('keeps Upgrade for WebSocket and sets a clean Connection', () => {
    const out = forwardRequestHeaders(
      ['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Key', 'k'],
      {
        upgrade: true,
      },
    );
    assert.deepEqual(out, ['Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k', 'Connection', 'Upgrade']);
  });
  void test('strips proxy headers from responses and keeps repeated Set-Cookie', () => {
    const out = forwardResponseHeaders(
      ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Proxy-Authenticate', 'Basic', 'Connection', 'x', 'X', '1'],
      { upgrade: false },
    );
    assert.deepEqual(out, ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  });
});

void describe('CredentialStore', () => {
  void test('mints >= 128-bit passwords and verifies only the right one', () => {
    const s = new CredentialStore<string>();
    const pw = s.mint('sub', 'value');
    assert.match(pw, /^[A-Za-z0-9_-]{32}$/);
    assert.deepEqual(s.verify(basic('sub', pw), 1), { ok: true, value: 'value', prepaid: false });
    assert.equal(s.verify(basic('sub', `${pw}x`), 1).ok, false);
    assert.equal(s.verify(basic('other', pw), 1).ok, false);
    assert.deepEqual(s.verify(undefined, 0), { ok: false, reason: 'auth_required' });
    assert.deepEqual(s.verify(basic('sub', pw), 2), { ok: false, reason: 'auth_invalid' });
    assert.equal(s.verify(`Bearer ${pw}`, 1).ok, false);
    assert.equal(s.verify('Basic !!!', 1).ok, false);
    s.delete('sub');
    assert.equal(s.verify(basic('sub', pw), 1).ok, false);
  });
  void test('two stores never accept each other credentials', () => {
    const a = new CredentialStore<number>();
    const b = new CredentialStore<number>();
    const pw = a.mint('sub', 1);
    b.mint('sub', 2);
    assert.equal(b.verify(basic('sub', pw), 1).ok, false);
  });
});

void describe('limits and answers', () => {
  void test('a token bucket allows its burst then refuses', () => {
    const t = new TokenBucket(1, 2);
    assert.deepEqual([t.take(), t.take(), t.take()], [true, true, false]);
  });
  void test('maps reasons to status codes and RFC 9209 error types', () => {
    assert.deepEqual(answerFor('metadata_prohibited'), { status: 403, error: 'destination_ip_prohibited' });
    assert.deepEqual(answerFor('auth_required'), { status: 407, error: 'http_request_denied' });
    assert.deepEqual(answerFor('dns_timeout'), { status: 504, error: 'dns_timeout' });
    assert.deepEqual(answerFor('tunnel_limit'), { status: 429, error: 'connection_limit_reached' });
  });
});

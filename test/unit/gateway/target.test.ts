import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hostHeaderFor,
  hostHeaderMatches,
  parseAbsoluteTarget,
  parseConnectTarget,
} from '../../../src/gateway/target.js';

void describe('parseAbsoluteTarget', () => {
  const ok: [string, string, number, string][] = [
    ['http://api.example.com/x?y=1', 'api.example.com', 80, '/x?y=1'],
    ['HTTP://API.Example.COM.:8080', 'api.example.com', 8080, '/'],
    ['http://a.test?q', 'a.test', 80, '/?q'],
    ['ws://a.test/chat', 'a.test', 80, '/chat'],
    ['http://127.1/', '127.0.0.1', 80, '/'],
    ['http://0x7f000001/', '127.0.0.1', 80, '/'],
    ['http://[::ffff:7f00:1]:81/', '::ffff:7f00:1', 81, '/'],
  ];
  for (const [url, host, port, path] of ok) {
    void test(`parses ${url} as ${host}:${port}${path}`, () => {
      const r = parseAbsoluteTarget(url);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.target.hostText, host);
      assert.equal(r.target.port, port);
      assert.equal(r.target.path, path);
    });
  }
  const bad: [string, string][] = [
    ['/relative', 'bad_request'],
    ['https://a.test/', 'scheme_not_allowed'],
    ['wss://a.test/', 'scheme_not_allowed'],
    ['ftp://a.test/', 'scheme_not_allowed'],
    ['gopher://a.test/', 'scheme_not_allowed'],
    ['http://user:pw@a.test/', 'bad_request'],
    ['http://a.test:0/', 'bad_request'],
    ['http://a.test:65536/', 'bad_request'],
    ['http://a.test:/', 'bad_request'],
    ['http://a.test:8o/', 'bad_request'],
    ['http://a:b:c/', 'bad_request'],
    ['http:///x', 'bad_request'],
    ['http://[fe80::1%25eth0]/', 'bad_request'],
    ['http://a\\b.test/', 'bad_request'],
    ['http://a b/', 'host_invalid'],
  ];
  for (const [url, reason] of bad) {
    void test(`refuses ${JSON.stringify(url)} as ${reason}`, () => {
      const r = parseAbsoluteTarget(url);
      assert.deepEqual(r.ok ? 'accepted' : r.reason, reason);
    });
  }
});

void describe('parseConnectTarget', () => {
  void test('requires a port', () => {
    assert.equal(parseConnectTarget('a.test').ok, false);
    const r = parseConnectTarget('a.test:443');
    assert.ok(r.ok);
    assert.equal(r.target.scheme, null);
  });
  void test('canonicalises bracketed IPv6', () => {
    const r = parseConnectTarget('[0:0:0:0:0:0:0:1]:443');
    assert.ok(r.ok);
    assert.equal(r.target.hostText, '::1');
    assert.equal(hostHeaderFor(r.target), '[::1]:443');
  });
});

void describe('hostHeaderMatches', () => {
  const r = parseAbsoluteTarget('http://api.example.com:8080/');
  assert.ok(r.ok);
  const t = r.target;
  const table: [string | undefined, boolean][] = [
    [undefined, true],
    ['api.example.com:8080', true],
    ['API.EXAMPLE.COM.:8080', true],
    ['api.example.com', false],
    ['api.example.com:8081', false],
    ['evil.test:8080', false],
    ['api.example.com:8080@evil', false],
  ];
  for (const [h, want] of table) {
    void test(`Host ${JSON.stringify(h)} ${want ? 'matches' : 'does not match'}`, () => {
      assert.equal(hostHeaderMatches(h, t, 80), want);
    });
  }
  void test('a Host header repeating the request authority verbatim matches; other spellings are parsed', () => {
    for (const authority of [
      'api.example.com',
      '127.1:8080',
      '[::1]:81',
      'XN--BCHER-KVA.example',
      '0x7f000001',
    ]) {
      const p = parseAbsoluteTarget(`http://${authority}/x`);
      assert.ok(p.ok, authority);
      assert.equal(p.target.authority, authority);
      assert.equal(hostHeaderMatches(authority, p.target, 80), true, authority);
      assert.equal(hostHeaderMatches(` ${authority}`, p.target, 80), true, authority);
      assert.equal(hostHeaderMatches(`${authority}x`, p.target, 80), false, authority);
    }
    const c = parseConnectTarget('api.example.com:443');
    assert.ok(c.ok);
    assert.equal(hostHeaderMatches('api.example.com:443', c.target, 443), true);
    assert.equal(hostHeaderMatches('api.example.com', c.target, 443), true);
    assert.equal(hostHeaderMatches('api.example.com:444', c.target, 443), false);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HostAcl, canonicalizeDomainPattern } from '../../../src/policy/index.js';

void describe('HostAcl.match', () => {
  const acl = new HostAcl([
    'api.example.com',
    '*.cdn.example.net',
    '*.eu.cdn.example.net',
    'cdn.example.org',
    '*.cdn.example.org',
    'xn--bcher-kva.example',
    '203.0.113.7',
    '[2001:db8::1]',
  ]);
  const cases: [string, string | null][] = [
    ['api.example.com', 'api.example.com'],
    ['example.com', null],
    ['x.api.example.com', null],
    ['api.example.co', null],
    ['apiexample.com', null],
    ['img.cdn.example.net', '*.cdn.example.net'],
    ['a.b.c.cdn.example.net', '*.cdn.example.net'],
    ['cdn.example.net', null],
    ['xcdn.example.net', null],
    ['img.eu.cdn.example.net', '*.eu.cdn.example.net'],
    ['eu.cdn.example.net', '*.cdn.example.net'],
    ['cdn.example.org', 'cdn.example.org'],
    ['a.cdn.example.org', '*.cdn.example.org'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['203.0.113.7', '203.0.113.7'],
    ['[2001:db8::1]', '[2001:db8::1]'],
    ['', null],
    ['.cdn.example.net', null],
    ['a..cdn.example.net', null],
    ['.', null],
    ['net', null],
  ];
  for (const [host, rule] of cases) {
    void test(`${JSON.stringify(host)} → ${rule ?? 'no rule'}`, () => {
      assert.equal(acl.match(host), rule);
    });
  }
  void test('size counts distinct rules', () => {
    assert.equal(acl.size, 8);
    assert.equal(new HostAcl(['a.com', 'a.com', '*.a.com']).size, 2);
    assert.equal(new HostAcl([]).size, 0);
  });
  void test('non-canonical patterns fail construction with SG_POLICY_INVALID', () => {
    for (const p of ['API.example.com', '*', 'a.*.b', 'a..b', '', 'http://x.com', 'x.com:443']) {
      assert.throws(() => new HostAcl([p]), { code: 'SG_POLICY_INVALID' }, p);
    }
  });
});

void describe('HostAcl at scale', () => {
  void test('100,000 mixed rules: hits, wildcard hits and misses are exact', () => {
    const rules: string[] = [];
    for (let i = 0; i < 50_000; i++) rules.push(`host${i}.example${i % 97}.com`);
    for (let i = 0; i < 50_000; i++) rules.push(`*.zone${i}.example.net`);
    const acl = new HostAcl(rules);
    assert.equal(acl.size, 100_000);
    assert.equal(acl.match('host49999.example44.com'), 'host49999.example44.com');
    assert.equal(acl.match('deep.a.b.zone123.example.net'), '*.zone123.example.net');
    assert.equal(acl.match('zone123.example.net'), null);
    assert.equal(acl.match('host50000.example45.com'), null);
    assert.equal(acl.match('x.zone50000.example.net'), null);
  });
});

void describe('HostAcl agrees with a naive rule scan (property-based)', () => {
  const label = fc.constantFrom('a', 'b', 'c', 'api', 'cdn', 'x-y', '_s');
  const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => `${l.join('.')}.example.com`);
  const pattern = fc.tuple(fc.boolean(), name).map(([w, n]) => (w ? `*.${n}` : n));

  function naive(patterns: readonly string[], host: string): boolean {
    return patterns.some((p) => (p.startsWith('*.') ? host.endsWith(p.slice(1)) : host === p));
  }

  void test('match(host) !== null exactly when some rule covers host', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 20 }), name, (patterns, host) => {
        for (const p of patterns) assert.deepEqual(canonicalizeDomainPattern(p), { ok: true, value: p });
        const rule = new HostAcl(patterns).match(host);
        assert.equal(rule !== null, naive(patterns, host));
        if (rule !== null) assert.ok(naive([rule], host));
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalizeCidr, canonicalizeDomainPattern } from '../../../src/policy/index.js';

void describe('canonicalizeDomainPattern: accepted patterns', () => {
  const cases: [string, string][] = [
    ['api.example.com', 'api.example.com'],
    ['API.Example.COM', 'api.example.com'],
    ['api.example.com.', 'api.example.com'],
    ['*.example.com', '*.example.com'],
    ['*.Example.COM.', '*.example.com'],
    ['*.Bücher.example.', '*.xn--bcher-kva.example'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['*.city.kawasaki.jp', '*.city.kawasaki.jp'],
    ['*.example.co.uk', '*.example.co.uk'],
    ['*.github.io', '*.github.io'],
    ['*.corp.internal', '*.corp.internal'],
    ['com', 'com'],
    ['localhost', 'localhost'],
    ['203.0.113.7', '203.0.113.7'],
    ['0xcb007107', '203.0.113.7'],
    ['[2001:db8::1]', '[2001:db8::1]'],
    ['2001:db8::1', '[2001:db8::1]'],
    ['[2001:DB8:0:0:0:0:0:1]', '[2001:db8::1]'],
    ['::ffff:127.0.0.1', '[::ffff:7f00:1]'],
    [`${'a'.repeat(63)}.example.com`, `${'a'.repeat(63)}.example.com`],
  ];
  for (const [input, value] of cases) {
    void test(`${JSON.stringify(input)} → ${value}`, () => {
      assert.deepEqual(canonicalizeDomainPattern(input), { ok: true, value });
    });
  }
});

void describe('canonicalizeDomainPattern: refused patterns say what is expected', () => {
  const cases: [string, RegExp][] = [
    ['', /must not be empty.*api\.example\.com/],
    ['*', /every host/],
    ['*.', /every host/],
    ['*.com', /top-level domain/],
    ['*.uk', /top-level domain/],
    ['*.internal', /top-level domain/],
    ['*.co.uk', /public suffix "co\.uk"/],
    ['*.com.au', /public suffix/],
    ['*.kawasaki.jp', /public suffix/],
    ['*.foo.kawasaki.jp', /public suffix/],
    ['*.xn--fiqs8s', /top-level domain/],
    ['*.中国', /top-level domain/],
    ['a.*.b', /only allowed as the whole first label/],
    ['a.*.example.com', /only allowed as the whole first label/],
    ['*x.com', /only allowed as the whole first label/],
    ['x*.com', /only allowed as the whole first label/],
    ['**.example.com', /only allowed as the whole first label/],
    ['*.*.example.com', /only allowed once/],
    ['example.*', /only allowed as the whole first label/],
    ['*.1.2.3.4', /cannot cover an IP/],
    ['*.[::1]', /cannot cover an IP/],
    ['example.com:443', /port/],
    ['[2001:db8::1]:443', /port/],
    ['example.com:', /port/],
    ['http://x.com', /URL.*scheme/],
    ['https://x.com/', /URL/],
    ['HTTPS://x.com', /URL/],
    ['user@x.com', /userinfo/],
    ['x.com/path', /path/],
    ['x.com?q', /path, query/],
    ['x.com#f', /fragment/],
    ['x\\y.com', /path/],
    ['ex ample.com', /whitespace/],
    [' example.com', /whitespace/],
    ['exa\u0000mple.com', /control/],
    ['ex%61mple.com', /percent/],
    ['fe80::1%eth0', /zone id/],
    [`${'a'.repeat(64)}.com`, /label of 64 characters.*at most 63/],
    [`${Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')}.com`, /at most 253/],
    ['a..b.com', /empty label/],
    ['.example.com', /empty label/],
    ['a$b.com', /not a valid host name|characters other than/],
    ['a_b!.com', /not a valid host name|characters other than/],
    ['xn--zz.example', /not a valid host name|invalid punycode/],
    ['xn--abc-.com', /not a valid host name|invalid punycode/],
    ['example.1', /not a valid host name/],
    ['1.2.3.256', /not a valid host name/],
    ['[1.2.3.4]', /IPv6/],
    ['1:2:3', /IPv6/],
  ];
  for (const [input, message] of cases) {
    void test(`refuses ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      const r = canonicalizeDomainPattern(input);
      assert.equal(r.ok, false);
      assert.match(r.message, message);
    });
  }

  void test('refuses a non-string at runtime', () => {
    assert.equal(canonicalizeDomainPattern(42 as unknown as string).ok, false);
  });
});

void describe('canonicalizeCidr', () => {
  const ok: [string, string][] = [
    ['10.20.0.0/16', '10.20.0.0/16'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['10.0.0.1', '10.0.0.1/32'],
    ['10.0.0.1/32', '10.0.0.1/32'],
    ['192.168.128.0/17', '192.168.128.0/17'],
    ['fd00::/8', 'fd00::/8'],
    ['FD00::/8', 'fd00::/8'],
    ['fd00:0:0:0::/64', 'fd00::/64'],
    ['::/0', '::/0'],
    ['::1', '::1/128'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['::ffff:10.0.0.0/104', '::ffff:a00:0/104'],
  ];
  for (const [input, value] of ok) {
    void test(`${JSON.stringify(input)} → ${value}`, () => {
      assert.deepEqual(canonicalizeCidr(input), { ok: true, value });
    });
  }
  const bad: [string, RegExp][] = [
    ['10.20.1.0/16', /host bits set; the network address is "10\.20\.0\.0\/16"/],
    ['10.0.0.1/8', /network address is "10\.0\.0\.0\/8"/],
    ['fd00::1/8', /network address is "fd00::\/8"/],
    ['10.0.0.0/33', /0 to 32/],
    ['fd00::/129', /0 to 128/],
    ['10.0.0.0/08', /prefix length/],
    ['10.0.0.0/', /prefix length/],
    ['10.0.0.0/-1', /prefix length/],
    ['10.0.0.0/8/8', /prefix length/],
    ['010.0.0.0/8', /no leading zeros/],
    ['10.1/16', /dotted-quad/],
    ['0x0a000000/8', /dotted-quad/],
    ['167772160/8', /dotted-quad/],
    ['10.0.0.256/32', /dotted-quad/],
    ['example.com/8', /dotted-quad/],
    ['[fd00::]/8', /without brackets/],
    ['fe80::%eth0/64', /zone id/],
    ['fd00:::/8', /not a valid IPv6/],
    ['', /not a CIDR/],
    [' 10.0.0.0/8', /dotted-quad/],
  ];
  for (const [input, message] of bad) {
    void test(`refuses ${JSON.stringify(input)}`, () => {
      const r = canonicalizeCidr(input);
      assert.equal(r.ok, false);
      assert.match(r.message, message);
    });
  }
});

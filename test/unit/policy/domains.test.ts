import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthority, parseHost } from '../../../src/policy/index.js';
import type { ParsedHost } from '../../../src/policy/index.js';
import fc from 'fast-check';

const v4 = (address: string): ParsedHost => ({ kind: 'ipv4', address });
const v6 = (address: string): ParsedHost => ({ kind: 'ipv6', address });
const dom = (name: string): ParsedHost => ({ kind: 'domain', name });

void describe('parseHost: IPv4 encodings canonicalise to dotted-quad (WHATWG host parsing)', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0x7F.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0X7F000001', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0177.1', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['0x7f.0x0.0x0.0x1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['127.000.000.001', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['0x7f.1.', '127.0.0.1'],
    ['１２７.０.０.１', '127.0.0.1'],
    ['127。0。0。1', '127.0.0.1'],
    ['169.254.169.254', '169.254.169.254'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['2852039166', '169.254.169.254'],
    ['0251.0376.0251.0376', '169.254.169.254'],
    ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['169.254.43518', '169.254.169.254'],
    ['169.16689662', '169.254.169.254'],
    ['0251.254.169.254', '169.254.169.254'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['00', '0.0.0.0'],
    ['0x.0x.0x.0x', '0.0.0.0'],
    ['0.0.0.0', '0.0.0.0'],
    ['1', '0.0.0.1'],
    ['10.1', '10.0.0.1'],
    ['192.168.1', '192.168.0.1'],
    ['0300.0250.0.1', '192.168.0.1'],
    ['3232235777', '192.168.1.1'],
    ['0xc0a80101', '192.168.1.1'],
    ['4294967295', '255.255.255.255'],
    ['0xffffffff', '255.255.255.255'],
    ['1.0x2.3', '1.2.0.3'],
    ['8.8.8.8', '8.8.8.8'],
  ];
  for (const [input, address] of cases) {
    void test(`${JSON.stringify(input)} is IPv4 ${address}`, () => {
      assert.deepEqual(parseHost(input), v4(address));
    });
  }
});

void describe('parseHost: IPv6 literals canonicalise to RFC 5952 text without brackets', () => {
  const cases: [string, string][] = [
    ['[::1]', '::1'],
    ['::1', '::1'],
    ['[0:0:0:0:0:0:0:1]', '::1'],
    ['[0000:0000:0000:0000:0000:0000:0000:0001]', '::1'],
    ['[0::1]', '::1'],
    ['[::0.0.0.1]', '::1'],
    ['[::]', '::'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['[::FFFF:7F00:1]', '::ffff:7f00:1'],
    ['[0:0:0:0:0:ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['[::ffff:0:7f00:1]', '::ffff:0:7f00:1'],
    ['[::127.0.0.1]', '::7f00:1'],
    ['[64:ff9b::169.254.169.254]', '64:ff9b::a9fe:a9fe'],
    ['[64:ff9b::a9fe:a9fe]', '64:ff9b::a9fe:a9fe'],
    ['[64:ff9b:1::a9fe:a9fe]', '64:ff9b:1::a9fe:a9fe'],
    ['[2002:a9fe:a9fe::]', '2002:a9fe:a9fe::'],
    ['[2001:DB8::1]', '2001:db8::1'],
    ['[2001:0db8:0000:0000:0000:0000:0000:0001]', '2001:db8::1'],
    ['[2001:db8:0:0:1:0:0:1]', '2001:db8::1:0:0:1'],
    ['[1:0:0:1:0:0:0:1]', '1:0:0:1::1'],
    ['[::1:2:3:4:5:6:7]', '0:1:2:3:4:5:6:7'],
    ['[1:2:3:4:5:6:7:8]', '1:2:3:4:5:6:7:8'],
    ['[1::]', '1::'],
    ['[ff02::1]', 'ff02::1'],
    ['[fe80::1]', 'fe80::1'],
    ['[fd00:ec2::254]', 'fd00:ec2::254'],
    ['[2001:0:4136:e378:8000:63bf:3fff:fdd2]', '2001:0:4136:e378:8000:63bf:3fff:fdd2'],
  ];
  for (const [input, address] of cases) {
    void test(`${JSON.stringify(input)} is IPv6 ${address}`, () => {
      assert.deepEqual(parseHost(input), v6(address));
    });
  }
});

void describe('parseHost: domains canonicalise (punycode, lower-case, trailing dot dropped)', () => {
  const cases: [string, string][] = [
    ['example.com', 'example.com'],
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['EXAMPLE.COM.', 'example.com'],
    ['Bücher.example', 'xn--bcher-kva.example'],
    ['BÜCHER.EXAMPLE', 'xn--bcher-kva.example'],
    ['bücher.example.', 'xn--bcher-kva.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['XN--BCHER-KVA.example', 'xn--bcher-kva.example'],
    ['xn--ls8h.la', 'xn--ls8h.la'],
    ['xn--55qx5d.xn--0zwm56d', 'xn--55qx5d.xn--0zwm56d'],
    ['münchen.de', 'xn--mnchen-3ya.de'],
    ['例え.テスト', 'xn--r8jz45g.xn--zckzah'],
    ['ＥＸＡＭＰＬＥ.com', 'example.com'],
    ['x。com', 'x.com'],
    ['example.com。', 'example.com'],
    ['example．com．', 'example.com'],
    ['ﬃ.com', 'ffi.com'],
    ['a\u00adb.com', 'ab.com'],
    ['a-b.example.com', 'a-b.example.com'],
    ['_dmarc.example.com', '_dmarc.example.com'],
    ['localhost', 'localhost'],
    ['1.2.3.example.com', '1.2.3.example.com'],
    ['123.example', '123.example'],
    ['metadata.google.internal', 'metadata.google.internal'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ];
  for (const [input, name] of cases) {
    void test(`${JSON.stringify(input)} is domain ${name}`, () => {
      assert.deepEqual(parseHost(input), dom(name));
    });
  }
});

void describe('parseHost: rejects hosts that are not valid or hide structure', () => {
  const longName = `${Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')}.com`;
  const cases: [string, string][] = [
    ['', 'empty'],
    [' ', 'whitespace'],
    ['exa mple.com', 'inner space'],
    ['example.com ', 'trailing space'],
    ['a\tb.com', 'tab'],
    ['exam\u0000ple.com', 'NUL'],
    ['exam\u007fple.com', 'DEL'],
    ['example.com:80', 'port'],
    ['example.com:', 'empty port'],
    ['user@example.com', 'userinfo'],
    ['user:pw@example.com', 'userinfo with password'],
    ['example.com/', 'path'],
    ['example.com/path', 'path'],
    ['example.com?x', 'query'],
    ['example.com#x', 'fragment'],
    ['a\\b.com', 'backslash'],
    ['ex%61mple.com', 'percent-encoding'],
    ['%31%32%37.0.0.1', 'percent-encoded IPv4'],
    ['fe80::1%eth0', 'zone id'],
    ['[fe80::1%eth0]', 'bracketed zone id'],
    ['[fe80::1%25eth0]', 'percent-encoded zone id'],
    ['[::1', 'unclosed bracket'],
    ['::1]', 'unopened bracket'],
    ['[1.2.3.4]', 'IPv4 in brackets'],
    ['[example.com]', 'name in brackets'],
    ['[::ffff:0177.0.0.1]', 'octal IPv4 inside IPv6'],
    ['[::ffff:127.1]', 'short IPv4 inside IPv6'],
    ['[1:2:3:4:5:6:7:8:9]', 'nine groups'],
    ['[::1::]', 'two ::'],
    ['[12345::1]', 'five hex digits'],
    ['1.2.3.256', 'octet over 255'],
    ['1.2.3.4.5', 'five parts ending in a number'],
    ['4294967296', 'number over 32 bits'],
    ['0x100000000', 'hex over 32 bits'],
    ['08.1.1.1', 'invalid octal digit'],
    ['09', 'invalid octal number'],
    ['example.1', 'numeric last label'],
    ['example.0x1', 'hex last label'],
    ['a..b', 'empty label'],
    ['.example.com', 'leading dot'],
    ['example.com..', 'two trailing dots'],
    ['127.0.0.1..', 'IPv4 with two trailing dots'],
    ['example.com。.', 'two trailing dots, one ideographic'],
    ['.', 'only a dot'],
    ['。x.com', 'leading ideographic full stop'],
    [`${'a'.repeat(64)}.com`, 'label over 63'],
    [longName, 'name over 253'],
    ['xn--zz.example', 'invalid punycode'],
    ['xn--.example', 'empty punycode'],
    ['xn--a-ecp.ru', 'malformed punycode'],
    ['xn--ascii-.com', 'punycode spelling of plain ASCII'],
    ['xn--xn--a.example', 'nested punycode prefix'],
    ['a$b.com', 'dollar sign'],
    ['a*b.com', 'asterisk'],
    ['*.example.com', 'wildcard'],
    ['a!b.com', 'exclamation mark'],
    ['a"b.com', 'quote'],
    ['a<b>.com', 'angle brackets'],
    ['a|b.com', 'pipe'],
    ['a^b.com', 'caret'],
    ['a\u2028b.com', 'line separator'],
    ['x'.repeat(2000), 'over-long input'],
  ];
  for (const [input, why] of cases) {
    void test(`rejects ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)} (${why})`, () => {
      assert.equal(parseHost(input), null);
    });
  }
});

void describe('parseAuthority', () => {
  const ok: [string, number | null, ParsedHost, number][] = [
    ['example.com:443', null, dom('example.com'), 443],
    ['Example.COM.:8080', null, dom('example.com'), 8080],
    ['[::1]:8443', null, v6('::1'), 8443],
    ['[::ffff:127.0.0.1]:80', null, v6('::ffff:7f00:1'), 80],
    ['127.1:80', null, v4('127.0.0.1'), 80],
    ['0x7f000001:22', null, v4('127.0.0.1'), 22],
    ['example.com', 80, dom('example.com'), 80],
    ['[2001:db8::1]', 443, v6('2001:db8::1'), 443],
    ['example.com:65535', null, dom('example.com'), 65535],
    ['example.com:00443', null, dom('example.com'), 443],
  ];
  for (const [input, def, host, port] of ok) {
    void test(`parses ${JSON.stringify(input)} as ${JSON.stringify(host)} port ${port}`, () => {
      assert.deepEqual(parseAuthority(input, def), { host, port });
    });
  }
  const bad: [string, number | null][] = [
    ['example.com', null],
    ['example.com:', null],
    ['example.com:0', null],
    ['example.com:65536', null],
    ['example.com:443x', null],
    ['example.com:+443', null],
    ['example.com:-1', null],
    ['example.com:1e3', null],
    ['example.com:123456', null],
    ['::1:443', null],
    ['[::1]443', null],
    ['[::1', null],
    ['user@example.com:443', null],
    ['[fe80::1%eth0]:443', null],
    ['', 443],
    [':443', null],
  ];
  for (const [input, def] of bad) {
    void test(`rejects authority ${JSON.stringify(input)}`, () => {
      assert.equal(parseAuthority(input, def), null);
    });
  }
});

void describe('parseHost agrees with the WHATWG URL parser on IPv6 (differential, property-based)', () => {
  const group = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom('0', '00', '0000', '1', 'ffff', 'FFFF', 'a9fe', '64', 'ff9b', '2002'),
    },
    { weight: 6, arbitrary: fc.stringMatching(/^[0-9a-fA-F]{1,4}$/) },
    { weight: 1, arbitrary: fc.constantFrom('12345', 'g', '', '-1') },
  );
  const octet = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 255 }).map(String) },
    { weight: 1, arbitrary: fc.constantFrom('256', '01', '0x1', '00', '') },
  );
  const ipv6ish = fc
    .record({
      groups: fc.array(group, { minLength: 6, maxLength: 9 }),
      gapFrom: fc.integer({ min: 0, max: 8 }),
      gapLen: fc.integer({ min: -1, max: 8 }),
      dotted: fc.option(fc.array(octet, { minLength: 3, maxLength: 5 }), { nil: undefined, freq: 3 }),
    })
    .map(({ groups, gapFrom, gapLen, dotted }) => {
      const g = dotted === undefined ? groups : groups.slice(0, Math.max(0, groups.length - 2));
      const tailText = dotted === undefined ? [] : [dotted.join('.')];
      if (gapLen < 0) return [...g, ...tailText].join(':');
      const head = g.slice(0, Math.min(gapFrom, g.length));
      const rest = g.slice(Math.min(gapFrom + gapLen, g.length));
      return `${head.join(':')}::${[...rest, ...tailText].join(':')}`;
    });

  void test('same canonical text, or both refuse', () => {
    fc.assert(
      fc.property(ipv6ish, (text) => {
        let expected: string | null;
        try {
          expected = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        } catch {
          expected = null;
        }
        const got = parseHost(`[${text}]`);
        assert.deepEqual(got, expected === null ? null : { kind: 'ipv6', address: expected }, text);
      }),
      { numRuns: 3000, seed: 20240601 },
    );
  });
});

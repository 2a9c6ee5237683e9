import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyAddress, parseHost } from '../../../src/policy/index.js';
import type { AddressClass } from '../../../src/policy/index.js';

/** The prohibited IPv4 ranges of ARCHITECTURE.md "Egress gateway rules", written out independently. */
const V4_TABLE: [string, AddressClass][] = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link_local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'relay'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
];
const METADATA_V4 = [
  '169.254.169.254',
  '169.254.170.2',
  '169.254.170.23',
  '100.100.100.200',
  '168.63.129.16',
  '192.0.0.192',
  '169.254.169.253',
  '169.254.169.123',
  '169.254.0.23',
  '169.254.42.42',
];

const toInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const toText = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
function expectedV4(n: number): AddressClass {
  if (METADATA_V4.includes(toText(n))) return 'metadata';
  if (n === 0xffffffff) return 'broadcast';
  for (const [cidr, cls] of V4_TABLE) {
    const [a = '', l = ''] = cidr.split('/');
    const size = 2 ** (32 - Number(l));
    if (n >= toInt(a) && n < toInt(a) + size) return cls;
  }
  return 'public';
}

void describe('classifyAddress: every IPv4 range boundary (first/last inside, one outside each end)', () => {
  for (const [cidr] of V4_TABLE) {
    const [a = '', l = ''] = cidr.split('/');
    const first = toInt(a);
    const last = first + 2 ** (32 - Number(l)) - 1;
    const probes = [first, last, first - 1, last + 1].filter((n) => n >= 0 && n <= 0xffffffff);
    for (const n of probes) {
      const text = toText(n);
      const want = expectedV4(n);
      void test(`${text} (${n === first || n === last ? 'edge of' : 'next to'} ${cidr}) is ${want}`, () => {
        const c = classifyAddress(text);
        assert.ok(c);
        assert.equal(c.class, want);
        assert.equal(c.family, 4);
        assert.equal(c.address, text);
        assert.equal(c.embeddedIpv4, undefined);
      });
    }
  }
  const extra: [string, AddressClass][] = [
    ['255.255.255.255', 'broadcast'],
    ['255.255.255.254', 'reserved'],
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['93.184.215.14', 'public'],
    ['100.100.100.199', 'shared'],
    ['100.100.100.201', 'shared'],
    ['168.63.129.15', 'public'],
    ['168.63.129.17', 'public'],
    ['169.254.169.255', 'link_local'],
    ['192.0.0.191', 'reserved'],
    ['192.0.0.193', 'reserved'],
  ];
  for (const [text, want] of extra) {
    void test(`${text} is ${want}`, () => {
      assert.equal(classifyAddress(text)?.class, want);
    });
  }
});

void describe('classifyAddress: every cloud metadata address is metadata', () => {
  const v6 = [
    'fd00:ec2::254',
    'fd00:ec2::23',
    'fd20:ce::254',
    'fe80::a9fe:a9fe',
    'FD00:EC2:0:0:0:0:0:254',
    '[fd00:ec2::254]',
  ];
  for (const a of [...METADATA_V4, ...v6]) {
    void test(`${a} is metadata`, () => {
      const c = classifyAddress(a);
      assert.equal(c?.class, 'metadata');
      assert.match(c.range ?? '', /metadata/);
    });
  }
  const aws: [string, AddressClass][] = [
    ['fd00:ec2::', 'metadata'],
    ['fd00:ec2::1', 'metadata'],
    ['fd00:ec2:ffff:ffff:ffff:ffff:ffff:ffff', 'metadata'],
    ['fd00:ec1:ffff:ffff:ffff:ffff:ffff:ffff', 'private'],
    ['fd00:ec3::', 'private'],
    ['fd20:ce::253', 'private'],
    ['fe80::a9fe:a9fd', 'link_local'],
  ];
  for (const [a, want] of aws)
    void test(`${a} is ${want}`, () => {
      assert.equal(classifyAddress(a)?.class, want);
    });
});

void describe('classifyAddress: IPv6 ranges and their boundaries', () => {
  const cases: [string, AddressClass][] = [
    ['::', 'unspecified'],
    ['0:0:0:0:0:0:0:0', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::2', 'unspecified'], // IPv4-compatible 0.0.0.2
    ['100::', 'reserved'],
    ['100::ffff:ffff:ffff:ffff', 'reserved'],
    ['100:0:0:1::', 'reserved'],
    ['ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
    ['1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
    ['2000::', 'public'],
    ['2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'public'],
    ['2001:1::', 'reserved'],
    ['2001:1::1', 'reserved'],
    ['2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
    ['2001:200::', 'public'],
    ['2001:2::', 'benchmarking'],
    ['2001:2:0:ffff:ffff:ffff:ffff:ffff', 'benchmarking'],
    ['2001:2:1::', 'reserved'],
    ['2001:20::1', 'reserved'],
    ['2001:db8::', 'documentation'],
    ['2001:db8::1', 'documentation'],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 'documentation'],
    ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', 'public'],
    ['2001:db9::', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['2003::', 'public'],
    ['3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'public'],
    ['3fff::', 'documentation'],
    ['3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff', 'documentation'],
    ['3fff:1000::', 'public'],
    ['3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'public'],
    ['4000::', 'reserved'],
    ['fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
    ['fc00::', 'private'],
    ['fd12:3456::1', 'private'],
    ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'private'],
    ['fe00::', 'reserved'],
    ['fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
    ['fe80::', 'link_local'],
    ['fe80::1', 'link_local'],
    ['febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'link_local'],
    ['fec0::', 'site_local'],
    ['feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'site_local'],
    ['ff00::', 'multicast'],
    ['ff02::1', 'multicast'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'multicast'],
  ];
  for (const [a, want] of cases) {
    void test(`${a} is ${want}`, () => {
      const c = classifyAddress(a);
      assert.equal(c?.class, want);
      assert.equal(c.family, 6);
    });
  }
});

void describe('classifyAddress: IPv4 embedded in IPv6 is classified as its IPv4', () => {
  const cases: [string, string, AddressClass][] = [
    // mapped ::ffff:0:0/96
    ['::ffff:127.0.0.1', '127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', '127.0.0.1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:1', '127.0.0.1', 'loopback'],
    ['[::ffff:127.0.0.1]', '127.0.0.1', 'loopback'],
    ['::FFFF:7F00:0001', '127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', '169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', '169.254.169.254', 'metadata'],
    ['::ffff:10.0.0.1', '10.0.0.1', 'private'],
    ['::ffff:192.168.1.1', '192.168.1.1', 'private'],
    ['::ffff:0.0.0.0', '0.0.0.0', 'unspecified'],
    ['::ffff:255.255.255.255', '255.255.255.255', 'broadcast'],
    ['::ffff:8.8.8.8', '8.8.8.8', 'public'],
    ['::ffff:6464:64c8', '100.100.100.200', 'metadata'],
    // translated ::ffff:0:0:0/96
    ['::ffff:0:7f00:1', '127.0.0.1', 'loopback'],
    ['::ffff:0:a9fe:a9fe', '169.254.169.254', 'metadata'],
    // compatible ::/96
    ['::127.0.0.1', '127.0.0.1', 'loopback'],
    ['::7f00:1', '127.0.0.1', 'loopback'],
    ['::a9fe:a9fe', '169.254.169.254', 'metadata'],
    ['::10.1.2.3', '10.1.2.3', 'private'],
    ['::8.8.8.8', '8.8.8.8', 'public'],
    // NAT64 well-known prefix 64:ff9b::/96
    ['64:ff9b::a9fe:a9fe', '169.254.169.254', 'metadata'],
    ['64:ff9b::169.254.169.254', '169.254.169.254', 'metadata'],
    ['64:ff9b::7f00:1', '127.0.0.1', 'loopback'],
    ['64:ff9b::a00:1', '10.0.0.1', 'private'],
    ['64:ff9b::', '0.0.0.0', 'unspecified'],
    ['64:ff9b::808:808', '8.8.8.8', 'public'],
    ['64:ff9b::ffff:ffff', '255.255.255.255', 'broadcast'],
    // NAT64 local-use 64:ff9b:1::/48 (/96 form and RFC 6052 /48 form)
    ['64:ff9b:1::a9fe:a9fe', '169.254.169.254', 'metadata'],
    ['64:ff9b:1::7f00:1', '127.0.0.1', 'loopback'],
    ['64:ff9b:1::808:808', '8.8.8.8', 'public'],
    ['64:ff9b:1:a9fe:a9:fe00::', '169.254.169.254', 'metadata'],
    ['64:ff9b:1:7f00:0:100::', '127.0.0.1', 'loopback'],
    ['64:ff9b:1:ffff:ffff:ffff:ffff:ffff', '255.255.255.255', 'broadcast'],
    // 6to4 2002::/16
    ['2002:a9fe:a9fe::', '169.254.169.254', 'metadata'],
    ['2002:a9fe:a9fe::1', '169.254.169.254', 'metadata'],
    ['2002:7f00:1::', '127.0.0.1', 'loopback'],
    ['2002:c0a8:101::', '192.168.1.1', 'private'],
    ['2002::', '0.0.0.0', 'unspecified'],
    ['2002:808:808::', '8.8.8.8', 'public'],
    ['2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '255.255.255.255', 'broadcast'],
    // Teredo 2001::/32: client IPv4 is the bit-inverted last 32 bits
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', '192.0.2.45', 'documentation'],
    ['2001::5601:5601', '169.254.169.254', 'metadata'],
    ['2001:0:0:0:0:0:5601:5601', '169.254.169.254', 'metadata'],
    ['2001::80ff:fffe', '127.0.0.1', 'loopback'],
    ['2001::f5ff:fffe', '10.0.0.1', 'private'],
    ['2001::', '255.255.255.255', 'broadcast'],
    ['2001:0:ffff:ffff:ffff:ffff:ffff:ffff', '0.0.0.0', 'unspecified'],
  ];
  for (const [a, v4, want] of cases) {
    void test(`${a} embeds ${v4} and is ${want}`, () => {
      const c = classifyAddress(a);
      assert.ok(c);
      assert.equal(c.class, want);
      assert.equal(c.embeddedIpv4, v4);
      assert.equal(c.family, 6);
    });
  }
  void test('Teredo with a public client IPv4 is still not public (2001::/23 is reserved)', () => {
    const c = classifyAddress('2001::f7f7:f7f7');
    assert.equal(c?.embeddedIpv4, '8.8.8.8');
    assert.equal(c.class, 'reserved');
  });
  void test('other addresses under 64:ff9b::/32 are reserved', () => {
    assert.equal(classifyAddress('64:ff9b::1:0:0')?.class, 'reserved');
    assert.equal(classifyAddress('64:ff9b:2::1')?.class, 'reserved');
  });
  void test('the classified address is the canonical IPv6 text (what will be dialled)', () => {
    assert.equal(classifyAddress('0:0:0:0:0:FFFF:127.0.0.1')?.address, '::ffff:7f00:1');
    assert.match(classifyAddress('64:ff9b::a9fe:a9fe')?.range ?? '', /^nat64\(64:ff9b::\/96\)->metadata/);
  });
});

void describe('classifyAddress: text that is not a canonical IP literal is null (and so prohibited)', () => {
  const cases = [
    '',
    '127.1',
    '0177.0.0.1',
    '2130706433',
    '0x7f000001',
    '0x7f.0.0.1',
    '127.0.0.01',
    '1.2.3.4.5',
    '256.1.1.1',
    '1.2.3',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '127.0.0.1.',
    'example.com',
    'localhost',
    'fe80::1%eth0',
    'fe80::1%25eth0',
    '[::1',
    '::1]',
    ':::1',
    '1:2:3:4:5:6:7:8:9',
    '::ffff:0177.0.0.1',
    '::ffff:127.1',
    '12345::',
    'g::1',
  ];
  for (const a of cases)
    void test(`${JSON.stringify(a)} is null`, () => {
      assert.equal(classifyAddress(a), null);
    });
});

void describe('classifyAddress over parseHost: every encoding of a prohibited address stays prohibited', () => {
  const cases: [string, AddressClass][] = [
    ['127.1', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['2130706433', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['[0:0:0:0:0:0:0:1]', 'loopback'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['[::127.0.0.1]', 'loopback'],
    ['0xa9fea9fe', 'metadata'],
    ['2852039166', 'metadata'],
    ['0251.0376.0251.0376', 'metadata'],
    ['169.254.43518', 'metadata'],
    ['[64:ff9b::a9fe:a9fe]', 'metadata'],
    ['[64:ff9b:1::a9fe:a9fe]', 'metadata'],
    ['[2002:a9fe:a9fe::]', 'metadata'],
    ['[2001::5601:5601]', 'metadata'],
    ['[::ffff:169.254.169.254]', 'metadata'],
    ['0', 'unspecified'],
    ['0x', 'unspecified'],
    ['[::]', 'unspecified'],
    ['10.1', 'private'],
    ['0300.0250.0.1', 'private'],
    ['0xffffffff', 'broadcast'],
  ];
  for (const [input, want] of cases) {
    void test(`${input} → ${want}`, () => {
      const h = parseHost(input);
      assert.ok(h && h.kind !== 'domain');
      assert.equal(classifyAddress(h.address)?.class, want);
    });
  }
});

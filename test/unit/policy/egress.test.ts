import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EgressPolicy, parseHost } from '../../../src/policy/index.js';
import type { EgressTarget } from '../../../src/policy/index.js';
import type { NetworkPolicy } from '../../../src/config/types.js';

function network(overrides: Partial<NetworkPolicy> = {}): NetworkPolicy {
  return {
    egressOnly: true,
    allowedDomains: [],
    blockedPorts: [22, 3389, 5432],
    allowedPorts: [80, 443],
    allowedCidrs: [],
    logAllTraffic: true,
    maxEgressBytes: 10_485_760,
    ...overrides,
  };
}

function target(host: string, port = 443, scheme: EgressTarget['scheme'] = 'https'): EgressTarget {
  const h = parseHost(host);
  assert.ok(h, `test host ${host} must parse`);
  return { scheme, host: h, port };
}

const policy = new EgressPolicy(
  network({
    allowedDomains: [
      'api.untrusted-source.com',
      '*.cdn.example.net',
      'xn--bcher-kva.example',
      '93.184.215.14',
      '169.254.169.254',
      '10.20.1.1',
      '10.30.1.1',
      '[2606:4700:4700::1111]',
      '[::1]',
      'localhost',
    ],
    allowedCidrs: ['10.20.0.0/16'],
    allowedPorts: [80, 443, 8443, 22],
  }),
  { gatewayAddresses: ['127.0.0.1'] },
);

void describe('EgressPolicy.checkTarget', () => {
  const cases: [string, EgressTarget, string, string | null][] = [
    ['an allowed name', target('api.untrusted-source.com'), 'allowed', 'api.untrusted-source.com'],
    [
      'an allowed name in upper case with a trailing dot',
      target('API.Untrusted-Source.COM.'),
      'allowed',
      'api.untrusted-source.com',
    ],
    [
      'a CONNECT to an allowed name',
      target('api.untrusted-source.com', 443, null),
      'allowed',
      'api.untrusted-source.com',
    ],
    [
      'ws to an allowed name',
      target('api.untrusted-source.com', 80, 'ws'),
      'allowed',
      'api.untrusted-source.com',
    ],
    ['a subdomain of an exact rule', target('x.api.untrusted-source.com'), 'host_not_allowed', null],
    ['the parent of an exact rule', target('untrusted-source.com'), 'host_not_allowed', null],
    ['a wildcard hit', target('img.cdn.example.net'), 'allowed', '*.cdn.example.net'],
    ['a deep wildcard hit', target('a.b.img.cdn.example.net'), 'allowed', '*.cdn.example.net'],
    ['the wildcard apex', target('cdn.example.net'), 'host_not_allowed', null],
    ['an IDN in Unicode', target('Bücher.example'), 'allowed', 'xn--bcher-kva.example'],
    ['an IDN in punycode', target('xn--bcher-kva.example'), 'allowed', 'xn--bcher-kva.example'],
    ['a name not listed', target('evil.example'), 'host_not_allowed', null],
    [
      'a blocked port on an allowed name (blocked wins over allowed_ports)',
      target('api.untrusted-source.com', 22),
      'port_blocked',
      '22',
    ],
    ['a port not allowed', target('api.untrusted-source.com', 8080), 'port_not_allowed', null],
    ['port 0', target('api.untrusted-source.com', 0), 'port_not_allowed', null],
    ['an allowed public IP literal', target('93.184.215.14'), 'allowed', '93.184.215.14'],
    ['an allowed public IP literal in decimal', target('1572394766'), 'allowed', '93.184.215.14'],
    ['an allowed public IP literal in hex', target('0x5db8d70e'), 'allowed', '93.184.215.14'],
    ['an allowed IPv6 literal', target('[2606:4700:4700:0:0:0:0:1111]'), 'allowed', '[2606:4700:4700::1111]'],
    ['an IP literal not listed', target('1.1.1.1'), 'host_not_allowed', null],
    [
      'a listed metadata literal',
      target('169.254.169.254'),
      'metadata_prohibited',
      'metadata(169.254.169.254)',
    ],
    [
      'a listed metadata literal in hex',
      target('0xa9fea9fe'),
      'metadata_prohibited',
      'metadata(169.254.169.254)',
    ],
    [
      'a listed metadata literal in octal',
      target('0251.0376.0251.0376'),
      'metadata_prohibited',
      'metadata(169.254.169.254)',
    ],
    ['a listed private literal inside allowed_cidrs', target('10.20.1.1'), 'allowed', '10.20.1.1'],
    [
      'a listed private literal outside allowed_cidrs',
      target('10.30.1.1'),
      'address_prohibited',
      '10.0.0.0/8',
    ],
    ['a listed loopback literal', target('[::1]'), 'address_prohibited', '::1/128'],
    ['loopback via a short form (not listed)', target('127.1'), 'host_not_allowed', null],
    ['metadata via NAT64 (not listed)', target('[64:ff9b::a9fe:a9fe]'), 'host_not_allowed', null],
    ['a name that is allowed but resolves later', target('localhost'), 'allowed', 'localhost'],
  ];
  for (const [name, t, reason, rule] of cases) {
    void test(`${name} → ${reason}`, () => {
      assert.deepEqual(policy.checkTarget(t), { allow: reason === 'allowed', reason, rule });
    });
  }

  void test('no allowed domains means no network, before any other check', () => {
    const none = new EgressPolicy(network());
    assert.deepEqual(none.checkTarget(target('api.untrusted-source.com', 22)), {
      allow: false,
      reason: 'no_network',
      rule: null,
    });
  });

  void test('a non-canonical or over-broad domain in the network section fails construction', () => {
    for (const d of ['*', '*.com', 'a.*.b', 'http://x.com']) {
      assert.throws(
        () => new EgressPolicy(network({ allowedDomains: [d] })),
        { code: 'SG_POLICY_INVALID' },
        d,
      );
    }
  });
});

void describe('EgressPolicy.checkAddresses', () => {
  void test('allows when every address is public', () => {
    const d = policy.checkAddresses(['93.184.215.14', '2606:4700:4700::1111']);
    assert.equal(d.allow, true);
    assert.equal(d.reason, 'allowed');
    assert.equal(d.address, '93.184.215.14');
  });
  void test('allows private addresses inside allowed_cidrs', () => {
    assert.equal(policy.checkAddresses(['10.20.0.5', '10.20.255.1']).allow, true);
  });
  const bad: [string[], string, string][] = [
    [['93.184.215.14', '127.0.0.2'], 'address_prohibited', '127.0.0.2'],
    [['10.20.0.5', '10.21.0.5'], 'address_prohibited', '10.21.0.5'],
    [['93.184.215.14', '169.254.169.254'], 'metadata_prohibited', '169.254.169.254'],
    [['::ffff:169.254.169.254'], 'metadata_prohibited', '::ffff:169.254.169.254'],
    [['64:ff9b::a9fe:a9fe', '93.184.215.14'], 'metadata_prohibited', '64:ff9b::a9fe:a9fe'],
    [['fd00:ec2::254'], 'metadata_prohibited', 'fd00:ec2::254'],
    [['127.0.0.1'], 'address_prohibited', '127.0.0.1'],
    [['::ffff:127.0.0.1'], 'address_prohibited', '::ffff:127.0.0.1'],
    [['0.0.0.0'], 'address_prohibited', '0.0.0.0'],
    [['not-an-address'], 'address_prohibited', 'not-an-address'],
    [['127.1'], 'address_prohibited', '127.1'],
  ];
  for (const [addresses, reason, first] of bad) {
    void test(`denies ${addresses.join(', ')} as ${reason} naming ${first}`, () => {
      const d = policy.checkAddresses(addresses);
      assert.equal(d.allow, false);
      assert.equal(d.reason, reason);
      assert.equal(d.address, first);
    });
  }
  void test('the gateway address is never allowed', () => {
    const d = policy.checkAddresses(['127.0.0.1']);
    assert.equal(d.rule, 'gateway');
    assert.equal(d.classification?.class, 'gateway');
  });
  void test('an empty answer is denied', () => {
    assert.deepEqual(policy.checkAddresses([]), { allow: false, reason: 'address_prohibited', rule: null });
  });
  void test('checkAddress checks one address', () => {
    assert.equal(policy.checkAddress('93.184.215.14').allow, true);
    assert.equal(policy.checkAddress('169.254.169.254').reason, 'metadata_prohibited');
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNetworkSection } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';

function issues(value: unknown, path?: string): { path: string; message: string }[] {
  try {
    parseNetworkSection(value, path === undefined ? {} : { path });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.issues];
  }
  assert.fail('expected a ConfigError');
}

void describe('parseNetworkSection', () => {
  void test('an absent or empty section is the secure default: no network', () => {
    for (const v of [undefined, {}]) {
      const n = parseNetworkSection(v);
      assert.deepEqual(
        { ...n, allowedDomains: [...n.allowedDomains] },
        {
          egressOnly: true,
          allowedDomains: [],
          blockedPorts: [],
          allowedPorts: [80, 443],
          allowedCidrs: [],
          logAllTraffic: true,
          maxEgressBytes: 10485760,
        },
      );
    }
  });

  const canonical: [string, string][] = [
    ['API.Example.COM', 'api.example.com'],
    ['api.example.com.', 'api.example.com'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['*.Bücher.Example.', '*.xn--bcher-kva.example'],
    ['203.0.113.7', '203.0.113.7'],
    ['[2001:DB8:0:0:0:0:0:1]', '[2001:db8::1]'],
    ['2001:db8::1', '[2001:db8::1]'],
  ];
  for (const [input, expected] of canonical) {
    void test(`canonicalises allowed domain ${input} to ${expected}`, () => {
      assert.deepEqual(parseNetworkSection({ allowed_domains: [input] }).allowedDomains, [expected]);
    });
  }

  void test('canonicalises CIDRs and keeps ports in order without duplicates', () => {
    const n = parseNetworkSection({
      allowed_cidrs: ['10.20.0.0/16', 'FD00::/8', '192.168.1.7'],
      allowed_ports: [443, 443, 8443],
      blocked_ports: [22, 22],
    });
    assert.deepEqual(n.allowedCidrs, ['10.20.0.0/16', 'fd00::/8', '192.168.1.7/32']);
    assert.deepEqual(n.allowedPorts, [443, 8443]);
    assert.deepEqual(n.blockedPorts, [22]);
  });

  void test('the result is frozen', () => {
    const n = parseNetworkSection({ allowed_domains: ['a.example'] });
    assert.ok(Object.isFrozen(n) && Object.isFrozen(n.allowedDomains));
  });

  void test('an already-normalised camelCase policy is accepted and gives the same result', () => {
    const snake = parseNetworkSection({
      allowed_domains: ['A.example'],
      allowed_ports: [443],
      max_egress_bytes: 5,
    });
    const camel = parseNetworkSection({ ...snake });
    assert.deepEqual(camel, snake);
  });

  void test('issue paths are prefixed with opts.path', () => {
    const got = issues({ allowed_domains: ['*.com'], allowed_ports: [0] }, '/agents/w/network');
    assert.deepEqual(got.map((i) => i.path).sort(), [
      '/agents/w/network/allowed_domains/0',
      '/agents/w/network/allowed_ports/0',
    ]);
  });

  void test('camelCase issues point at the camelCase keys', () => {
    const got = issues({ allowedDomains: ['*'], egressOnly: true });
    assert.deepEqual(
      got.map((i) => i.path),
      ['/allowedDomains/0'],
    );
  });

  const bad: [string, unknown, string][] = [
    ['not an object', 'api.example.com', ''],
    ['unknown key', { allowed_domain: [] }, '/allowed_domain'],
    ['wildcard over everything', { allowed_domains: ['*'] }, '/allowed_domains/0'],
    ['wildcard over a public suffix', { allowed_domains: ['*.co.uk'] }, '/allowed_domains/0'],
    ['egress_only false', { egress_only: false }, '/egress_only'],
    ['port 65536', { blocked_ports: [65536] }, '/blocked_ports/0'],
    ['metadata name as CIDR', { allowed_cidrs: ['metadata.google.internal'] }, '/allowed_cidrs/0'],
    ['mixed snake and camel keys', { allowedDomains: [], allowed_ports: [80] }, '/allowed_ports'],
  ];
  for (const [name, value, path] of bad) {
    void test(`rejects ${name} at ${path === '' ? '/' : path}`, () => {
      assert.ok(
        issues(value).some((i) => i.path === path),
        JSON.stringify(issues(value)),
      );
    });
  }
});

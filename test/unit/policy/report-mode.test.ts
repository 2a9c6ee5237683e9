import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EgressPolicy, ToolAcl, parseHost } from '../../../src/policy/index.js';
import type { EgressTarget, NetworkPolicy, ToolDecision } from '../../../src/policy/index.js';

function network(overrides: Partial<NetworkPolicy> = {}): NetworkPolicy {
  return {
    egressOnly: true,
    allowedDomains: ['api.example.com', '203.0.113.9'],
    blockedPorts: [22],
    allowedPorts: [443],
    allowedCidrs: ['10.20.0.0/16'],
    logAllTraffic: true,
    maxEgressBytes: 10_485_760,
    ...overrides,
  };
}

function target(host: string, port = 443): EgressTarget {
  const h = parseHost(host);
  assert.ok(h, `test host ${host} must parse`);
  return { scheme: 'https', host: h, port };
}

type Verdict = 'allow' | 'report' | 'deny';
function verdict(d: { allow: boolean; enforced?: false }): Verdict {
  if (!d.allow) return 'deny';
  return d.enforced === false ? 'report' : 'allow';
}

const report = new EgressPolicy(network({ mode: 'report' }), { gatewayAddresses: ['127.0.0.1'] });
const enforce = new EgressPolicy(network(), { gatewayAddresses: ['127.0.0.1'] });
const reportNoNet = new EgressPolicy(network({ mode: 'report', allowedDomains: [] }), {
  gatewayAddresses: ['127.0.0.1'],
});

void describe('EgressPolicy.checkTarget in report-only mode', () => {
  // [what, policy, target, enforce-mode verdict, report-mode verdict, report-mode reason]
  const cases: [string, EgressTarget, Verdict, Verdict, string][] = [
    ['an allowed name', target('api.example.com'), 'allow', 'allow', 'allowed'],
    ['a name not listed', target('other.example.org'), 'deny', 'report', 'host_not_allowed'],
    [
      'an allowed name on a port not allowed',
      target('api.example.com', 8080),
      'deny',
      'report',
      'port_not_allowed',
    ],
    [
      'a name not listed on a port not allowed (port first)',
      target('x.example', 8080),
      'deny',
      'report',
      'port_not_allowed',
    ],
    [
      'a blocked port (explicit deny rule) on an allowed name',
      target('api.example.com', 22),
      'deny',
      'deny',
      'port_blocked',
    ],
    ['a blocked port on a name not listed', target('x.example', 22), 'deny', 'deny', 'port_blocked'],
    ['a public IP literal not listed', target('198.51.100.77'), 'deny', 'deny', 'documentation'],
    ['a listed public-range IP literal', target('203.0.113.9'), 'deny', 'deny', 'documentation'],
    ['an unlisted public IP literal', target('93.184.215.14'), 'deny', 'report', 'host_not_allowed'],
    ['cloud metadata 169.254.169.254', target('169.254.169.254'), 'deny', 'deny', 'metadata_prohibited'],
    ['metadata 100.100.100.200', target('100.100.100.200', 80), 'deny', 'deny', 'metadata_prohibited'],
    [
      'metadata through IPv4-mapped IPv6',
      target('[::ffff:169.254.169.254]'),
      'deny',
      'deny',
      'metadata_prohibited',
    ],
    ['the gateway itself', target('127.0.0.1'), 'deny', 'deny', 'address_prohibited'],
    ['loopback outside allowed_cidrs', target('127.0.0.5'), 'deny', 'deny', 'address_prohibited'],
    ['a private address outside allowed_cidrs', target('10.99.0.1'), 'deny', 'deny', 'address_prohibited'],
    [
      'a private address inside allowed_cidrs but not listed',
      target('10.20.3.4'),
      'deny',
      'report',
      'host_not_allowed',
    ],
  ];
  for (const [what, t, enforced, reported, reason] of cases) {
    void test(`${what}: enforce=${enforced}, report=${reported} (${reason})`, () => {
      assert.equal(verdict(enforce.checkTarget(t)), enforced);
      const d = report.checkTarget(t);
      assert.equal(verdict(d), reported);
      if (reason === 'documentation') assert.equal(d.reason, 'address_prohibited');
      else assert.equal(d.reason, reason);
    });
  }

  void test('no allowed_domains in report mode: every name is reported as no_network', () => {
    const d = reportNoNet.checkTarget(target('anything.example'));
    assert.deepEqual(d, { allow: true, reason: 'no_network', rule: null, enforced: false });
  });

  void test('no allowed_domains in report mode: metadata is still refused', () => {
    assert.equal(reportNoNet.checkTarget(target('169.254.169.254')).allow, false);
  });

  void test('an invalid port is refused even in report mode', () => {
    assert.equal(report.checkTarget(target('api.example.com', 0)).allow, false);
  });

  void test('resolved addresses are never relaxed: a reported name resolving to metadata is refused', () => {
    const d = report.checkAddresses(['93.184.215.14', '169.254.169.254']);
    assert.equal(d.allow, false);
    assert.equal(d.reason, 'metadata_prohibited');
    assert.equal(d.enforced, undefined);
  });

  void test('resolved loopback outside allowed_cidrs is refused in report mode', () => {
    assert.equal(report.checkAddresses(['127.0.0.9']).reason, 'address_prohibited');
  });

  void test('an enforced allow carries no enforced field', () => {
    assert.equal('enforced' in report.checkTarget(target('api.example.com')), false);
  });
});

void describe('ToolAcl in report-only mode', () => {
  const enforceAcl = new ToolAcl({ allowed: ['web_fetch'], denied: ['exec'] });
  const reportAcl = new ToolAcl({ allowed: ['web_fetch'], denied: ['exec'], mode: 'report' });
  const cases: [string, string, ToolDecision, ToolDecision][] = [
    [
      'an allowed tool',
      'web_fetch',
      { allow: true, reason: 'allowed', rule: 'web_fetch' },
      { allow: true, reason: 'allowed', rule: 'web_fetch' },
    ],
    [
      'a tool outside tools_allowed',
      'lookup',
      { allow: false, reason: 'not_allowed', rule: null },
      { allow: true, reason: 'not_allowed', rule: null, enforced: false },
    ],
    [
      'a tool in tools_denied',
      'exec',
      { allow: false, reason: 'denied_by_rule', rule: 'exec' },
      { allow: false, reason: 'denied_by_rule', rule: 'exec' },
    ],
    [
      'an alias of a denied tool',
      'bash',
      { allow: false, reason: 'denied_by_rule', rule: 'exec' },
      { allow: false, reason: 'denied_by_rule', rule: 'exec' },
    ],
    [
      'a malformed name',
      'we b',
      { allow: false, reason: 'not_allowed', rule: null },
      { allow: false, reason: 'not_allowed', rule: null },
    ],
  ];
  for (const [what, tool, enforced, reported] of cases) {
    void test(`${what}: ${tool}`, () => {
      assert.deepEqual(enforceAcl.decide(tool), enforced);
      assert.deepEqual(reportAcl.decide(tool), reported);
    });
  }
  void test('reportOnly reflects the mode', () => {
    assert.equal(enforceAcl.reportOnly, false);
    assert.equal(reportAcl.reportOnly, true);
  });
});

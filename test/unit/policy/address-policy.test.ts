import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressPolicy } from '../../../src/policy/index.js';

void describe('AddressPolicy', () => {
  const plain = new AddressPolicy({ allowedCidrs: [] });
  const withCidrs = new AddressPolicy({
    allowedCidrs: ['10.20.0.0/16', 'fd00::/8', '127.0.0.0/8', '169.254.0.0/16', '0.0.0.0/0'],
    gatewayAddresses: ['127.0.0.1', '::1'],
  });

  void test('public addresses are allowed without exceptions', () => {
    for (const a of ['8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
      const d = plain.check(a);
      assert.equal(d.allow, true, a);
      assert.equal(d.reason, 'allowed');
      assert.equal(d.classification?.class, 'public');
    }
  });

  const prohibited: [string, 'address_prohibited' | 'metadata_prohibited'][] = [
    ['10.20.1.1', 'address_prohibited'],
    ['127.0.0.1', 'address_prohibited'],
    ['::1', 'address_prohibited'],
    ['192.168.1.1', 'address_prohibited'],
    ['fd12::1', 'address_prohibited'],
    ['0.0.0.0', 'address_prohibited'],
    ['::', 'address_prohibited'],
    ['224.0.0.1', 'address_prohibited'],
    ['169.254.169.254', 'metadata_prohibited'],
    ['fd00:ec2::254', 'metadata_prohibited'],
    ['::ffff:a9fe:a9fe', 'metadata_prohibited'],
    ['64:ff9b::a9fe:a9fe', 'metadata_prohibited'],
    ['2002:a9fe:a9fe::', 'metadata_prohibited'],
    ['not-an-ip', 'address_prohibited'],
    ['127.1', 'address_prohibited'],
  ];
  for (const [a, reason] of prohibited) {
    void test(`without exceptions ${a} is ${reason}`, () => {
      const d = plain.check(a);
      assert.equal(d.allow, false);
      assert.equal(d.reason, reason);
    });
  }

  void test('an allowed CIDR unlocks private addresses inside it, and only those', () => {
    const p = new AddressPolicy({ allowedCidrs: ['10.20.0.0/16', 'fd00::/8'] });
    assert.deepEqual([p.check('10.20.0.0').allow, p.check('10.20.255.255').allow], [true, true]);
    assert.equal(p.check('10.20.3.4').rule, '10.20.0.0/16');
    assert.equal(p.check('10.19.255.255').allow, false);
    assert.equal(p.check('10.21.0.0').allow, false);
    assert.equal(p.check('fd12::1').rule, 'fd00::/8');
    assert.equal(p.check('fc00::1').allow, false);
  });

  void test('an IPv4 CIDR also unlocks that IPv4 embedded in IPv6', () => {
    const p = new AddressPolicy({ allowedCidrs: ['10.20.0.0/16'] });
    for (const a of ['::ffff:10.20.1.2', '64:ff9b::a14:102', '2002:a14:102::', '::10.20.1.2']) {
      assert.equal(p.check(a).allow, true, a);
    }
    assert.equal(p.check('::ffff:10.21.1.2').allow, false);
  });

  void test('allowed CIDRs never unlock metadata addresses, in any encoding', () => {
    for (const a of [
      '169.254.169.254',
      '169.254.170.2',
      '100.100.100.200',
      '168.63.129.16',
      '192.0.0.192',
      'fd00:ec2::254',
      '::ffff:169.254.169.254',
      '64:ff9b::a9fe:a9fe',
      '2002:a9fe:a9fe::',
      '2001::5601:5601',
    ]) {
      const d = withCidrs.check(a);
      assert.equal(d.allow, false, a);
      assert.equal(d.reason, 'metadata_prohibited', a);
    }
    const all = new AddressPolicy({ allowedCidrs: ['0.0.0.0/0', '::/0'] });
    assert.equal(all.check('169.254.169.254').reason, 'metadata_prohibited');
    assert.equal(all.check('fd00:ec2::254').reason, 'metadata_prohibited');
  });

  void test("allowed CIDRs never unlock the gateway's own addresses, in any encoding", () => {
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::']) {
      const d = withCidrs.check(a);
      assert.equal(d.allow, false, a);
      assert.equal(d.reason, 'address_prohibited');
      assert.equal(d.rule, 'gateway');
      assert.equal(d.classification?.class, 'gateway');
    }
    assert.equal(withCidrs.check('127.0.0.2').allow, true);
  });

  void test('a gateway listening on an unspecified address makes every loopback address the gateway', () => {
    const p = new AddressPolicy({ allowedCidrs: ['127.0.0.0/8', '::1/128'], gatewayAddresses: ['0.0.0.0'] });
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.5']) {
      assert.equal(p.check(a).classification?.class, 'gateway', a);
    }
  });

  void test('unspecified addresses are never unlocked (dialling 0.0.0.0 reaches the local host)', () => {
    assert.equal(withCidrs.check('0.0.0.0').allow, false);
    assert.equal(new AddressPolicy({ allowedCidrs: ['::/0'] }).check('::').allow, false);
  });

  void test('link-local can be unlocked explicitly but its metadata addresses cannot', () => {
    assert.equal(withCidrs.check('169.254.1.1').allow, true);
    assert.equal(withCidrs.check('169.254.169.254').allow, false);
  });

  void test('invalid construction input fails with SG_POLICY_INVALID', () => {
    assert.throws(() => new AddressPolicy({ allowedCidrs: ['10.0.0.1/8'] }), { code: 'SG_POLICY_INVALID' });
    assert.throws(() => new AddressPolicy({ allowedCidrs: [], gatewayAddresses: ['localhost'] }), {
      code: 'SG_POLICY_INVALID',
    });
  });
});

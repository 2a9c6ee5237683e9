import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ALLOWED_PORTS, PortRules, decidePort } from '../../../src/policy/index.js';

void describe('decidePort and PortRules agree', () => {
  const defaults = { allowedPorts: DEFAULT_ALLOWED_PORTS, blockedPorts: [22, 3389, 5432] };
  const cases: [
    string,
    { allowedPorts: readonly number[]; blockedPorts: readonly number[] },
    number,
    string,
    string | null,
  ][] = [
    ['default 443', defaults, 443, 'allowed', '443'],
    ['default 80', defaults, 80, 'allowed', '80'],
    ['8080 not in the defaults', defaults, 8080, 'port_not_allowed', null],
    ['blocked 22', defaults, 22, 'port_blocked', '22'],
    ['blocked 3389', defaults, 3389, 'port_blocked', '3389'],
    ['blocked 5432', defaults, 5432, 'port_blocked', '5432'],
    ['blocked wins over allowed', { allowedPorts: [22, 443], blockedPorts: [22] }, 22, 'port_blocked', '22'],
    ['explicit allowed port', { allowedPorts: [8443], blockedPorts: [] }, 8443, 'allowed', '8443'],
    [
      '443 when only 8443 is allowed',
      { allowedPorts: [8443], blockedPorts: [] },
      443,
      'port_not_allowed',
      null,
    ],
    ['no allowed ports', { allowedPorts: [], blockedPorts: [] }, 443, 'port_not_allowed', null],
    ['port 0', { allowedPorts: [0, 443], blockedPorts: [] }, 0, 'port_not_allowed', null],
    ['port 65535', { allowedPorts: [65535], blockedPorts: [] }, 65535, 'allowed', '65535'],
    ['port 65536', { allowedPorts: [65536], blockedPorts: [] }, 65536, 'port_not_allowed', null],
    ['negative port', { allowedPorts: [-443], blockedPorts: [] }, -443, 'port_not_allowed', null],
    ['fractional port', { allowedPorts: [443], blockedPorts: [] }, 443.5, 'port_not_allowed', null],
    ['NaN', { allowedPorts: [443], blockedPorts: [] }, Number.NaN, 'port_not_allowed', null],
    [
      'Infinity',
      { allowedPorts: [443], blockedPorts: [] },
      Number.POSITIVE_INFINITY,
      'port_not_allowed',
      null,
    ],
  ];
  for (const [name, net, port, reason, rule] of cases) {
    void test(`${name}: ${port} → ${reason}`, () => {
      const expected = { allow: reason === 'allowed', reason, rule };
      assert.deepEqual(decidePort(port, net), expected);
      assert.deepEqual(new PortRules(net).decide(port), expected);
    });
  }
  void test('the default allowed ports are 80 and 443', () => {
    assert.deepEqual([...DEFAULT_ALLOWED_PORTS], [80, 443]);
  });
});

/**
 * Regression: every lookup keyed by a name a subagent chooses reads own properties only. On the
 * old code `canonicalToolName('constructor')` returned the `Object` function (TOOL_ALIASES was a
 * plain object) and the broker threw on `name.slice`, outside any handler.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { combineToolLayers } from '../../../src/config/tool-policy.js';
import { SpawnDeniedError } from '../../../src/errors.js';
import { TOOL_ALIASES, TOOL_GROUPS, toolAlias, toolGroup } from '../../../src/policy/tool-groups.js';
import { ToolAcl, validateToolPattern } from '../../../src/policy/tools.js';
import { SpawnQuotas, ownAgent } from '../../../src/spawner/quotas.js';
import { ToolBroker, canonicalToolName, type BrokerSession } from '../../../src/tools/broker.js';
import { collectAudit } from '../../helpers/spawner-audit.js';
import { makeConfig } from '../../helpers/spawner-config.js';

/** Names of Object.prototype members (and a few more) that a hostile child may send. */
export const PROTO_NAMES: readonly string[] = [
  'constructor',
  '__proto__',
  'toString',
  'toLocaleString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'CONSTRUCTOR',
  'prototype',
  'group:constructor',
  'group:__proto__',
];

function session(allowed: string[]): BrokerSession {
  return {
    subagentId: 'sub-1',
    agent: 'worker',
    parent: 'main',
    acl: new ToolAcl({ allowed, denied: [] }),
    takeApiCall: () => true,
    reserveCost: () => true,
    signal: new AbortController().signal,
    proxyUrl: 'http://sub-1:pw@127.0.0.1:1',
  };
}

void describe('own-property lookups of child-chosen names', () => {
  void test('the alias and group tables have no prototype and answer undefined for prototype names', () => {
    assert.equal(Object.getPrototypeOf(TOOL_ALIASES), null);
    assert.equal(Object.getPrototypeOf(TOOL_GROUPS), null);
    for (const name of PROTO_NAMES) {
      assert.equal(toolAlias(name.toLowerCase()), undefined, name);
      assert.equal(toolGroup(name.toLowerCase()), undefined, name);
    }
    assert.equal(toolAlias('bash'), 'exec');
    assert.deepEqual(toolGroup('group:web'), ['web_search', 'web_fetch', 'x_search']);
  });

  void test('canonicalToolName returns the lower-cased string itself for prototype names', () => {
    for (const name of PROTO_NAMES) {
      const canonical = canonicalToolName(name);
      assert.equal(typeof canonical, 'string', name);
      assert.equal(canonical, name.toLowerCase(), name);
    }
    assert.equal(canonicalToolName('BASH'), 'exec');
  });

  void test('the ACL denies prototype names, also under a "*" allow rule only when spelled as a tool', () => {
    const acl = new ToolAcl({ allowed: ['group:web', 'exec'], denied: ['bash'] });
    for (const name of PROTO_NAMES) {
      const d = acl.decide(name);
      assert.equal(d.allow, false, name);
    }
    assert.equal(validateToolPattern('group:constructor')?.startsWith('unknown tool group'), true);
    assert.equal(validateToolPattern('group:__proto__')?.startsWith('unknown tool group'), true);
  });

  void test('combining tool layers with prototype names neither throws nor invents tools', () => {
    const { policy } = combineToolLayers([
      { allow: ['constructor', 'tostring', 'bash'] },
      { allow: ['constructor', 'valueof', 'exec'] },
    ]);
    assert.deepEqual([...policy.allowed].sort(), ['constructor', 'exec']);
  });

  void test('the broker answers every prototype name with tool_denied and one audit record', () => {
    const audit = collectAudit();
    const broker = new ToolBroker({ logger: audit.logger });
    for (const name of PROTO_NAMES) {
      const out = broker.call(session(['web_fetch']), name, {});
      assert.ok(!(out instanceof Promise), name);
      assert.deepEqual(
        { kind: out.kind, reason: 'reason' in out ? out.reason : null },
        { kind: 'violation', reason: 'tool_denied' },
        name,
      );
    }
    assert.equal(audit.events('tool.decision').length, PROTO_NAMES.length);
  });

  void test('spawn quotas refuse prototype agent names with unknown_agent', () => {
    const config = makeConfig({
      main: { role: 'parent', subagents: { allowAgents: '*', maxChildren: 100, maxSpawnsPerMinute: 100 } },
      worker: {},
    });
    const quotas = new SpawnQuotas(config);
    const root = quotas.root('main');
    for (const name of PROTO_NAMES) {
      assert.equal(ownAgent(config, name), undefined, name);
      assert.throws(
        () => quotas.reserve(root, name),
        (err: unknown) => err instanceof SpawnDeniedError && err.reason === 'unknown_agent',
        name,
      );
      assert.throws(
        () => quotas.root(name),
        (err: unknown) => err instanceof SpawnDeniedError && err.reason === 'unknown_agent',
        name,
      );
    }
  });
});

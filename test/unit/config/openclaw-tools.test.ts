import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IssueCollector } from '../../../src/config/issues.js';
import { resolveOpenclawToolPolicy, suggestGroup } from '../../../src/config/openclaw-tools.js';
import type { IgnoredKey } from '../../../src/config/types.js';

function resolve(
  root: Record<string, unknown>,
  agent: Record<string, unknown> = {},
  defaults?: Record<string, unknown>,
) {
  const issues = new IssueCollector();
  const ignored: IgnoredKey[] = [];
  const r = resolveOpenclawToolPolicy(
    { root, agentDefaults: defaults, agent, agentPath: '/agents/entries/w', isSubagent: true },
    issues,
    ignored,
  );
  return { ...r, issues: issues.sorted(), ignored };
}

void describe('resolveOpenclawToolPolicy', () => {
  void test('suggests the nearest group for a misspelt one', () => {
    assert.match(suggestGroup('group:medai'), /did you mean "group:media"/);
    assert.match(suggestGroup('group:zzzzzzzzzzzz'), /known groups: .*group:plugins/);
  });

  void test('an allow list naming only an unknown group admits nothing (as in OpenClaw), with a warning', () => {
    const r = resolve(
      { tools: { allow: ['*'] } },
      { tools: { allow: ['group:nope'], deny: ['group:nada'] } },
    );
    assert.deepEqual(r.policy, { allowed: [], denied: [] });
    assert.ok(
      r.ignored.some(
        (i) => i.path === '/agents/entries/w/tools/allow/0' && /unknown tool group/.test(i.message),
      ),
    );
    assert.ok(!r.ignored.some((i) => /allows none/.test(i.message)));
    const both = resolve({ tools: { allow: ['group:nope', 'read'] } });
    assert.deepEqual(both.policy.allowed, ['read']);
  });

  void test('lists only the denies that can still refuse an allowed tool', () => {
    const { policy } = resolve({ allow: ['read'] });
    assert.deepEqual(policy, { allowed: [], denied: [] }, 'a root allow outside tools is no policy');
    const r = resolve({ tools: { allow: ['read', 'gateway'] } });
    assert.deepEqual(r.policy, { allowed: ['read', 'gateway'], denied: ['gateway'] });
    const plugins = resolve({ tools: { allow: ['read', 'sanitized_parse'], deny: ['group:plugins'] } });
    assert.deepEqual(
      plugins.policy.denied,
      ['group:plugins'],
      'a deny of group:plugins is kept for a host tool',
    );
  });

  void test("reads the agent's model for byProvider, and its sandbox mode", () => {
    const r = resolve(
      { tools: { allow: ['*'], byProvider: { openai: { deny: ['exec'] } } } },
      { model: { primary: 'openai/gpt-5.4' } },
      { sandbox: { mode: 'all' } },
    );
    assert.ok(r.layers.some((l) => l.label === 'tools.byProvider.openai'));
    assert.ok(r.layers.some((l) => l.label === 'tools.sandbox.tools'));
    assert.ok(r.policy.denied.includes('exec'));
  });

  void test('agents.defaults.tools: its deny applies, its allow is reported as not applied', () => {
    const r = resolve({ tools: { allow: ['*'] } }, {}, { tools: { allow: ['read'], deny: ['web_fetch'] } });
    assert.ok(r.policy.denied.includes('web_fetch'));
    assert.ok(r.ignored.some((i) => i.path === '/agents/defaults/tools'));
  });

  void test('problems are issues with JSON pointers', () => {
    const r = resolve({ tools: { allow: ['read', 7], byProvider: { openai: { profile: 'max' } } } });
    assert.deepEqual(
      r.issues.map((i) => i.path),
      ['/tools/allow/1', '/tools/byProvider/openai/profile'],
    );
  });

  void test('toolsBySender and elevated are reported, not applied', () => {
    const r = resolve({ tools: { allow: ['read'], toolsBySender: {}, elevated: { enabled: true } } });
    assert.ok(r.ignored.some((i) => i.path === '/tools/toolsBySender' && /requester/.test(i.message)));
    assert.ok(r.ignored.some((i) => i.path === '/tools/elevated'));
  });
});

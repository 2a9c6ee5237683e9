import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolAcl, validateToolPattern } from '../../../src/policy/index.js';
import type { ToolDecision } from '../../../src/policy/index.js';

const allow = (rule: string): ToolDecision => ({ allow: true, reason: 'allowed', rule });
const denied = (rule: string): ToolDecision => ({ allow: false, reason: 'denied_by_rule', rule });
const notAllowed: ToolDecision = { allow: false, reason: 'not_allowed', rule: null };

void describe('ToolAcl.decide', () => {
  const cases: [string, { allowed: string[]; denied: string[] }, string, ToolDecision][] = [
    ['an exact allow', { allowed: ['web_fetch'], denied: [] }, 'web_fetch', allow('web_fetch')],
    ['a tool nothing mentions', { allowed: ['web_fetch'], denied: [] }, 'exec', notAllowed],
    ['an empty policy (no tools)', { allowed: [], denied: [] }, 'web_fetch', notAllowed],
    ['deny without allow', { allowed: [], denied: ['exec'] }, 'exec', denied('exec')],
    ['deny wins over exact allow', { allowed: ['exec'], denied: ['exec'] }, 'exec', denied('exec')],
    ['deny wins over *', { allowed: ['*'], denied: ['exec'] }, 'exec', denied('exec')],
    ['* allows anything else', { allowed: ['*'], denied: ['exec'] }, 'web_fetch', allow('*')],
    ['deny * denies everything', { allowed: ['web_fetch'], denied: ['*'] }, 'web_fetch', denied('*')],
    ['group:web allows web_fetch', { allowed: ['group:web'], denied: [] }, 'web_fetch', allow('group:web')],
    ['group:web allows web_search', { allowed: ['group:web'], denied: [] }, 'web_search', allow('group:web')],
    ['group:web does not allow exec', { allowed: ['group:web'], denied: [] }, 'exec', notAllowed],
    ['group:fs allows apply_patch', { allowed: ['group:fs'], denied: [] }, 'apply_patch', allow('group:fs')],
    ['group:fs allows edit', { allowed: ['group:fs'], denied: [] }, 'edit', allow('group:fs')],
    ['group:media allows pdf', { allowed: ['group:media'], denied: [] }, 'pdf', allow('group:media')],
    [
      'group:openclaw allows web_fetch',
      { allowed: ['group:openclaw'], denied: [] },
      'web_fetch',
      allow('group:openclaw'),
    ],
    ['group:openclaw does not allow exec', { allowed: ['group:openclaw'], denied: [] }, 'exec', notAllowed],
    [
      'deny group:automation denies cron (alias of automations)',
      { allowed: ['*'], denied: ['group:automation'] },
      'cron',
      denied('group:automation'),
    ],
    [
      'deny group:sessions denies sessions_yield',
      { allowed: ['*'], denied: ['group:sessions'] },
      'sessions_yield',
      denied('group:sessions'),
    ],
    [
      'apply-patch is apply_patch',
      { allowed: ['apply_patch'], denied: [] },
      'apply-patch',
      allow('apply_patch'),
    ],
    [
      'group:plugins allows a host tool',
      { allowed: ['group:plugins'], denied: [] },
      'my_tool',
      allow('group:plugins'),
    ],
    [
      'group:plugins does not allow a core tool',
      { allowed: ['group:plugins'], denied: [] },
      'read',
      notAllowed,
    ],
    [
      'deny group:plugins denies sanitized_parse',
      { allowed: ['*'], denied: ['group:plugins'] },
      'sanitized_parse',
      denied('group:plugins'),
    ],
    ['deny group:fs denies write', { allowed: ['*'], denied: ['group:fs'] }, 'write', denied('group:fs')],
    [
      'deny group:runtime denies exec',
      { allowed: ['*'], denied: ['group:runtime'] },
      'exec',
      denied('group:runtime'),
    ],
    [
      'deny group:runtime denies bash (alias)',
      { allowed: ['*'], denied: ['group:runtime'] },
      'bash',
      denied('group:runtime'),
    ],
    [
      'deny group:runtime denies process',
      { allowed: ['*'], denied: ['group:runtime'] },
      'process',
      denied('group:runtime'),
    ],
    [
      'deny group:runtime denies code_execution',
      { allowed: ['*'], denied: ['group:runtime'] },
      'code_execution',
      denied('group:runtime'),
    ],
    ['deny exec denies bash', { allowed: ['bash'], denied: ['exec'] }, 'bash', denied('exec')],
    ['deny bash denies exec', { allowed: ['exec'], denied: ['bash'] }, 'exec', denied('bash')],
    ['deny BASH denies Exec', { allowed: ['*'], denied: ['BASH'] }, 'Exec', denied('bash')],
    ['allow bash allows exec', { allowed: ['bash'], denied: [] }, 'exec', allow('bash')],
    ['allow exec allows bash', { allowed: ['exec'], denied: [] }, 'bash', allow('exec')],
    ['wildcard prefix allow', { allowed: ['web_*'], denied: [] }, 'web_fetch', allow('web_*')],
    ['wildcard prefix miss', { allowed: ['web_*'], denied: [] }, 'webfetch', notAllowed],
    ['wildcard suffix', { allowed: ['*_fetch'], denied: [] }, 'web_fetch', allow('*_fetch')],
    ['wildcard middle', { allowed: ['web*fetch'], denied: [] }, 'web_big_fetch', allow('web*fetch')],
    [
      'wildcard deny over exact allow',
      { allowed: ['web_fetch'], denied: ['web_*'] },
      'web_fetch',
      denied('web_*'),
    ],
    ['wildcard deny matches an alias', { allowed: ['*'], denied: ['ba*'] }, 'exec', denied('ba*')],
    ['dot in a wildcard is literal', { allowed: ['a.*'], denied: [] }, 'abc', notAllowed],
    ['dot in a wildcard matches a dot', { allowed: ['a.*'], denied: [] }, 'a.bc', allow('a.*')],
    ['case-insensitive tool', { allowed: ['web_fetch'], denied: [] }, 'WEB_FETCH', allow('web_fetch')],
    ['case-insensitive pattern', { allowed: ['Web_Fetch'], denied: [] }, 'web_fetch', allow('web_fetch')],
    ['case-insensitive group', { allowed: ['GROUP:WEB'], denied: [] }, 'Web_Search', allow('group:web')],
    ['empty tool name', { allowed: ['*'], denied: [] }, '', notAllowed],
    [
      'exact allow beats wildcard allow as rule',
      { allowed: ['web_*', 'web_fetch'], denied: [] },
      'web_fetch',
      allow('web_fetch'),
    ],
    [
      'deny a sibling only',
      { allowed: ['group:web'], denied: ['web_search'] },
      'web_fetch',
      allow('group:web'),
    ],
    [
      'deny a sibling',
      { allowed: ['group:web'], denied: ['web_search'] },
      'web_search',
      denied('web_search'),
    ],
    [
      'seed example: sanitized_parse allowed',
      { allowed: ['web_fetch', 'sanitized_parse'], denied: ['exec', 'write', 'shell', 'file_system'] },
      'sanitized_parse',
      allow('sanitized_parse'),
    ],
    [
      'seed example: shell denied',
      { allowed: ['web_fetch', 'sanitized_parse'], denied: ['exec', 'write', 'shell', 'file_system'] },
      'shell',
      denied('shell'),
    ],
    [
      'seed example: bash denied via exec',
      { allowed: ['web_fetch', 'sanitized_parse'], denied: ['exec', 'write', 'shell', 'file_system'] },
      'bash',
      denied('exec'),
    ],
    ['prototype names are plain names', { allowed: ['web_fetch'], denied: [] }, '__proto__', notAllowed],
    [
      'constructor is not allowed by accident',
      { allowed: ['web_fetch'], denied: [] },
      'constructor',
      notAllowed,
    ],
    [
      'a Kelvin sign does not fold into an allowed name',
      { allowed: ['kill'], denied: [] },
      '\u212Aill',
      notAllowed,
    ],
    ['a requested name with * is not a wildcard', { allowed: ['web_*'], denied: [] }, 'web_*', notAllowed],
    ['a requested name with a space', { allowed: ['*'], denied: [] }, 'web fetch', notAllowed],
  ];
  for (const [name, policy, tool, expected] of cases) {
    void test(`${name}: ${JSON.stringify(tool)} → ${expected.reason}`, () => {
      assert.deepEqual(new ToolAcl(policy).decide(tool), expected);
    });
  }

  void test('a non-string tool name is not allowed', () => {
    assert.deepEqual(new ToolAcl({ allowed: ['*'], denied: [] }).decide(7 as unknown as string), notAllowed);
  });

  void test('an invalid pattern fails construction with SG_POLICY_INVALID', () => {
    assert.throws(() => new ToolAcl({ allowed: ['group:nope'], denied: [] }), { code: 'SG_POLICY_INVALID' });
    assert.throws(() => new ToolAcl({ allowed: [], denied: ['a b'] }), { code: 'SG_POLICY_INVALID' });
  });
});

void describe('validateToolPattern', () => {
  for (const p of [
    'web_fetch',
    'WEB_FETCH',
    '*',
    'web_*',
    '*_fetch',
    'group:fs',
    'group:runtime',
    'GROUP:Web',
    'a.b',
    'a-b',
    'mcp:server.tool',
  ]) {
    void test(`accepts ${JSON.stringify(p)}`, () => {
      assert.equal(validateToolPattern(p), null);
    });
  }
  const bad: [string, RegExp][] = [
    ['', /must not be empty/],
    ['web fetch', /may contain only/],
    ['web/fetch', /may contain only/],
    ['tool\u0000', /may contain only/],
    ['wéb', /may contain only/],
    ['group:nope', /unknown tool group.*group:fs/],
    ['group:*', /cannot contain "\*"/],
    ['x'.repeat(129), /at most 128/],
  ];
  for (const [p, message] of bad) {
    void test(`refuses ${JSON.stringify(p.slice(0, 20))}`, () => {
      assert.match(validateToolPattern(p) ?? '', message);
    });
  }
});

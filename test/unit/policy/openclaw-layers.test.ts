import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allowedByLayers,
  normalizePolicyNames,
  openclawToolLayers,
  type OpenclawToolInputs,
} from '../../../src/policy/openclaw-layers.js';

const base: OpenclawToolInputs = { sandboxed: false, role: 'orchestrator' };
const allowed = (input: OpenclawToolInputs, name: string): boolean =>
  allowedByLayers(name, openclawToolLayers(input));

void describe('openclawToolLayers (OpenClaw 2026.9.6 semantics)', () => {
  const cases: [string, OpenclawToolInputs, string, boolean][] = [
    ['allow * admits web_fetch', { ...base, root: { allow: ['*'] } }, 'web_fetch', true],
    [
      'the sub-agent deny list removes gateway even under allow *',
      { ...base, root: { allow: ['*'] } },
      'gateway',
      false,
    ],
    [
      'an orchestrator child keeps sessions_spawn',
      { ...base, root: { allow: ['*'] } },
      'sessions_spawn',
      true,
    ],
    [
      'a leaf child loses sessions_spawn',
      { ...base, role: 'leaf', root: { allow: ['*'] } },
      'sessions_spawn',
      false,
    ],
    ['profile minimal has no read', { ...base, root: { profile: 'minimal' } }, 'read', false],
    ['profile coding has read', { ...base, root: { profile: 'coding' } }, 'read', true],
    [
      'alsoAllow widens the profile',
      { ...base, root: { profile: 'minimal', alsoAllow: ['web_fetch'] } },
      'web_fetch',
      true,
    ],
    [
      "the agent's profile replaces the top-level one",
      { ...base, root: { profile: 'coding' }, agent: { profile: 'minimal' } },
      'read',
      false,
    ],
    ['deny bash denies exec', { ...base, root: { allow: ['*'], deny: ['bash'] } }, 'exec', false],
    [
      'deny canvas also denies show_widget',
      { ...base, root: { allow: ['*'], deny: ['canvas'] } },
      'show_widget',
      false,
    ],
    [
      'sandboxed: the sandbox defaults keep web_fetch out',
      { ...base, sandboxed: true, root: { allow: ['*'] } },
      'web_fetch',
      false,
    ],
    [
      'sandboxed: sandbox alsoAllow brings it back',
      { ...base, sandboxed: true, root: { allow: ['*'], sandboxTools: { alsoAllow: ['web_fetch'] } } },
      'web_fetch',
      true,
    ],
    [
      'sandboxed: an explicit sandbox allow lifts the matching default deny',
      { ...base, sandboxed: true, root: { allow: ['*'], sandboxTools: { allow: ['browser'] } } },
      'browser',
      true,
    ],
    [
      'not sandboxed: the sandbox deny still applies',
      { ...base, root: { allow: ['*'], sandboxTools: { deny: ['read'] } } },
      'read',
      false,
    ],
    [
      'not sandboxed: a sandbox allow list does not apply',
      { ...base, root: { allow: ['*'], sandboxTools: { allow: ['exec'] } } },
      'read',
      true,
    ],
    [
      'byProvider: the provider/model entry wins over the provider one',
      {
        ...base,
        model: { provider: 'OpenAI', id: 'gpt-5.4' },
        root: {
          allow: ['*'],
          byProvider: { 'openai/gpt-5.4': { allow: ['read'] }, openai: { deny: ['read'] } },
        },
      },
      'read',
      true,
    ],
    [
      'byProvider: unknown model, every provider deny applies',
      { ...base, root: { allow: ['*'], byProvider: { openai: { deny: ['read'] } } } },
      'read',
      false,
    ],
    [
      'tools.subagents.tools.allow narrows',
      { ...base, root: { allow: ['*'] }, subagentTools: { allow: ['read'] } },
      'web_fetch',
      false,
    ],
    [
      'an empty allow list restricts nothing',
      { ...base, root: { allow: [] }, agent: { allow: ['read'] } },
      'read',
      true,
    ],
  ];
  for (const [name, input, tool, expected] of cases) {
    void test(`${name}: ${tool} ${expected ? 'allowed' : 'refused'}`, () => {
      assert.equal(allowed(input, tool), expected);
    });
  }

  void test('policy names are lower-cased, aliases resolved, renamed and widened', () => {
    assert.deepEqual(normalizePolicyNames(['BASH', 'cron', 'update_plan', 'canvas']), [
      'exec',
      'automations',
      'progress_card',
      'canvas',
      'show_widget',
    ]);
  });
});

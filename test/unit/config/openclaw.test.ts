import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  detectConfigFormat,
  formatConfigSummary,
  loadConfig,
  parseConfig,
} from '../../../src/config/index.js';
import { NOOP_ENTRY, issuesOf, validDir } from './helpers.js';

void describe('OpenClaw native shape', () => {
  void test('detects the shape by agents.defaults, an agents.entries object or an agents.list array', () => {
    assert.equal(detectConfigFormat({ agents: { defaults: {} } }), 'openclaw');
    assert.equal(detectConfigFormat({ agents: { list: [] } }), 'openclaw');
    assert.equal(detectConfigFormat({ agents: { entries: {} } }), 'openclaw');
    assert.equal(detectConfigFormat({ agents: { list: {} } }), 'security-proxy');
    assert.equal(detectConfigFormat({ agents: { main: {} } }), 'security-proxy');
    assert.equal(detectConfigFormat([]), 'security-proxy');
  });

  void test('an OpenClaw key in a security-proxy config says how the shape is recognised', () => {
    const hit = issuesOf({ agents: {}, channels: {} }).find((i) => i.path === '/channels');
    assert.match(hit?.message ?? '', /agents\.defaults, agents\.list or agents\.entries/);
  });

  void test('a realistic openclaw.json (JSON5) loads and normalises into the same model', async () => {
    const c = await loadConfig(join(validDir, 'openclaw-native.json5'));
    assert.equal(c.format, 'openclaw');
    assert.deepEqual(Object.keys(c.agents), ['main', 'researcher', 'fetcher']);
    const main = c.agents.main;
    assert.equal(main?.role, 'parent');
    assert.deepEqual(main.subagents, {
      allowAgents: ['researcher', 'fetcher'],
      maxConcurrent: 3,
      maxChildren: 5,
      maxSpawnDepth: 2,
      maxSpawnsPerMinute: 10,
    });
    const r = c.agents.researcher;
    assert.equal(r?.role, 'subagent');
    assert.equal(r.entry, join(validDir, '..', 'agents', 'noop.mjs'));
    // Every OpenClaw layer applies: tools.profile "coding", the agent's allow list, and (sandbox.mode
    // "non-main" sandboxes sub-agent sessions) OpenClaw's sandbox default allow list, which has no
    // web tools. Only "read" is in all three; sanitized_parse is in no profile.
    assert.deepEqual(r.tools, { allowed: ['read'], denied: [] });
    assert.deepEqual(r.network.allowedDomains, ['api.search.example', '*.docs.example.org']);
    assert.deepEqual(r.network.blockedPorts, [22, 3389, 5432], 'plugin defaults.network merged in');
    assert.equal(r.constraints.maxMemoryMb, 192);
    // the tightest runTimeoutSeconds of the parents that may spawn it (fetcher: 90, defaults: 600)
    assert.equal(r.constraints.timeoutSeconds, 90);
    const f = c.agents.fetcher;
    assert.equal(f?.constraints.timeoutSeconds, 600);
    // bash is exec; web_fetch is outside the sandbox default allow list
    assert.deepEqual(f.tools.allowed, ['exec']);
    assert.ok(
      c.ignored.some(
        (i) => i.path === '/agents/entries/fetcher/tools/allow/0' && /tools\.sandbox\.tools/.test(i.message),
      ),
      'an allowed tool another layer removes is reported',
    );
    assert.deepEqual(f.subagents.allowAgents, ['researcher']);
    assert.equal(f.proxy?.url, 'http://egress:native-s3cret-pw@127.0.0.1:3128');
    assert.equal(c.gateway.upstream?.redacted, 'http://egress:***@127.0.0.1:3128');
    assert.deepEqual(c.notices ?? [], []);
  });

  void test("proxy.proxyUrl is OpenClaw's own outbound proxy and never our upstream (regression: the gateway proxied to itself)", () => {
    const c = parseConfig({
      proxy: { enabled: true, proxyUrl: 'http://u:pw@127.0.0.1:3128', loopbackMode: 'block' },
      agents: { entries: { main: {} } },
    });
    assert.equal(c.gateway.upstream, undefined);
    assert.equal(c.agents.main?.proxy, undefined);
    assert.match(
      c.ignored.find((i) => i.path === '/proxy')?.message ?? '',
      /never used as subagent-guard's upstream/,
    );
  });

  void test('keys with no meaning here are reported as ignored with their JSON pointers, not fatal', async () => {
    const c = await loadConfig(join(validDir, 'openclaw-native.json5'));
    const paths = c.ignored.map((i) => i.path);
    for (const p of [
      '/gateway',
      '/proxy',
      '/models',
      '/tools/web',
      '/agents/defaults/model',
      '/agents/defaults/workspace',
      '/agents/defaults/sandbox',
      '/agents/defaults/subagents/archiveAfterMinutes',
      '/agents/entries/researcher/skills',
      '/agents/entries/fetcher/model',
    ]) {
      assert.ok(paths.includes(p), `missing ignored ${p}`);
    }
    assert.equal(new Set(paths).size, paths.length);
    assert.ok(!paths.includes('/plugins'));
    assert.ok(!paths.includes('/agents/defaults/subagents/maxSpawnDepth'));
  });

  void test('its summary shows the normalised policy and never a proxy password', async () => {
    const c = await loadConfig(join(validDir, 'openclaw-native.json5'));
    const text = formatConfigSummary(c);
    assert.match(text, /openclaw shape/);
    assert.match(text, /agent researcher \(subagent\)/);
    assert.match(text, /tools allowed: read\n/);
    assert.match(text, /\/agents\/defaults\/model/);
    assert.ok(!text.includes('native-s3cret-pw'));
    assert.ok(!text.includes('own-proxy-pw'));
  });

  void test('agents.entries map: defaults merged, "*" expands to any subagent, allow lists of two levels intersect', async () => {
    const c = await loadConfig(join(validDir, 'openclaw-entries.json'));
    assert.equal(c.agents.orchestrator?.role, 'parent');
    assert.equal(c.agents.orchestrator.subagents.allowAgents, '*');
    assert.equal(c.agents.orchestrator.subagents.maxChildren, 2);
    // top level allows group:web + read, the agent allows web_*: a tool must be allowed by both
    assert.deepEqual(c.agents.worker?.tools.allowed, ['web_search', 'web_fetch']);
    assert.deepEqual(
      c.notices?.map((n) => n.path),
      ['/agents/entries/orchestrator/default'],
      'the retired default: true marker is read, with a notice',
    );
    assert.match(
      formatConfigSummary(c),
      /legacy OpenClaw settings read after migration \(1\):\n {2}\/agents\/entries\/orchestrator\/default: /,
    );
  });

  void test('legacy agents.list is migrated as keyed entries, with a notice', () => {
    const c = parseConfig(
      {
        agents: {
          list: [
            { id: 'main', default: true },
            { id: 'w', tools: { allow: ['read'] } },
          ],
        },
        plugins: { entries: { 'subagent-guard': { config: { agents: { w: { entry: NOOP_ENTRY } } } } } },
      },
      { baseDir: validDir },
    );
    assert.equal(c.agents.main?.role, 'parent');
    assert.deepEqual(c.agents.w?.tools.allowed, ['read']);
    const paths = c.notices?.map((n) => n.path) ?? [];
    assert.ok(paths.includes('/agents/list'), JSON.stringify(c.notices));
    assert.ok(paths.includes('/agents/list/0/default'));
    assert.match(c.notices?.[0]?.message ?? '', /agents\.entries/);
  });

  void test('the parent: plugin "parent", else default: true, else systemAgent, else "main", else the first', () => {
    const plug = (parent: string) => ({ entries: { 'subagent-guard': { config: { parent } } } });
    const entries = { x: {}, main: {}, y: {} };
    const roles = (doc: Record<string, unknown>) =>
      Object.values(parseConfig(doc).agents)
        .filter((a) => a.role === 'parent')
        .map((a) => a.name);
    assert.deepEqual(roles({ agents: { ownership: 'explicit', entries }, plugins: plug('y') }), ['y']);
    assert.deepEqual(
      roles({ agents: { ownership: 'explicit', defaults: { systemAgent: { agentId: 'x' } }, entries } }),
      ['x'],
    );
    assert.deepEqual(roles({ agents: { ownership: 'explicit', entries } }), ['main']);
    assert.deepEqual(roles({ agents: { ownership: 'explicit', entries: { b: {}, a: {} } } }), ['b']);
    assert.deepEqual(roles({ agents: { entries: { a: {}, b: { default: true } } } }), ['b']);
  });

  void test('ids are case-insensitive: allowAgents and ids match lower-cased', () => {
    const c = parseConfig({
      agents: {
        ownership: 'explicit',
        entries: { Main: { subagents: { allowAgents: ['Worker'] } }, WORKER: {} },
      },
    });
    assert.deepEqual(c.agents.main?.subagents.allowAgents, ['worker']);
    assert.ok(c.agents.worker);
  });

  void test('no profile and no allow list at any level means no tools (OpenClaw would offer every tool not denied)', () => {
    const c = parseConfig({
      tools: { deny: ['exec'] },
      agents: { ownership: 'explicit', entries: { main: {}, w: {} } },
    });
    assert.deepEqual(c.agents.w?.tools, { allowed: [], denied: [] });
    assert.ok(c.ignored.some((i) => i.path === '/agents/entries/w/tools' && /allows none/.test(i.message)));
  });

  void test('tools.profile "full" allows every tool except the built-in sub-agent deny list', () => {
    const c = parseConfig({
      tools: { profile: 'full' },
      agents: { ownership: 'explicit', entries: { main: {}, w: {} } },
    });
    assert.deepEqual(c.agents.w?.tools.allowed, ['*']);
    for (const t of ['gateway', 'automations', 'message', 'sessions_send', 'openclaw'])
      assert.ok(c.agents.w.tools.denied.includes(t), t);
  });

  void test('an unknown group: name is a warning with a did-you-mean, not a failure', () => {
    const c = parseConfig({
      tools: { allow: ['group:web'], deny: ['group:medai'] },
      agents: { ownership: 'explicit', entries: { main: {}, w: {} } },
    });
    assert.deepEqual(c.agents.w?.tools.allowed, ['group:web']);
    const hit = c.ignored.find((i) => i.path === '/tools/deny/0');
    assert.match(hit?.message ?? '', /unknown tool group "group:medai".*did you mean "group:media"/);
  });

  void test('OpenClaw groups such as group:media and group:openclaw are accepted', () => {
    const c = parseConfig({
      tools: { allow: ['group:media', 'group:openclaw'], deny: ['group:agents'] },
      agents: { ownership: 'explicit', entries: { main: {}, w: {} } },
    });
    assert.deepEqual(c.agents.w?.tools.allowed, ['group:media', 'group:openclaw']);
    assert.ok(c.agents.w.tools.denied.includes('group:agents'));
  });

  void test("the parent's policy settings are reported as not enforced; a parent named in allowAgents is dropped", () => {
    const c = parseConfig(
      {
        agents: {
          ownership: 'explicit',
          entries: { main: { tools: { allow: ['exec'] } }, w: { subagents: { allowAgents: ['main'] } } },
        },
        plugins: {
          entries: {
            'subagent-guard': {
              config: {
                agents: { main: { network: { allowed_domains: ['a.example'] } }, w: { entry: NOOP_ENTRY } },
              },
            },
          },
        },
      },
      { baseDir: validDir },
    );
    assert.deepEqual(c.agents.main?.tools.allowed, []);
    assert.deepEqual(c.agents.main.network.allowedDomains, []);
    const paths = c.ignored.map((i) => i.path);
    assert.ok(paths.includes('/agents/entries/main/tools'));
    assert.ok(paths.includes('/plugins/entries/subagent-guard/config/agents/main/network'));
    assert.deepEqual(c.agents.w?.subagents.allowAgents, []);
    assert.ok(paths.includes('/agents/entries/w/subagents/allowAgents/0'));
  });

  void test('runTimeoutSeconds 0 (no timeout) keeps the finite default and says so', () => {
    const c = parseConfig({
      agents: {
        ownership: 'explicit',
        defaults: { subagents: { runTimeoutSeconds: 0 } },
        entries: { main: {}, w: {} },
      },
    });
    assert.equal(c.agents.w?.constraints.timeoutSeconds, 120);
    assert.ok(c.ignored.some((i) => i.path === '/agents/defaults/subagents/runTimeoutSeconds'));
  });

  void test('per-agent spawn limits and spawn rates come from the plugin entry', () => {
    const c = parseConfig({
      agents: {
        ownership: 'explicit',
        defaults: { subagents: { allowAgents: ['w'], maxConcurrent: 2 } },
        entries: { main: {}, w: {} },
      },
      plugins: {
        entries: {
          'subagent-guard': {
            config: {
              defaults: { subagents: { maxSpawnsPerMinute: 7 } },
              agents: { main: { subagents: { maxChildrenPerAgent: 20, maxSpawnDepth: 5 } } },
            },
          },
        },
      },
    });
    assert.deepEqual(c.agents.main?.subagents, {
      allowAgents: ['w'],
      maxConcurrent: 2,
      maxChildren: 20,
      maxSpawnDepth: 5,
      maxSpawnsPerMinute: 7,
    });
  });

  const P = '/plugins/entries/subagent-guard/config';
  const E = (entries: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    agents: { ownership: 'explicit', entries, ...extra },
  });
  // Keys OpenClaw 2026.9.6 rejects (each checked against `openclaw config validate` in
  // test/integration/openclaw-validate.test.ts): reported with their path and where they belong.
  const rejected: { name: string; config: unknown; path: string; message: RegExp }[] = [
    {
      name: 'our old entry key on an agent',
      config: E({ main: {}, w: { entry: 'x.mjs' } }),
      path: '/agents/entries/w/entry',
      message: new RegExp(`${P}/agents/w/entry`),
    },
    {
      name: 'network on an agent',
      config: E({ main: {}, w: { network: {} } }),
      path: '/agents/entries/w/network',
      message: new RegExp(`${P}/agents/w/network`),
    },
    {
      name: 'constraints on an agent',
      config: E({ main: {}, w: { constraints: {} } }),
      path: '/agents/entries/w/constraints',
      message: new RegExp(`${P}/agents/w/constraints`),
    },
    {
      name: 'proxy on an agent',
      config: E({ main: {}, w: { proxy: 'http://h:1' } }),
      path: '/agents/entries/w/proxy',
      message: new RegExp(`${P}/agents/w/upstream`),
    },
    {
      name: 'network in agents.defaults',
      config: E({ main: {} }, { defaults: { network: {} } }),
      path: '/agents/defaults/network',
      message: new RegExp(`${P}/defaults/network`),
    },
    {
      name: 'constraints in agents.defaults',
      config: E({ main: {} }, { defaults: { constraints: {} } }),
      path: '/agents/defaults/constraints',
      message: new RegExp(`${P}/defaults/constraints`),
    },
    {
      name: 'tools in agents.defaults',
      config: E({ main: {} }, { defaults: { tools: { allow: [] } } }),
      path: '/agents/defaults/tools',
      message: /top-level tools/,
    },
    {
      name: 'maxSpawnsPerMinute in agents.defaults.subagents',
      config: E({ main: {} }, { defaults: { subagents: { maxSpawnsPerMinute: 5 } } }),
      path: '/agents/defaults/subagents/maxSpawnsPerMinute',
      message: new RegExp(`${P}/defaults/subagents/maxSpawnsPerMinute`),
    },
    {
      name: 'per-agent maxConcurrent',
      config: E({ main: { subagents: { maxConcurrent: 2 } } }),
      path: '/agents/entries/main/subagents/maxConcurrent',
      message: new RegExp(`${P}/agents/main/subagents/maxConcurrent`),
    },
    {
      name: 'per-agent runTimeoutSeconds',
      config: E({ main: { subagents: { runTimeoutSeconds: 9 } } }),
      path: '/agents/entries/main/subagents/runTimeoutSeconds',
      message: /only in agents\.defaults\.subagents/,
    },
    {
      name: 'id inside an entry',
      config: E({ main: { id: 'main' } }),
      path: '/agents/entries/main/id',
      message: /entry's key is its id/,
    },
    { name: 'a dotted id', config: E({ 'a.b': {} }), path: '/agents/entries/a.b', message: /no dots/ },
    {
      name: 'an id starting with "-"',
      config: E({ '-a': {} }),
      path: '/agents/entries/-a',
      message: /rejects the agent id/,
    },
    {
      name: 'maxSpawnDepth 6',
      config: E({ main: {} }, { defaults: { subagents: { maxSpawnDepth: 6 } } }),
      path: '/agents/defaults/subagents/maxSpawnDepth',
      message: /from 1 to 5/,
    },
    {
      name: 'maxChildrenPerAgent 21',
      config: E({ main: {} }, { defaults: { subagents: { maxChildrenPerAgent: 21 } } }),
      path: '/agents/defaults/subagents/maxChildrenPerAgent',
      message: /from 1 to 20/,
    },
    {
      name: 'maxChildrenPerAgent 0',
      config: E({ main: {} }, { defaults: { subagents: { maxChildrenPerAgent: 0 } } }),
      path: '/agents/defaults/subagents/maxChildrenPerAgent',
      message: /from 1 to 20/,
    },
    {
      name: 'a root audit section',
      config: { ...E({ main: {} }), audit: {} },
      path: '/audit',
      message: new RegExp(`${P}/audit`),
    },
    {
      name: 'an unknown proxy key',
      config: { ...E({ main: {} }), proxy: { url: 'http://h:1' } },
      path: '/proxy/url',
      message: /strict/,
    },
    {
      name: 'several agents without ownership',
      config: { agents: { entries: { a: {}, b: {} } } },
      path: '/agents/ownership',
      message: /explicit/,
    },
    {
      name: 'ownership explicit with a default marker',
      config: E({ a: { default: true } }),
      path: '/agents/ownership',
      message: /legacy default: true/,
    },
    {
      name: 'an empty entries map',
      config: { agents: { entries: {} } },
      path: '/agents/entries',
      message: /at least one agent/,
    },
    {
      name: 'ids equal but for case',
      config: E({ a: {}, A: {} }),
      path: '/agents/entries/A',
      message: /same agent id/,
    },
  ];
  for (const c of rejected) {
    void test(`reports ${c.name} as rejected by OpenClaw at ${c.path}`, () => {
      const issues = issuesOf(c.config);
      const hit = issues.find((i) => i.path === c.path);
      assert.ok(hit, `no issue at ${c.path}; got ${JSON.stringify(issues)}`);
      assert.equal(hit.code, 'SG_CONFIG_OPENCLAW_REJECTED');
      assert.match(hit.message, c.message);
    });
  }

  const invalid: { name: string; config: unknown; path: string; message: RegExp }[] = [
    {
      name: 'list item without id',
      config: { agents: { list: [{}] } },
      path: '/agents/list/0/id',
      message: /required/,
    },
    {
      name: 'list item not an object',
      config: { agents: { list: ['main'] } },
      path: '/agents/list/0',
      message: /expected an object/,
    },
    {
      name: 'duplicate list ids (case-insensitive)',
      config: { agents: { list: [{ id: 'a' }, { id: 'A' }] } },
      path: '/agents/list/1/id',
      message: /duplicate/,
    },
    {
      name: 'invalid list id',
      config: { agents: { list: [{ id: 'has space' }] } },
      path: '/agents/list/0/id',
      message: /rejects the agent id/,
    },
    {
      name: 'allow and alsoAllow in one scope',
      config: {
        tools: { allow: ['read'], alsoAllow: ['exec'] },
        ...E({ main: {}, w: {} }),
      },
      path: '/tools/alsoAllow',
      message: /allow" and "alsoAllow" in one scope/,
    },
    {
      name: 'unknown tool profile',
      config: { tools: { profile: 'everything' }, ...E({ main: {}, w: {} }) },
      path: '/tools/profile',
      message: /"minimal", "coding", "messaging", "full"/,
    },
    {
      name: 'allowAgents naming an unknown agent',
      config: E({ main: { subagents: { allowAgents: ['ghost'] } } }),
      path: '/agents/entries/main/subagents/allowAgents/0',
      message: /unknown agent/,
    },
    {
      name: 'negative runTimeoutSeconds',
      config: E({ main: {} }, { defaults: { subagents: { runTimeoutSeconds: -1 } } }),
      path: '/agents/defaults/subagents/runTimeoutSeconds',
      message: /at least 0/,
    },
    {
      name: 'a socks upstream',
      config: {
        ...E({ main: {} }),
        plugins: {
          entries: { 'subagent-guard': { config: { gateway: { upstream: 'socks5://u:pw@h:1' } } } },
        },
      },
      path: `${P}/gateway/upstream`,
      message: /http/,
    },
    {
      name: 'over-broad domain',
      config: {
        ...E({ main: {}, w: {} }),
        plugins: {
          entries: {
            'subagent-guard': { config: { agents: { w: { network: { allowed_domains: ['*.com'] } } } } },
          },
        },
      },
      path: `${P}/agents/w/network/allowed_domains/0`,
      message: /top-level/,
    },
    {
      name: 'unknown key inside the strict network section',
      config: {
        ...E({ main: {} }),
        plugins: {
          entries: { 'subagent-guard': { config: { defaults: { network: { allowedDomains: [] } } } } },
        },
      },
      path: `${P}/defaults/network/allowedDomains`,
      message: /did you mean "allowed_domains"/,
    },
    {
      name: 'plugin settings for an agent OpenClaw does not define',
      config: {
        ...E({ main: {} }),
        plugins: { entries: { 'subagent-guard': { config: { agents: { ghost: {} } } } } },
      },
      path: `${P}/agents/ghost`,
      message: /no agent "ghost"/,
    },
    {
      name: 'an unknown parent',
      config: {
        ...E({ main: {} }),
        plugins: { entries: { 'subagent-guard': { config: { parent: 'ghost' } } } },
      },
      path: `${P}/parent`,
      message: /no agent "ghost"/,
    },
    {
      name: 'tools.allow not an array',
      config: { tools: { allow: 'read' }, ...E({ main: {}, w: {} }) },
      path: '/tools/allow',
      message: /expected an array/,
    },
    {
      name: 'missing entry file',
      config: {
        ...E({ main: {}, w: {} }),
        plugins: { entries: { 'subagent-guard': { config: { agents: { w: { entry: './none.mjs' } } } } } },
      },
      path: `${P}/agents/w/entry`,
      message: /does not exist/,
    },
  ];
  for (const c of invalid) {
    void test(`rejects ${c.name} at ${c.path}`, () => {
      const issues = issuesOf(c.config);
      const hit = issues.find((i) => i.path === c.path);
      assert.ok(hit, `no issue at ${c.path}; got ${JSON.stringify(issues)}`);
      assert.match(hit.message, c.message);
    });
  }
});

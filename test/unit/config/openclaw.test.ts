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
    // deny from every level wins: top-level tools.deny, tools.subagents.tools.deny, the agent's deny
    assert.deepEqual(r.tools, {
      allowed: ['group:web', 'read', 'sanitized_parse'],
      denied: ['group:automation', 'browser', 'sessions_spawn', 'web_search'],
    });
    assert.deepEqual(r.network.allowedDomains, ['api.search.example', '*.docs.example.org']);
    assert.deepEqual(r.network.blockedPorts, [22, 3389, 5432], 'agents.defaults.network merged in');
    assert.equal(r.constraints.maxMemoryMb, 192);
    // the tightest runTimeoutSeconds of the parents that may spawn it (fetcher: 90, main: 600)
    assert.equal(r.constraints.timeoutSeconds, 90);
    const f = c.agents.fetcher;
    assert.equal(f?.constraints.timeoutSeconds, 600);
    assert.deepEqual(f.tools.allowed, ['web_fetch', 'bash']);
    assert.deepEqual(f.subagents.allowAgents, ['researcher']);
    // proxy.proxyUrl is OpenClaw's own outbound proxy, never our upstream (issue 11: it made the
    // gateway proxy to itself)
    assert.equal(f.proxy, undefined);
    assert.equal(c.gateway.upstream, undefined);
  });

  void test('keys with no meaning here are reported as ignored with their JSON pointers, not fatal', async () => {
    const c = await loadConfig(join(validDir, 'openclaw-native.json5'));
    const paths = c.ignored.map((i) => i.path);
    for (const p of [
      '/gateway',
      '/channels',
      '/models',
      '/tools/profile',
      '/tools/web',
      '/agents/defaults/model',
      '/agents/defaults/workspace',
      '/agents/defaults/sandbox',
      '/agents/defaults/subagents/archiveAfterMinutes',
      '/agents/list/1/skills',
      '/agents/list/2/model',
    ]) {
      assert.ok(paths.includes(p), `missing ignored ${p}`);
    }
    assert.equal(new Set(paths).size, paths.length);
    assert.ok(!paths.includes('/proxy'));
    assert.ok(!paths.includes('/agents/defaults/subagents/maxSpawnDepth'));
  });

  void test('its summary shows the normalised policy and never the proxy password', async () => {
    const c = await loadConfig(join(validDir, 'openclaw-native.json5'));
    const text = formatConfigSummary(c);
    assert.match(text, /openclaw shape/);
    assert.match(text, /agent researcher \(subagent\)/);
    assert.match(text, /tools denied: group:automation, browser, sessions_spawn, web_search/);
    assert.match(text, /\/agents\/defaults\/model/);
    assert.ok(!text.includes('native-s3cret-pw'));
  });

  void test('agents.entries map: defaults merged, "*" expands to any subagent, allow lists of two levels intersect', async () => {
    const c = await loadConfig(join(validDir, 'openclaw-entries.json'));
    assert.equal(c.agents.orchestrator?.role, 'parent');
    assert.equal(c.agents.orchestrator.subagents.allowAgents, '*');
    assert.equal(c.agents.orchestrator.subagents.maxChildren, 2);
    // top level allows group:web + read, the agent allows web_*: a tool must be allowed by both
    assert.deepEqual(c.agents.worker?.tools.allowed, ['web_search', 'web_fetch']);
  });

  void test('without default: true, "main" is the parent; without main, the first agent is', () => {
    const a = parseConfig({ agents: { list: [{ id: 'x' }, { id: 'main' }] } });
    assert.equal(a.agents.main?.role, 'parent');
    assert.equal(a.agents.x?.role, 'subagent');
    const b = parseConfig({ agents: { list: [{ id: 'first' }, { id: 'second' }] } });
    assert.equal(b.agents.first?.role, 'parent');
  });

  void test('ids are case-insensitive: allowAgents and ids match lower-cased', () => {
    const c = parseConfig({
      agents: { list: [{ id: 'Main', subagents: { allowAgents: ['Worker'] } }, { id: 'WORKER' }] },
    });
    assert.deepEqual(c.agents.main?.subagents.allowAgents, ['worker']);
    assert.ok(c.agents.worker);
  });

  void test('no allow list at any level means no tools (unlike OpenClaw, which then allows its profile)', () => {
    const c = parseConfig({ tools: { profile: 'full' }, agents: { list: [{ id: 'main' }, { id: 'w' }] } });
    assert.deepEqual(c.agents.w?.tools, { allowed: [], denied: [] });
  });

  void test('proxy.proxyUrl is never our upstream, enabled or not, and that is reported', () => {
    for (const proxy of [
      { proxyUrl: 'http://u:pw@127.0.0.1:3128' },
      { enabled: true, proxyUrl: 'http://u:pw@127.0.0.1:3128', loopbackMode: 'block' },
    ]) {
      const c = parseConfig({ proxy, agents: { list: [{ id: 'main' }, { id: 'w' }] } });
      assert.equal(c.gateway.upstream, undefined);
      assert.equal(c.agents.w?.proxy, undefined);
      const note = c.ignored.find((i) => i.path === '/proxy/proxyUrl');
      assert.match(note?.message ?? '', /never used as this package's upstream/);
      assert.ok(!c.ignored.some((i) => i.path === '/proxy/loopbackMode'));
    }
  });

  void test('an unknown proxy.loopbackMode is an error at its path', () => {
    const issues = issuesOf({ proxy: { loopbackMode: 'open' }, agents: { list: [{ id: 'main' }] } });
    assert.ok(
      issues.some((i) => i.path === '/proxy/loopbackMode'),
      JSON.stringify(issues),
    );
  });

  void test("the parent's policy keys are reported as not enforced; a parent named in allowAgents is dropped", () => {
    const c = parseConfig(
      {
        agents: {
          list: [
            { id: 'main', tools: { allow: ['exec'] } },
            { id: 'w', entry: NOOP_ENTRY, subagents: { allowAgents: ['main'] } },
          ],
        },
      },
      { baseDir: validDir },
    );
    assert.deepEqual(c.agents.main?.tools.allowed, []);
    assert.ok(c.ignored.some((i) => i.path === '/agents/list/0/tools'));
    assert.deepEqual(c.agents.w?.subagents.allowAgents, []);
    assert.ok(c.ignored.some((i) => i.path === '/agents/list/1/subagents/allowAgents/0'));
  });

  void test('runTimeoutSeconds 0 (no timeout) keeps the finite default and says so', () => {
    const c = parseConfig({
      agents: { defaults: { subagents: { runTimeoutSeconds: 0 } }, list: [{ id: 'main' }, { id: 'w' }] },
    });
    assert.equal(c.agents.w?.constraints.timeoutSeconds, 120);
    assert.ok(c.ignored.some((i) => i.path === '/agents/defaults/subagents/runTimeoutSeconds'));
  });

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
      name: 'duplicate ids (case-insensitive)',
      config: { agents: { list: [{ id: 'a' }, { id: 'A' }] } },
      path: '/agents/list/1/id',
      message: /duplicate/,
    },
    {
      name: 'invalid id',
      config: { agents: { list: [{ id: 'has space' }] } },
      path: '/agents/list/0/id',
      message: /agent name/,
    },
    {
      name: 'entries id differing from its key',
      config: { agents: { entries: { a: { id: 'b' } } } },
      path: '/agents/entries/a/id',
      message: /differs/,
    },
    {
      name: 'unknown tool group',
      config: { tools: { deny: ['group:nope'] }, agents: { list: [{ id: 'main' }] } },
      path: '/tools/deny/0',
      message: /unknown tool group/,
    },
    {
      name: 'allowAgents naming an unknown agent',
      config: { agents: { list: [{ id: 'main', subagents: { allowAgents: ['ghost'] } }] } },
      path: '/agents/list/0/subagents/allowAgents/0',
      message: /unknown agent/,
    },
    {
      name: 'maxChildrenPerAgent 0',
      config: { agents: { defaults: { subagents: { maxChildrenPerAgent: 0 } } } },
      path: '/agents/defaults/subagents/maxChildrenPerAgent',
      message: /at least 1/,
    },
    {
      name: 'negative runTimeoutSeconds',
      config: { agents: { defaults: { subagents: { runTimeoutSeconds: -1 } } } },
      path: '/agents/defaults/subagents/runTimeoutSeconds',
      message: /at least 0/,
    },
    {
      name: 'proxyUrl with socks',
      config: { proxy: { enabled: true, proxyUrl: 'socks5://u:pw@h:1' }, agents: { list: [{ id: 'main' }] } },
      path: '/proxy/proxyUrl',
      message: /http/,
    },
    {
      name: 'over-broad domain in the extension network key',
      config: { agents: { list: [{ id: 'main' }, { id: 'w', network: { allowed_domains: ['*.com'] } }] } },
      path: '/agents/list/1/network/allowed_domains/0',
      message: /top-level/,
    },
    {
      name: 'unknown key inside the strict network section',
      config: { agents: { defaults: { network: { allowedDomains: [] } } } },
      path: '/agents/defaults/network/allowedDomains',
      message: /did you mean "allowed_domains"/,
    },
    {
      name: 'tools.allow not an array',
      config: { tools: { allow: 'read' }, agents: { list: [{ id: 'main' }] } },
      path: '/tools/allow',
      message: /expected an array/,
    },
    {
      name: 'missing entry file',
      config: { agents: { list: [{ id: 'main' }, { id: 'w', entry: './none.mjs' }] } },
      path: '/agents/list/1/entry',
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

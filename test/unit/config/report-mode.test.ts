import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import JSON5 from 'json5';
import {
  configToJson,
  formatConfigSummary,
  parseConfig,
  parseNetworkSection,
  reportOnlyAgents,
} from '../../../src/config/index.js';
import { issuesOf, subagent, validDir } from './helpers.js';

function securityProxy(extra: Record<string, unknown>) {
  return parseConfig(
    { agents: { main: { role: 'parent', subagents: { allowAgents: ['w'] } }, w: subagent(extra) } },
    { source: 'inline', baseDir: validDir },
  );
}

/** The OpenClaw-shaped fixture with `edit` applied to its plugin entry's config. */
function openclaw(
  edit: (plugin: {
    defaults: Record<string, unknown>;
    agents: Record<string, Record<string, unknown>>;
  }) => void,
) {
  const doc = JSON5.parse<{
    plugins: { entries: Record<string, { config: Parameters<typeof edit>[0] }> };
  }>(readFileSync(join(validDir, 'openclaw-native.json5'), 'utf8'));
  const plugin = doc.plugins.entries['subagent-guard']?.config;
  assert.ok(plugin);
  edit(plugin);
  return parseConfig(doc, { source: 'openclaw-inline', baseDir: validDir });
}

void describe('report-only mode in the config', () => {
  void test('security-proxy shape: network.mode and tools_mode "report" reach the model', () => {
    const w = securityProxy({
      tools_mode: 'report',
      network: { allowed_domains: ['api.example.com'], mode: 'report' },
    }).agents.w;
    assert.equal(w?.network.mode, 'report');
    assert.equal(w.tools.mode, 'report');
  });

  void test('"enforce" and absent both mean enforce; the model leaves the default out', () => {
    for (const extra of [
      {},
      { tools_mode: 'enforce', network: { allowed_domains: ['a.example'], mode: 'enforce' } },
    ]) {
      const w = securityProxy(extra).agents.w;
      assert.ok(w);
      assert.equal(w.network.mode, undefined);
      assert.equal(w.tools.mode, undefined);
    }
  });

  void test('an unknown mode is an issue at its JSON path', () => {
    const issues = issuesOf({
      agents: {
        w: subagent({ tools_mode: 'audit', network: { allowed_domains: ['a.example'], mode: 'log' } }),
      },
    });
    const paths = issues.map((i) => i.path).sort();
    assert.deepEqual(paths, ['/agents/w/network/mode', '/agents/w/tools_mode']);
    assert.ok(issues.every((i) => /"enforce" or "report"/.test(i.message)));
  });

  void test('a parent with tools_mode is told it applies to subagents', () => {
    const issues = issuesOf({ agents: { main: { role: 'parent', tools_mode: 'report' } } });
    assert.match(issues[0]?.message ?? '', /applies to subagents/);
  });

  void test('parseNetworkSection accepts mode in snake_case and camelCase sections', () => {
    assert.equal(parseNetworkSection({ allowed_domains: ['a.example'], mode: 'report' }).mode, 'report');
    assert.equal(parseNetworkSection({ allowedDomains: ['a.example'], mode: 'report' }).mode, 'report');
    assert.equal(parseNetworkSection({ allowedDomains: ['a.example'] }).mode, undefined);
  });

  void test('OpenClaw shape: the plugin entry sets network.mode and tools_mode per agent', () => {
    const c = openclaw((p) => {
      const r = p.agents['researcher'];
      assert.ok(r);
      r['tools_mode'] = 'report';
      r['network'] = { allowed_domains: ['api.search.example'], mode: 'report' };
    });
    assert.equal(c.agents.researcher?.tools.mode, 'report');
    assert.equal(c.agents.researcher.network.mode, 'report');
    assert.equal(c.agents.fetcher?.tools.mode, undefined);
    assert.deepEqual(reportOnlyAgents(c), [{ agent: 'researcher', parts: ['network', 'tools'] }]);
  });

  void test('OpenClaw shape: plugin defaults set the mode of every agent; an agent can enforce', () => {
    const c = openclaw((p) => {
      p.defaults['tools_mode'] = 'report';
      p.defaults['network'] = { blocked_ports: [22], mode: 'report' };
      const f = p.agents['fetcher'];
      assert.ok(f);
      f['tools_mode'] = 'enforce';
      f['network'] = { allowed_domains: ['api.untrusted-source.com'], mode: 'enforce' };
    });
    assert.equal(c.agents.researcher?.tools.mode, 'report');
    assert.equal(c.agents.researcher.network.mode, 'report');
    const f = c.agents.fetcher;
    assert.ok(f);
    assert.equal(f.tools.mode, undefined);
    assert.equal(f.network.mode, undefined);
  });

  void test('the summary says NOT ENFORCING loudly, and the JSON view says enforcing: false', () => {
    const c = securityProxy({ network: { allowed_domains: ['a.example'], mode: 'report' } });
    const text = formatConfigSummary(c);
    assert.match(text, /!! NOT ENFORCING: agent w runs its network policy in report-only mode/);
    assert.match(text, /metadata.*still enforced/);
    const agents = configToJson(c)['agents'] as Record<string, Record<string, unknown>>;
    assert.equal(agents['w']?.['enforcing'], false);
    assert.deepEqual(agents['w']['reportOnly'], ['network']);
    assert.equal(agents['main']?.['enforcing'], true);
    assert.doesNotMatch(formatConfigSummary(securityProxy({})), /NOT ENFORCING/);
  });
});

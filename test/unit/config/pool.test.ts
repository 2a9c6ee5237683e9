import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { NOOP_ENTRY, issuesOf, subagent, validDir } from './helpers.js';

const parent = { role: 'parent', subagents: { allowAgents: ['w'] } };

void describe('pool (warm sandboxes per agent)', () => {
  void test('security-proxy shape: pool.warm is read; absent or 0 means no pool', () => {
    const c = parseConfig(
      {
        agents: {
          main: parent,
          w: subagent({ pool: { warm: 3 } }),
          z: subagent({ pool: { warm: 0 } }),
          n: subagent(),
        },
      },
      { baseDir: validDir },
    );
    assert.deepEqual(c.agents.w?.pool, { warm: 3 });
    assert.equal(c.agents.z?.pool, undefined);
    assert.equal(c.agents.n?.pool, undefined);
  });

  void test('warm outside 0..32, a non-integer or an unknown key is an error at its JSON path', () => {
    for (const [pool, path] of [
      [{ warm: 33 }, '/agents/w/pool/warm'],
      [{ warm: -1 }, '/agents/w/pool/warm'],
      [{ warm: 1.5 }, '/agents/w/pool/warm'],
      [{ warm: 1, size: 2 }, '/agents/w/pool'],
    ] as const) {
      const issues = issuesOf({ agents: { main: parent, w: subagent({ pool }) } });
      assert.ok(
        issues.some((i) => i.path.startsWith(path)),
        `${JSON.stringify(pool)}: ${JSON.stringify(issues)}`,
      );
    }
  });

  void test('a parent cannot have a pool (nothing would use it)', () => {
    const issues = issuesOf({ agents: { main: { ...parent, pool: { warm: 2 } }, w: subagent() } });
    assert.ok(
      issues.some((i) => i.path.startsWith('/agents/main')),
      JSON.stringify(issues),
    );
  });

  void test('OpenClaw shape: plugins.entries["subagent-guard"].config.agents.<id>.pool', () => {
    const c = parseConfig(
      {
        agents: { ownership: 'explicit', entries: { main: {}, w: {} } },
        plugins: {
          entries: {
            'subagent-guard': { config: { agents: { w: { entry: NOOP_ENTRY, pool: { warm: 2 } } } } },
          },
        },
      },
      { baseDir: validDir },
    );
    assert.deepEqual(c.agents.w?.pool, { warm: 2 });
  });

  void test('OpenClaw shape: pool on the agent entry itself points to where it belongs', () => {
    const issues = issuesOf({
      agents: { ownership: 'explicit', entries: { main: {}, w: { pool: { warm: 2 } } } },
      plugins: { entries: { 'subagent-guard': { config: { agents: { w: { entry: NOOP_ENTRY } } } } } },
    });
    const hit = issues.find((i) => i.path === '/agents/entries/w/pool');
    assert.ok(hit, JSON.stringify(issues));
    assert.match(hit.message, /config\.agents\.w\.pool|agents\/w\/pool|pool/);
  });
});

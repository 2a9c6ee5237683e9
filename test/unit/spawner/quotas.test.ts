import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SpawnDeniedError, type SpawnDeniedReason } from '../../../src/errors.js';
import { SpawnQuotas } from '../../../src/spawner/quotas.js';
import { makeConfig, type AgentSpec } from '../../helpers/spawner-config.js';

function config(parent: AgentSpec['subagents'], extra: Record<string, AgentSpec> = {}) {
  return makeConfig({
    main: { role: 'parent', subagents: { allowAgents: ['worker'], ...parent } },
    worker: {},
    other: {},
    ...extra,
  });
}

function denied(fn: () => unknown): SpawnDeniedReason {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SpawnDeniedError, `expected SpawnDeniedError, got ${String(err)}`);
    assert.equal(err.code, 'SG_SPAWN_DENIED');
    return err.reason;
  }
  assert.fail('expected the spawn to be denied');
}

void describe('SpawnQuotas', () => {
  void test('denies each reason with the documented code', async (t) => {
    const cases: { name: string; run: () => unknown; reason: SpawnDeniedReason }[] = [
      {
        name: 'undefined child agent',
        run: () => {
          const q = new SpawnQuotas(config({}));
          q.reserve(q.root('main'), 'nope');
        },
        reason: 'unknown_agent',
      },
      {
        name: 'undefined parent',
        run: () => new SpawnQuotas(config({})).root('ghost'),
        reason: 'unknown_agent',
      },
      {
        name: "a 'parent'-role agent as child",
        run: () => {
          const q = new SpawnQuotas(config({ allowAgents: '*' }));
          q.reserve(q.root('main'), 'main');
        },
        reason: 'unknown_agent',
      },
      {
        name: 'prototype names are not agents',
        run: () => {
          const q = new SpawnQuotas(config({ allowAgents: '*' }));
          q.reserve(q.root('main'), '__proto__');
        },
        reason: 'unknown_agent',
      },
      {
        name: 'agent outside allowAgents',
        run: () => {
          const q = new SpawnQuotas(config({}));
          q.reserve(q.root('main'), 'other');
        },
        reason: 'agent_not_allowed',
      },
      {
        name: 'root maxSpawnDepth 0',
        run: () => {
          const q = new SpawnQuotas(config({ maxSpawnDepth: 0 }));
          q.reserve(q.root('main'), 'worker');
        },
        reason: 'depth_exceeded',
      },
    ];
    for (const c of cases) {
      await t.test(c.name, () => {
        assert.equal(denied(c.run), c.reason);
      });
    }
  });

  void test('children_exceeded once running + queued reach maxChildren, and a release frees a slot', () => {
    const q = new SpawnQuotas(config({ maxChildren: 2, maxConcurrent: 1 }));
    const root = q.root('main');
    const a = q.reserve(root, 'worker');
    q.reserve(root, 'worker');
    assert.equal(
      denied(() => q.reserve(root, 'worker')),
      'children_exceeded',
    );
    a.release();
    a.release(); // idempotent: must not free two slots
    q.reserve(root, 'worker');
    assert.equal(
      denied(() => q.reserve(root, 'worker')),
      'children_exceeded',
    );
  });

  void test('100 simultaneous reservations never exceed maxChildren', async () => {
    const q = new SpawnQuotas(config({ maxChildren: 7, maxConcurrent: 3, maxSpawnsPerMinute: 1000 }));
    const root = q.root('main');
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () => Promise.resolve().then(() => q.reserve(root, 'worker'))),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    assert.equal(ok, 7);
    assert.equal(root.children, 7);
  });

  void test('rate_exceeded in a sliding 60 s window', () => {
    let now = 1_000_000;
    const q = new SpawnQuotas(config({ maxChildren: 100, maxSpawnsPerMinute: 3 }), { now: () => now });
    const root = q.root('main');
    for (let i = 0; i < 3; i++) q.reserve(root, 'worker').release();
    assert.equal(
      denied(() => q.reserve(root, 'worker')),
      'rate_exceeded',
    );
    now += 59_000;
    assert.equal(
      denied(() => q.reserve(root, 'worker')),
      'rate_exceeded',
    );
    now += 1_001;
    q.reserve(root, 'worker');
  });

  void test('queue_full when the orchestrator-wide waiting list is at maxQueued', () => {
    const q = new SpawnQuotas(config({ maxChildren: 10, maxConcurrent: 2 }), { maxQueued: 3 });
    const root = q.root('main');
    const held = Array.from({ length: 5 }, () => q.reserve(root, 'worker')); // 2 running + 3 waiting
    assert.equal(q.waitingTotal, 3);
    assert.equal(
      denied(() => q.reserve(root, 'worker')),
      'queue_full',
    );
    held[0]?.release();
    assert.equal(q.waitingTotal, 2);
    q.reserve(root, 'worker');
  });

  void test('nested spawns: the caller’s own allowAgents and every ancestor’s maxSpawnDepth apply', () => {
    const cfg = makeConfig({
      main: { role: 'parent', subagents: { allowAgents: ['a', 'b', 'c'], maxSpawnDepth: 2, maxChildren: 5 } },
      a: { subagents: { allowAgents: ['b'], maxSpawnDepth: 1 } },
      b: { subagents: { allowAgents: ['c'], maxSpawnDepth: 5 } },
      c: {},
      lone: {},
    });
    const q = new SpawnQuotas(cfg);
    const root = q.root('main');
    const ra = q.reserve(root, 'a');
    assert.equal(ra.depth, 1);
    const aInst = q.nested('id-a', 'a', ra.depth, root);
    // 'c' is allowed by the root but not by 'a' itself.
    assert.equal(
      denied(() => q.reserve(aInst, 'c')),
      'agent_not_allowed',
    );
    const rb = q.reserve(aInst, 'b');
    assert.equal(rb.depth, 2);
    const bInst = q.nested('id-b', 'b', rb.depth, aInst);
    // depth 3 > root maxSpawnDepth 2, even though 'b' itself allows depth 5 below it.
    assert.equal(
      denied(() => q.reserve(bInst, 'c')),
      'depth_exceeded',
    );
  });

  void test('a subagent with default spawn policy cannot spawn at all', () => {
    const cfg = makeConfig({
      main: { role: 'parent', subagents: { allowAgents: '*', maxSpawnDepth: 3, maxChildren: 5 } },
      w: {},
    });
    const q = new SpawnQuotas(cfg);
    const root = q.root('main');
    const r = q.reserve(root, 'w');
    const inst = q.nested('id-w', 'w', r.depth, root);
    assert.equal(
      denied(() => q.reserve(inst, 'w')),
      'agent_not_allowed',
    );
  });
});

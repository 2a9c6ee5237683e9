/**
 * The OpenClaw plugin's hook handlers with plain event objects shaped like OpenClaw 2026.9.6's
 * (PluginHookBeforeToolCallEvent, PluginHookToolContext, PluginHookSubagentSpawned/EndedEvent):
 * tool ACL, host network tools, run quotas, fail-closed events, spawn check-and-reserve and every
 * way a reservation is released, each decision audited once with OpenClaw's ids.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditEvent } from '../../../src/audit/events.js';
import { validateAuditRecord } from '../../../src/audit/record-schema.js';
import { parseConfig } from '../../../src/config/parse.js';
import type { PluginEnforce } from '../../../src/config/plugin-schema.js';
import { PluginGuard } from '../../../src/openclaw/guard.js';
import { SpawnGuard } from '../../../src/openclaw/spawn-guard.js';
import { collectAudit, type CollectedAudit } from '../../helpers/spawner-audit.js';

/** An openclaw.json as an operator writes it: OpenClaw's own keys plus our plugin entry. */
function openclawJson(enforce: PluginEnforce = {}, pluginAgents: Record<string, unknown> = {}) {
  return {
    agents: {
      ownership: 'explicit',
      entries: {
        main: { subagents: { allowAgents: ['researcher'] } },
        researcher: {
          tools: {
            allow: ['read', 'guarded_fetch', 'web_fetch', 'sessions_spawn', 'group:fs'],
            deny: ['write'],
          },
          subagents: { allowAgents: ['helper'] },
        },
        helper: { tools: { allow: ['read', 'sessions_spawn'] }, subagents: { allowAgents: ['helper'] } },
      },
    },
    plugins: {
      entries: {
        'subagent-guard': {
          config: {
            agents: {
              researcher: {
                constraints: { max_api_calls: 5, max_cost_usd: 0.3 },
                subagents: { maxConcurrent: 2, maxChildrenPerAgent: 3, maxSpawnsPerMinute: 100 },
                network: { allowed_domains: ['api.allowed.test'] },
              },
              helper: { subagents: { maxSpawnsPerMinute: 100 } },
              ...pluginAgents,
            },
            enforce,
          },
        },
      },
    },
  };
}

function makeGuard(enforce: PluginEnforce = {}, pluginAgents: Record<string, unknown> = {}) {
  const audit = collectAudit();
  const config = parseConfig(openclawJson(enforce, pluginAgents), { baseDir: '/tmp' });
  const guard = new PluginGuard({ config, enforce, logger: audit.logger });
  return { guard, audit };
}

const ctx = (agentId: string, extra: Record<string, unknown> = {}) => ({
  agentId,
  sessionKey: `agent:${agentId}:main`,
  runId: 'run-1',
  ...extra,
});
const call = (toolName: string, params: Record<string, unknown> = {}, toolCallId = 'call-1') => ({
  toolName,
  params,
  toolCallId,
});

/** Every record the guard wrote fits its event's strict schema (the fields pino adds, as the audit logger writes them). */
function assertRecordsValid(audit: CollectedAudit): void {
  for (const r of audit.records()) {
    const v = validateAuditRecord({
      ...r,
      time: new Date(r.time as number).toISOString(),
      service: 'subagent-guard',
    });
    assert.ok(v.ok, `${String(r.event)}: ${v.ok ? '' : v.issues.join('; ')}`);
  }
}

function decisions(audit: CollectedAudit) {
  return audit.events(AuditEvent.PluginToolDecision);
}

void describe('OpenClaw plugin: tool policy (before_tool_call)', () => {
  void test('allows a tool in the agent allowlist and audits it with OpenClaw ids', () => {
    const { guard, audit } = makeGuard();
    assert.equal(guard.beforeToolCall(call('read'), ctx('researcher')), undefined);
    const [rec] = decisions(audit);
    assert.equal(rec?.allow, true);
    assert.equal(rec.agentId, 'researcher');
    assert.equal(rec.sessionKey, 'agent:researcher:main');
    assert.equal(rec.runId, 'run-1');
    assert.equal(rec.tool, 'read');
  });

  void test('deny wins over a group allow, with a reason the model can read', () => {
    const { guard, audit } = makeGuard();
    const r = guard.beforeToolCall(call('write'), ctx('researcher'));
    assert.equal(r?.block, true);
    assert.match(r.blockReason ?? '', /subagent-guard: 'write' is (denied|not in the allowed tools)/);
    assert.equal(decisions(audit)[0]?.allow, false);
  });

  void test('refuses a tool outside the allowlist (not_allowed) and through an alias (bash -> exec)', () => {
    const { guard, audit } = makeGuard();
    assert.equal(guard.beforeToolCall(call('exec'), ctx('researcher'))?.block, true);
    assert.equal(guard.beforeToolCall(call('bash'), ctx('researcher'))?.block, true);
    assert.deepEqual(
      decisions(audit).map((r) => r.reason),
      ['not_allowed', 'not_allowed'],
    );
  });

  void test('refuses host network tools by default, even when the agent allows them', () => {
    const { guard, audit } = makeGuard();
    const r = guard.beforeToolCall(call('web_fetch'), ctx('researcher'));
    assert.equal(r?.block, true);
    assert.match(r.blockReason ?? '', /guarded_fetch/);
    assert.equal(decisions(audit)[0]?.reason, 'host_network_tool');
  });

  void test('enforce.host_network_tools "allow" lets an allowed web_fetch through', () => {
    const { guard } = makeGuard({ host_network_tools: 'allow' });
    assert.equal(guard.beforeToolCall(call('web_fetch'), ctx('researcher')), undefined);
  });

  void test('the parent agent keeps its tools but not the host network ones', () => {
    const { guard } = makeGuard();
    assert.equal(guard.beforeToolCall(call('exec'), ctx('main')), undefined);
    assert.equal(guard.beforeToolCall(call('web_search'), ctx('main'))?.block, true);
  });

  void test('an unknown agent fails closed', () => {
    const { guard, audit } = makeGuard();
    assert.equal(guard.beforeToolCall(call('read'), ctx('intruder'))?.block, true);
    assert.equal(decisions(audit)[0]?.reason, 'unknown_agent');
  });

  void test('agent ids match case-insensitively, as OpenClaw normalises them', () => {
    const { guard } = makeGuard();
    assert.equal(guard.beforeToolCall(call('read'), ctx('Researcher')), undefined);
  });

  for (const [name, event, c] of [
    ['no agent id', call('read'), { sessionKey: 's', runId: 'r' }],
    ['no tool name', { params: {} }, ctx('researcher')],
    ['no run id nor session key', call('read'), { agentId: 'researcher' }],
    ['a non-object event', 'read', ctx('researcher')],
    ['a null context', call('read'), null],
    ['an over-long agent id', call('read'), ctx('r'.repeat(300))],
  ] as const) {
    void test(`a malformed event fails closed: ${name}`, () => {
      const { guard, audit } = makeGuard();
      assert.equal(guard.beforeToolCall(event, c)?.block, true);
      assert.equal(decisions(audit).length, 1);
      assert.equal(decisions(audit)[0]?.allow, false);
    });
  }

  void test('a hostile getter on the event is refused, not thrown', () => {
    const { guard } = makeGuard();
    const event = {
      get toolName(): string {
        throw new Error('boom');
      },
      params: {},
    };
    assert.equal(guard.beforeToolCall(event, ctx('researcher'))?.block, true);
  });

  void test('an invalid configuration refuses every call', () => {
    const audit = collectAudit();
    const guard = new PluginGuard({ config: { invalid: 'bad' }, logger: audit.logger });
    const r = guard.beforeToolCall(call('read'), ctx('researcher'));
    assert.equal(r?.block, true);
    assert.equal(decisions(audit)[0]?.reason, 'config_invalid');
  });

  void test('max_api_calls counts calls per run; a new run starts at zero', () => {
    const { guard, audit } = makeGuard();
    for (let i = 0; i < 5; i++)
      assert.equal(guard.beforeToolCall(call('read'), ctx('researcher')), undefined);
    const r = guard.beforeToolCall(call('read'), ctx('researcher'));
    assert.equal(r?.block, true);
    assert.equal(decisions(audit).at(-1)?.reason, 'api_calls_exceeded');
    assert.equal(guard.beforeToolCall(call('read'), ctx('researcher', { runId: 'run-2' })), undefined);
  });

  void test('max_cost_usd meters enforce.tool_cost_usd per run (0.1 x 3 fits 0.3 exactly)', () => {
    const { guard, audit } = makeGuard({ tool_cost_usd: { read: 0.1 } });
    for (let i = 0; i < 3; i++)
      assert.equal(guard.beforeToolCall(call('read'), ctx('researcher')), undefined);
    assert.equal(guard.beforeToolCall(call('read'), ctx('researcher'))?.block, true);
    assert.equal(decisions(audit).at(-1)?.reason, 'cost_exceeded');
  });

  void test('a refused call does not use the run quota', () => {
    const { guard } = makeGuard();
    for (let i = 0; i < 10; i++) guard.beforeToolCall(call('exec'), ctx('researcher'));
    assert.equal(guard.beforeToolCall(call('read'), ctx('researcher')), undefined);
  });
});

void describe('OpenClaw plugin: spawn policy (sessions_spawn)', () => {
  const spawn = (agentId: string | undefined, id: string) =>
    call('sessions_spawn', { task: 't', ...(agentId === undefined ? {} : { agentId }) }, id);

  void test('a spawn outside allowAgents is refused with agent_not_allowed', () => {
    const { guard, audit } = makeGuard();
    const r = guard.beforeToolCall(spawn('main', 'c1'), ctx('researcher'));
    assert.equal(r?.block, true);
    assert.match(r.blockReason ?? '', /agent_not_allowed|unknown_agent/);
    assert.equal(audit.events(AuditEvent.PluginSpawnDecision)[0]?.allow, false);
  });

  void test('without agentId the requester spawns its own agent (refused when not allowed)', () => {
    const { guard } = makeGuard();
    assert.equal(guard.beforeToolCall(spawn(undefined, 'c1'), ctx('researcher'))?.block, true);
  });

  void test('100 simultaneous spawns never exceed maxConcurrent 2', async () => {
    const { guard, audit } = makeGuard();
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        Promise.resolve().then(() =>
          guard.beforeToolCall(spawn('helper', `c${i}`), ctx('researcher', { runId: `r${i}` })),
        ),
      ),
    );
    assert.equal(results.filter((r) => r === undefined).length, 2);
    assert.equal(guard.heldSpawns, 2);
    const denied = audit.events(AuditEvent.PluginSpawnDecision).filter((r) => r.allow === false);
    assert.equal(denied.length, 98);
    assert.ok(denied.every((r) => r.reason === 'concurrency_exceeded'));
  });

  void test('maxChildrenPerAgent caps children when maxConcurrent is higher', () => {
    const { guard, audit } = makeGuard(
      {},
      {
        researcher: { subagents: { maxConcurrent: 10, maxChildrenPerAgent: 3, maxSpawnsPerMinute: 100 } },
      },
    );
    const allowed = Array.from({ length: 10 }, (_, i) =>
      guard.beforeToolCall(spawn('helper', `c${i}`), ctx('researcher', { runId: `r${i}` })),
    ).filter((r) => r === undefined);
    assert.equal(allowed.length, 3);
    assert.equal(audit.events(AuditEvent.PluginSpawnDecision).at(-1)?.reason, 'children_exceeded');
  });

  void test('maxSpawnsPerMinute caps the rate even when children end', () => {
    const { guard, audit } = makeGuard(
      {},
      {
        researcher: { subagents: { maxConcurrent: 5, maxChildrenPerAgent: 5, maxSpawnsPerMinute: 3 } },
      },
    );
    for (let i = 0; i < 3; i++) {
      assert.equal(
        guard.beforeToolCall(spawn('helper', `c${i}`), ctx('researcher', { runId: `r${i}` })),
        undefined,
      );
      guard.subagentSpawned(
        {
          childSessionKey: `agent:helper:subagent:${i}`,
          agentId: 'helper',
          runId: `child-${i}`,
          mode: 'run',
        },
        { requesterSessionKey: 'agent:researcher:main' },
      );
      guard.subagentEnded({ targetSessionKey: `agent:helper:subagent:${i}`, reason: 'done' }, {});
    }
    assert.equal(
      guard.beforeToolCall(spawn('helper', 'c9'), ctx('researcher', { runId: 'r9' }))?.block,
      true,
    );
    assert.equal(audit.events(AuditEvent.PluginSpawnDecision).at(-1)?.reason, 'rate_exceeded');
  });

  void test('subagent_ended releases the slot it was bound to (subagent_spawned), audited', () => {
    const { guard, audit } = makeGuard();
    assert.equal(guard.beforeToolCall(spawn('helper', 'c1'), ctx('researcher')), undefined);
    assert.equal(guard.beforeToolCall(spawn('helper', 'c2'), ctx('researcher', { runId: 'r2' })), undefined);
    assert.equal(
      guard.beforeToolCall(spawn('helper', 'c3'), ctx('researcher', { runId: 'r3' }))?.block,
      true,
    );
    guard.subagentSpawned(
      { childSessionKey: 'agent:helper:subagent:a', agentId: 'helper', runId: 'child-run', mode: 'run' },
      { requesterSessionKey: 'agent:researcher:main', runId: 'child-run' },
    );
    const spawned = audit.events(AuditEvent.PluginSubagentSpawned)[0];
    assert.equal(spawned?.checked, true);
    assert.equal(spawned.sessionKey, 'agent:helper:subagent:a');
    assert.equal(spawned.runId, 'child-run');
    guard.subagentEnded(
      { targetSessionKey: 'agent:helper:subagent:a', reason: 'complete', runId: 'child-run' },
      {},
    );
    assert.equal(guard.heldSpawns, 1);
    const released = audit.events(AuditEvent.PluginSpawnReleased);
    assert.equal(released.length, 1);
    assert.equal(released[0]?.cause, 'ended');
    assert.equal(released[0].sessionKey, 'agent:helper:subagent:a');
    assert.equal(guard.beforeToolCall(spawn('helper', 'c4'), ctx('researcher', { runId: 'r4' })), undefined);
  });

  void test('a failed sessions_spawn (after_tool_call error status) gives its slot back', () => {
    const { guard, audit } = makeGuard();
    guard.beforeToolCall(spawn('helper', 'c1'), ctx('researcher'));
    guard.afterToolCall(
      { toolName: 'sessions_spawn', params: {}, toolCallId: 'c1', result: { details: { status: 'error' } } },
      ctx('researcher'),
    );
    assert.equal(guard.heldSpawns, 0);
    assert.equal(audit.events(AuditEvent.PluginSpawnReleased)[0]?.cause, 'spawn_failed');
  });

  void test('an accepted sessions_spawn keeps its slot until the child ends', () => {
    const { guard } = makeGuard();
    guard.beforeToolCall(spawn('helper', 'c1'), ctx('researcher'));
    guard.afterToolCall(
      {
        toolName: 'sessions_spawn',
        params: {},
        toolCallId: 'c1',
        result: { details: { status: 'accepted' } },
      },
      ctx('researcher'),
    );
    assert.equal(guard.heldSpawns, 1);
  });

  void test('a reservation whose end never arrives is released after spawn_release_timeout_seconds', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { guard, audit } = makeGuard({ spawn_release_timeout_seconds: 2 });
    guard.beforeToolCall(spawn('helper', 'c1'), ctx('researcher'));
    guard.subagentSpawned(
      { childSessionKey: 'agent:helper:subagent:x', agentId: 'helper', runId: 'cr', mode: 'run' },
      { requesterSessionKey: 'agent:researcher:main' },
    );
    t.mock.timers.tick(1999);
    assert.equal(guard.heldSpawns, 1);
    t.mock.timers.tick(1);
    assert.equal(guard.heldSpawns, 0);
    assert.equal(audit.events(AuditEvent.PluginSpawnReleased)[0]?.cause, 'timeout');
    // A late end after the timeout changes nothing and releases nothing twice.
    guard.subagentEnded({ targetSessionKey: 'agent:helper:subagent:x' }, {});
    assert.equal(audit.events(AuditEvent.PluginSpawnReleased).length, 1);
    await Promise.resolve();
  });

  void test('gateway_stop releases every reservation and refuses later spawns', () => {
    const { guard, audit } = makeGuard();
    guard.beforeToolCall(spawn('helper', 'c1'), ctx('researcher'));
    guard.beforeToolCall(spawn('helper', 'c2'), ctx('researcher', { runId: 'r2' }));
    guard.stop();
    assert.equal(guard.heldSpawns, 0);
    assert.deepEqual(
      audit.events(AuditEvent.PluginSpawnReleased).map((r) => r.cause),
      ['gateway_stop', 'gateway_stop'],
    );
    assert.equal(
      guard.beforeToolCall(spawn('helper', 'c3'), ctx('researcher', { runId: 'r3' }))?.block,
      true,
    );
  });

  void test('depth: a child at maxSpawnDepth 1 may not spawn, bound or not', () => {
    const { guard, audit } = makeGuard();
    guard.beforeToolCall(spawn('helper', 'c1'), ctx('researcher'));
    guard.subagentSpawned(
      { childSessionKey: 'agent:helper:subagent:d', agentId: 'helper', runId: 'cr', mode: 'run' },
      { requesterSessionKey: 'agent:researcher:main' },
    );
    const nested = { agentId: 'helper', sessionKey: 'agent:helper:subagent:d', runId: 'cr' };
    assert.equal(guard.beforeToolCall(spawn('helper', 'n1'), nested)?.block, true);
    assert.equal(audit.events(AuditEvent.PluginSpawnDecision).at(-1)?.reason, 'depth_exceeded');
    // A session the guard never saw spawned is judged by the depth in its key.
    const unseen = { agentId: 'helper', sessionKey: 'agent:helper:subagent:zz', runId: 'x' };
    assert.equal(guard.beforeToolCall(spawn('helper', 'n2'), unseen)?.block, true);
    assert.equal(audit.events(AuditEvent.PluginSpawnDecision).at(-1)?.reason, 'depth_exceeded');
  });

  void test('a malformed agentId parameter fails closed', () => {
    const { guard, audit } = makeGuard();
    const r = guard.beforeToolCall(call('sessions_spawn', { task: 't', agentId: 42 }), ctx('researcher'));
    assert.equal(r?.block, true);
    assert.equal(audit.events(AuditEvent.PluginSpawnDecision)[0]?.reason, 'malformed_event');
  });

  void test('a subagent_spawned nobody reserved is audited as unchecked', () => {
    const { guard, audit } = makeGuard();
    guard.subagentSpawned({ childSessionKey: 'agent:helper:subagent:q', agentId: 'helper', runId: 'r' }, {});
    assert.equal(audit.events(AuditEvent.PluginSubagentSpawned)[0]?.checked, false);
  });
});

void describe('OpenClaw plugin: spawn state stays bounded', () => {
  /** researcher: maxConcurrent 2, maxChildrenPerAgent 3; rate capped per test. */
  function spawnGuard(rate: number, clock: { now: number }) {
    const config = parseConfig(
      openclawJson(
        {},
        {
          researcher: { subagents: { maxConcurrent: 2, maxChildrenPerAgent: 3, maxSpawnsPerMinute: rate } },
        },
      ),
      { baseDir: '/tmp' },
    );
    return new SpawnGuard(config, { now: () => clock.now, pruneAt: 64 });
  }
  const session = (i: number | string) => `agent:researcher:s${String(i)}`;

  void test('sessions with nothing running and no spawn in the last minute are forgotten', () => {
    const clock = { now: 1_000_000 };
    const g = spawnGuard(100, clock);
    for (let i = 0; i < 5000; i++) {
      const d = g.decide('researcher', session(i), 'helper', `c${i}`);
      assert.equal(d.allow, true);
      assert.ok(g.failed(`c${i}`) !== undefined, 'the failed spawn gives its slot back');
      clock.now += 100; // 5000 sessions over 500 s: most fall out of the rate window
    }
    // At most the ~600 sessions inside the window survive a prune; the next one runs at twice that.
    assert.ok(g.trackedSessions <= 2 * 601, `tracked ${g.trackedSessions}`);
    assert.equal(g.held, 0);
  });

  void test('a session inside the rate window is kept: its rate cap survives any number of others', () => {
    const clock = { now: 1_000_000 };
    const g = spawnGuard(3, clock);
    for (let i = 0; i < 3; i++) {
      assert.equal(g.decide('researcher', session('x'), 'helper', `x${i}`).allow, true);
      g.failed(`x${i}`);
    }
    for (let i = 0; i < 2000; i++) {
      g.decide('researcher', session(i), 'helper', `c${i}`);
      g.failed(`c${i}`);
    }
    const d = g.decide('researcher', session('x'), 'helper', 'x3');
    assert.equal(d.allow, false);
    assert.equal(d.reason, 'rate_exceeded');
    clock.now += 60_001;
    assert.equal(g.decide('researcher', session('x'), 'helper', 'x4').allow, true, 'the window moved on');
  });

  void test('a session with running children is kept: its concurrency cap survives any number of others', () => {
    const clock = { now: 1_000_000 };
    const g = spawnGuard(10_000, clock);
    assert.equal(g.decide('researcher', session('x'), 'helper', 'x0').allow, true);
    assert.equal(g.decide('researcher', session('x'), 'helper', 'x1').allow, true);
    clock.now += 3_600_000; // long after the rate window: only the held children keep it
    for (let i = 0; i < 2000; i++) {
      g.decide('researcher', session(i), 'helper', `c${i}`);
      g.failed(`c${i}`);
    }
    const d = g.decide('researcher', session('x'), 'helper', 'x2');
    assert.equal(d.allow, false);
    assert.equal(d.reason, 'concurrency_exceeded');
    assert.equal(g.held, 2);
    g.close();
  });
});

void describe('OpenClaw plugin: audit records', () => {
  void test('every record of every decision fits the published record schema', () => {
    const { guard, audit } = makeGuard({ tool_cost_usd: { read: 0.1 } });
    guard.beforeToolCall(call('read'), ctx('researcher'));
    guard.beforeToolCall(call('exec'), ctx('researcher'));
    guard.beforeToolCall(call('web_fetch'), ctx('researcher'));
    guard.beforeToolCall(call('read'), ctx('nobody'));
    guard.beforeToolCall({ params: {} }, null);
    guard.beforeToolCall(call('sessions_spawn', { task: 't', agentId: 'helper' }, 'c1'), ctx('researcher'));
    guard.beforeToolCall(call('sessions_spawn', { task: 't', agentId: 'main' }, 'c2'), ctx('researcher'));
    guard.beforeToolCall(call('sessions_spawn', { task: 't', agentId: 7 }, 'c3'), ctx('researcher'));
    guard.subagentSpawned(
      { childSessionKey: 'agent:helper:subagent:a', agentId: 'helper', runId: 'cr', mode: 'run' },
      { requesterSessionKey: 'agent:researcher:main' },
    );
    guard.subagentSpawned({ agentId: 'helper' }, {});
    guard.subagentEnded({ targetSessionKey: 'agent:helper:subagent:a', reason: 'done', outcome: 'ok' }, {});
    guard.subagentEnded({}, {});
    guard.beforeToolCall(call('sessions_spawn', { task: 't', agentId: 'helper' }, 'c4'), ctx('researcher'));
    guard.stop();
    const events = new Set(audit.records().map((r) => r.event));
    for (const e of [
      AuditEvent.PluginToolDecision,
      AuditEvent.PluginSpawnDecision,
      AuditEvent.PluginSubagentSpawned,
      AuditEvent.PluginSubagentEnded,
      AuditEvent.PluginSpawnReleased,
    ]) {
      assert.ok(events.has(e), `no ${e} record`);
    }
    assertRecordsValid(audit);
  });
});

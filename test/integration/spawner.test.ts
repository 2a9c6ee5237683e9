/**
 * The orchestrator end to end: real sandboxes at every available isolation level, real gateway,
 * real child programs. Every violation kind must end `terminated` with the right reason, the
 * parent must survive, and nothing (process, temp dir, socket, credential) may be left behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SpawnDeniedError } from '../../src/errors.js';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import type { Orchestrator, Outcome, ToolDefinition } from '../../src/spawner/types.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import {
  establishedOnPort,
  eventually,
  liveChildren,
  removeDir,
  startLoopbackServer,
  tempEntries,
  testResolver,
  writeAgents,
  type LoopbackServer,
} from '../helpers/spawner-harness.js';
import { LEVELS, levelSkip } from '../helpers/levels.js';
import { repoRoot } from '../helpers/paths.js';

const HOSTILE = join(repoRoot, 'examples', 'agents', 'hostile.mjs');
const ALLOWED = 'api.allowed.test';
const ALLOWED_IP = '127.0.0.2';
const TRAP_IP = '127.0.0.9';

let agentsDir = '';
let api: LoopbackServer;
let trap: LoopbackServer;

before(async () => {
  agentsDir = writeAgents();
  api = await startLoopbackServer(ALLOWED_IP);
  trap = await startLoopbackServer(TRAP_IP);
});

after(async () => {
  await api.close();
  await trap.close();
  removeDir(agentsDir);
  // Nothing may ever have reached the prohibited loopback address over the whole file.
  assert.equal(trap.connections(), 0, 'the trap server must never be reached');
});

function config() {
  const net: AgentSpec['network'] = {
    allowedDomains: [ALLOWED, 'metadata.internal.test', TRAP_IP],
    allowedPorts: [api.port, trap.port],
    allowedCidrs: [`${ALLOWED_IP}/32`],
    maxEgressBytes: 256 * 1024,
  };
  const worker = (entry: string, over: AgentSpec = {}): AgentSpec => ({
    entry: join(agentsDir, entry),
    tools: { allowed: ['web_fetch', 'sanitized_parse', 'paid'], denied: ['exec'] },
    constraints: { maxMemoryMb: 160, maxApiCalls: 5, maxCostUsd: 0.25, timeoutSeconds: 10 },
    network: net,
    ...over,
  });
  return makeConfig(
    {
      main: {
        role: 'parent',
        subagents: {
          allowAgents: '*',
          maxConcurrent: 4,
          maxChildren: 8,
          maxSpawnDepth: 2,
          maxSpawnsPerMinute: 1000,
        },
      },
      echo: worker('echo.mjs'),
      tools: worker('tools.mjs'),
      mixed: worker('tools-then-fetch.mjs'),
      loop: worker('loop-tools.mjs'),
      fetcher: worker('fetch.mjs'),
      crash: worker('crash.mjs'),
      exiter: worker('exit.mjs'),
      sleeper: worker('sleeper.mjs'),
      env: worker('env.mjs'),
      logger: worker('log.mjs'),
      garbage: worker('garbage.mjs'),
      oversize: worker('oversize.mjs'),
      hostile: {
        ...worker('echo.mjs'),
        entry: HOSTILE,
        constraints: { maxMemoryMb: 128, maxApiCalls: 5, timeoutSeconds: 15 },
      },
      spinner: {
        ...worker('echo.mjs'),
        entry: HOSTILE,
        constraints: { maxMemoryMb: 128, maxApiCalls: 5, timeoutSeconds: 1.5 },
      },
      nester: worker('spawner.mjs', {
        subagents: { allowAgents: ['echo'], maxChildren: 2, maxSpawnDepth: 1 },
      }),
      lonely: worker('spawner.mjs'),
    },
    { baseDir: agentsDir },
  );
}

const paid: ToolDefinition = {
  description: 'a paid tool',
  inputSchema: { type: 'object' },
  costUsd: 0.1,
  handler: () => Promise.resolve({ paid: true }),
};

type Expect = { status: 'completed' | 'failed' } | { status: 'terminated'; reason: string };

interface Case {
  name: string;
  agent: string;
  task: unknown;
  expect: Expect;
  /** Only at namespaced levels (the case must never run where a broken runtime could reach the network). */
  namespacedOnly?: boolean;
  check?: (o: Outcome, audit: CollectedAudit) => void;
}

const CASES: Case[] = [
  {
    name: 'a benign subagent completes with its output and usage',
    agent: 'echo',
    task: { q: 1 },
    expect: { status: 'completed' },
    check: (o) => {
      assert.equal(o.status === 'completed' && (o.output as { echo: unknown }).echo !== undefined, true);
      assert.ok(o.usage.wallMs >= 0 && o.usage.peakRssMb >= 0);
    },
  },
  {
    name: 'web_fetch and sanitized_parse through the gateway work for an allowed name',
    agent: 'tools',
    task: {
      calls: [
        { name: 'web_fetch', args: { url: `http://${ALLOWED}:PORT/small` } },
        { name: 'sanitized_parse', args: { text: '{"a":1}' } },
        { name: 'sanitized_parse', args: { nope: 1 } },
      ],
    },
    expect: { status: 'completed' },
    check: (o) => {
      assert.equal(o.status, 'completed');
      type Call = { ok: boolean; value?: { status?: number; headers?: object }; code?: string };
      const [fetched, , invalid] = (o as { output: (Call | undefined)[] }).output;
      assert.equal(fetched?.ok, true);
      const value = fetched.value ?? {};
      assert.equal(value.status, 200);
      assert.ok(
        !JSON.stringify(value.headers ?? {}).includes('SECRET'),
        'set-cookie is not passed to the subagent',
      );
      assert.equal(invalid?.ok, false, 'invalid args are an error result, not a violation');
      assert.equal(o.usage.toolCalls, 3);
      assert.ok(o.usage.egressRequests >= 1);
    },
  },
  {
    name: 'a denied tool → tool_denied',
    agent: 'hostile',
    task: { attack: 'denied_tool' },
    expect: { status: 'terminated', reason: 'tool_denied' },
  },
  {
    name: 'an unknown tool → tool_denied',
    agent: 'tools',
    task: { calls: [{ name: 'no_such_tool', args: {} }] },
    expect: { status: 'terminated', reason: 'tool_denied' },
  },
  {
    name: 'a name outside the allowlist → egress_denied before any DNS query',
    agent: 'hostile',
    task: { attack: 'blocked_domain' },
    expect: { status: 'terminated', reason: 'egress_denied' },
  },
  {
    name: 'a prohibited loopback address → egress_denied, never dialled',
    agent: 'fetcher',
    task: { url: `http://${TRAP_IP}:TRAPPORT/` },
    expect: { status: 'terminated', reason: 'egress_denied' },
  },
  {
    name: 'a name that resolves to a metadata address → egress_denied',
    agent: 'fetcher',
    task: { url: 'http://metadata.internal.test:PORT/' },
    expect: { status: 'terminated', reason: 'egress_denied' },
  },
  {
    name: 'the metadata IP literal → egress_denied',
    agent: 'hostile',
    task: { attack: 'metadata_ip' },
    expect: { status: 'terminated', reason: 'egress_denied' },
    namespacedOnly: true,
  },
  {
    name: 'a file write → sandbox_violation',
    agent: 'hostile',
    task: { attack: 'file_write' },
    expect: { status: 'terminated', reason: 'sandbox_violation' },
  },
  {
    name: 'a child process → sandbox_violation',
    agent: 'hostile',
    task: { attack: 'child_process' },
    expect: { status: 'terminated', reason: 'sandbox_violation' },
  },
  {
    name: 'a memory bomb → memory_exceeded',
    agent: 'hostile',
    task: { attack: 'memory_bomb' },
    expect: { status: 'terminated', reason: 'memory_exceeded' },
  },
  {
    name: 'an infinite loop → timeout',
    agent: 'spinner',
    task: { attack: 'infinite_loop' },
    expect: { status: 'terminated', reason: 'timeout' },
  },
  {
    name: 'a spawn loop → spawn_denied',
    agent: 'hostile',
    task: { attack: 'spawn_loop' },
    expect: { status: 'terminated', reason: 'spawn_denied' },
  },
  {
    name: 'the call beyond max_api_calls → api_calls_exceeded',
    agent: 'loop',
    task: { times: 10, name: 'sanitized_parse', args: { text: '1' } },
    expect: { status: 'terminated', reason: 'api_calls_exceeded' },
    check: (o) => {
      assert.equal(o.usage.apiCalls, 5);
    },
  },
  {
    name: 'an egress request beyond max_api_calls → api_calls_exceeded, through the gateway’s 429 and onDeny',
    agent: 'mixed',
    task: {
      // Five units: four calls and one web_fetch, whose own request is paid by the call. The
      // direct fetch after them is the sixth unit.
      calls: [
        ...Array.from({ length: 4 }, () => ({ name: 'sanitized_parse', args: { text: '1' } })),
        { name: 'web_fetch', args: { url: `http://${ALLOWED}:PORT/small` } },
      ],
      url: `http://${ALLOWED}:PORT/small`,
    },
    expect: { status: 'terminated', reason: 'api_calls_exceeded' },
    check: (o) => {
      assert.equal(
        o.status === 'terminated' && /refused \(api_calls_exceeded, HTTP 429\)/.test(o.detail),
        true,
      );
      assert.equal(o.usage.apiCalls, 5);
      assert.equal(o.usage.toolCalls, 5);
      assert.equal(o.usage.egressRequests, 1, 'the web_fetch request went through; the direct one did not');
    },
  },
  {
    name: 'one web_fetch spends exactly one unit of max_api_calls (the call, not its request again)',
    agent: 'mixed',
    task: {
      calls: [
        ...Array.from({ length: 3 }, () => ({ name: 'sanitized_parse', args: { text: '1' } })),
        { name: 'web_fetch', args: { url: `http://${ALLOWED}:PORT/small` } },
      ],
      url: `http://${ALLOWED}:PORT/small`,
    },
    expect: { status: 'completed' },
    check: (o) => {
      assert.equal(o.usage.apiCalls, 5, 'four tool calls + one direct request');
      assert.equal(o.usage.egressRequests, 2);
      assert.deepEqual(o.status === 'completed' && o.output, {
        tools: ['ok', 'ok', 'ok', 'ok'],
        status: 200,
      });
    },
  },
  {
    name: 'the paid call that would exceed max_cost_usd → cost_exceeded',
    agent: 'loop',
    task: { times: 4, name: 'paid', args: {} },
    expect: { status: 'terminated', reason: 'cost_exceeded' },
    check: (o) => {
      assert.ok(Math.abs(o.usage.costUsd - 0.2) < 1e-9, `cost ${o.usage.costUsd}`);
    },
  },
  {
    name: 'egress over max_egress_bytes → egress_bytes_exceeded',
    agent: 'fetcher',
    task: { url: `http://${ALLOWED}:PORT/big?bytes=${1024 * 1024}` },
    expect: { status: 'terminated', reason: 'egress_bytes_exceeded' },
  },
  {
    name: 'garbage on the IPC stream → protocol_violation',
    agent: 'garbage',
    task: null,
    expect: { status: 'terminated', reason: 'protocol_violation' },
  },
  {
    name: 'an oversized output → protocol_violation',
    agent: 'oversize',
    task: null,
    expect: { status: 'terminated', reason: 'protocol_violation' },
  },
  { name: 'a throwing subagent → failed', agent: 'crash', task: null, expect: { status: 'failed' } },
  {
    name: 'process.exit without a result → failed',
    agent: 'exiter',
    task: null,
    expect: { status: 'failed' },
  },
  {
    name: 'an allowed nested spawn returns the child outcome',
    agent: 'nester',
    task: { agent: 'echo', task: { deep: true } },
    expect: { status: 'completed' },
    check: (o) => {
      const nested = (o as { output: { nested: Outcome } }).output.nested;
      assert.equal(nested.status, 'completed');
      assert.equal(nested.parent, 'nester');
    },
  },
  {
    name: 'a nested spawn outside the caller’s allowAgents → spawn_denied',
    agent: 'lonely',
    task: { agent: 'echo', task: {} },
    expect: { status: 'terminated', reason: 'spawn_denied' },
  },
  {
    name: 'the child environment holds none of the parent’s variables',
    agent: 'env',
    task: null,
    expect: { status: 'completed' },
    check: (o) => {
      const out = (o as { output: { keys: string[] } }).output;
      assert.ok(!out.keys.includes('SG_TEST_CANARY'), `child env keys: ${out.keys.join(',')}`);
    },
  },
  {
    name: 'ctx.log lands in the audit log as subagent.log',
    agent: 'logger',
    task: null,
    expect: { status: 'completed' },
    check: (o, audit) => {
      const logs = audit.events('subagent.log').filter((e) => e['subagentId'] === o.id);
      assert.equal(logs.length, 1);
      assert.equal(logs[0]?.['text'], 'hello from the child');
    },
  },
];

function patch(task: unknown): unknown {
  return JSON.parse(
    JSON.stringify(task).replaceAll('TRAPPORT', String(trap.port)).replaceAll('PORT', String(api.port)),
  ) as unknown;
}

function assertOutcome(o: Outcome, expect: Expect): void {
  const got =
    o.status === 'terminated'
      ? `${o.reason}: ${o.detail}`
      : o.status === 'failed'
        ? `${o.error.code}: ${o.error.message}`
        : 'completed';
  assert.equal(o.status, expect.status, `got ${o.status} (${got})`);
  if (expect.status === 'terminated' && o.status === 'terminated') assert.equal(o.reason, expect.reason, got);
}

/**
 * Checks that nothing of this orchestrator's subagents is left. Temp dirs are matched by subagent
 * id (the launcher names them `sg-<id>-…`), because other test files share the temp dir.
 */
async function assertNothingLeft(orchestrator: Orchestrator, audit: CollectedAudit): Promise<void> {
  assert.deepEqual(orchestrator.active(), []);
  assert.ok(
    await eventually(() => liveChildren({ exceptParked: true }).length === 0),
    `live child processes: ${liveChildren({ exceptParked: true }).join(',')}`,
  );
  const ids = audit.events('subagent.spawn').map((e) => String(e['subagentId']));
  const prefixes = ids.map((id) => `sg-${id.slice(0, 24)}-`);
  const leaked = tempEntries().filter((e) => prefixes.some((p) => e.startsWith(p)));
  assert.deepEqual(leaked, [], 'scratch and socket dirs are removed');
  const port = orchestrator.gateway.address.port;
  assert.ok(await eventually(() => establishedOnPort(port) === 0), 'no connection to the gateway stays open');
}

for (const level of LEVELS) {
  void describe(`orchestrator at isolation level '${level}'`, { skip: levelSkip(level) }, () => {
    let orchestrator: Orchestrator | undefined;
    let audit: CollectedAudit;
    let queries: string[] = [];

    before(async () => {
      process.env['SG_TEST_CANARY'] = 'parent-secret';
      audit = collectAudit();
      const r = testResolver({ [ALLOWED]: ALLOWED_IP, 'metadata.internal.test': '169.254.169.254' });
      queries = r.queries;
      orchestrator = await createOrchestrator({
        config: config(),
        logger: audit.logger,
        resolver: r.resolver,
        tools: { paid },
        isolation: level,
      });
      assert.equal(orchestrator.isolation, level, 'an exact isolation request gets exactly that level');
    });

    after(async () => {
      delete process.env['SG_TEST_CANARY'];
      if (orchestrator === undefined) return;
      await orchestrator.close();
      await assertNothingLeft(orchestrator, audit);
      assert.ok(!queries.includes('exfil.attacker.test'), 'denied names are never resolved');
    });

    for (const c of CASES) {
      void test(c.name, { timeout: 20_000 }, async (t) => {
        assert.ok(orchestrator !== undefined, 'before() created the orchestrator');
        if (c.namespacedOnly === true && level === 'process') {
          t.skip('runs only where a network namespace guarantees no route off the machine');
          return;
        }
        const o = await orchestrator.run({ parent: 'main', agent: c.agent, task: patch(c.task) });
        assertOutcome(o, c.expect);
        c.check?.(o, audit);
        const exits = audit.events('subagent.exit').filter((e) => e['subagentId'] === o.id);
        assert.equal(exits.length, 1, 'exactly one exit event');
        assert.equal(
          audit.events('subagent.spawn').filter((e) => e['subagentId'] === o.id)[0]?.['isolation'],
          level,
        );
        await assertNothingLeft(orchestrator, audit);
      });
    }

    void test(
      'terminate() cancels a running subagent and close() shuts down the rest',
      { timeout: 20_000 },
      async () => {
        assert.ok(orchestrator !== undefined, 'before() created the orchestrator');
        const a = orchestrator.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 30_000 } });
        const b = orchestrator.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 30_000 } });
        const controller = new AbortController();
        const c = orchestrator.spawn({
          parent: 'main',
          agent: 'sleeper',
          task: { ms: 30_000 },
          signal: controller.signal,
        });
        assert.equal(orchestrator.active().length, 3);
        await new Promise((r) => setTimeout(r, 300));
        const oa = await a.terminate('enough');
        assertOutcome(oa, { status: 'terminated', reason: 'cancelled' });
        controller.abort();
        assertOutcome(await c.result, { status: 'terminated', reason: 'cancelled' });
        assert.equal(orchestrator.active().length, 1);
        assert.ok(b.id !== a.id);
      },
    );
  });
}

void describe('spawn quotas through the orchestrator', () => {
  void test('100 simultaneous spawn() calls never exceed maxChildren', { timeout: 30_000 }, async () => {
    const audit = collectAudit();
    const cfg = makeConfig(
      {
        main: {
          role: 'parent',
          subagents: { allowAgents: ['echo'], maxConcurrent: 2, maxChildren: 5, maxSpawnsPerMinute: 1000 },
        },
        echo: { entry: join(agentsDir, 'echo.mjs') },
      },
      { baseDir: agentsDir },
    );
    const orchestrator = await createOrchestrator({
      config: cfg,
      logger: audit.logger,
      isolation: 'process',
    });
    try {
      const attempts = await Promise.all(
        Array.from({ length: 100 }, () =>
          Promise.resolve().then(() => {
            try {
              return orchestrator.spawn({ parent: 'main', agent: 'echo', task: {} });
            } catch (err) {
              return err;
            }
          }),
        ),
      );
      const handles = attempts.filter((a) => !(a instanceof Error));
      const denied = attempts.filter((a) => a instanceof SpawnDeniedError);
      assert.equal(handles.length, 5);
      assert.equal(denied.length, 95);
      assert.ok(denied.every((d) => d instanceof SpawnDeniedError && d.reason === 'children_exceeded'));
      assert.ok(orchestrator.active().filter((i) => i.state === 'running').length <= 2);
      assert.equal(audit.events('subagent.spawn_denied').length, 95);
      const outcomes = await Promise.all(handles.map((h) => (h as { result: Promise<Outcome> }).result));
      assert.ok(outcomes.every((o) => o.status === 'completed'));
    } finally {
      await orchestrator.close();
    }
    await assertNothingLeft(orchestrator, audit);
  });

  void test('spawn() after close() is refused with SG_ORCHESTRATOR_CLOSED', async () => {
    const cfg = makeConfig({
      main: { role: 'parent', subagents: { allowAgents: '*' } },
      echo: { entry: join(agentsDir, 'echo.mjs') },
    });
    const orchestrator = await createOrchestrator({
      config: cfg,
      logger: collectAudit().logger,
      isolation: 'process',
    });
    await orchestrator.close();
    assert.throws(() => orchestrator.spawn({ parent: 'main', agent: 'echo', task: {} }), {
      code: 'SG_ORCHESTRATOR_CLOSED',
    });
  });
});

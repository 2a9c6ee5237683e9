/**
 * Spawner faults: a child crashing at every point of its life, close() racing a spawn, terminate()
 * twice, an already-aborted signal. Each must end in exactly one coded outcome with exactly one
 * exit event, and leave nothing behind (process, temp dir, credential).
 *
 * Crashes before the runtime could run (before 'ready', between 'ready' and 'start', right after a
 * hand-written result) need a raw program in the sandbox instead of the runtime; those drive one
 * SubagentRun directly with the local launcher's test-only `command` override.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { nanoid } from 'nanoid';
import { createEgressGateway } from '../../src/gateway/index.js';
import type { EgressGateway } from '../../src/gateway/types.js';
import { EgressPolicy } from '../../src/policy/egress.js';
import { ToolAcl } from '../../src/policy/tools.js';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { SpawnQuotas } from '../../src/spawner/quotas.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import { createLocalLauncher } from '../../src/sandbox/local-launcher.js';
import { SubagentRun } from '../../src/spawner/subagent.js';
import type { IsolationLevel, Orchestrator, Outcome, ToolDefinition } from '../../src/spawner/types.js';
import { ToolBroker } from '../../src/tools/broker.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeAgent, makeConfig } from '../helpers/spawner-config.js';
import { eventually, liveChildren, processesMatching, tempEntries } from '../helpers/spawner-harness.js';
import { ESCAPE_DIR, assertOutcome } from './escape-harness.js';

const LIFECYCLE = join(ESCAPE_DIR, 'lifecycle');
let level: IsolationLevel = 'process';

before(async () => {
  level = (await detectIsolation()).best;
});

/**
 * Nothing of these subagents is left: processes, private dirs, credentials. `openParks`: how many
 * orchestrators are still open, each of which may keep one parked launcher (anything more leaked).
 */
async function assertClean(audit: CollectedAudit, ids: readonly string[], openParks = 0): Promise<void> {
  const parked = (): number => liveChildren().length - liveChildren({ exceptParked: true }).length;
  assert.ok(
    await eventually(() => liveChildren({ exceptParked: true }).length === 0 && parked() <= openParks, 5000),
    `live: ${liveChildren().join(',')}`,
  );
  const prefixes = ids.map((id) => `sg-${id.slice(0, 24)}-`);
  assert.deepEqual(
    tempEntries().filter((e) => prefixes.some((p) => e.startsWith(p))),
    [],
  );
  const revoked = new Set(audit.events('gateway.revoke').map((e) => String(e['subagentId'])));
  for (const e of audit.events('gateway.register')) {
    assert.ok(revoked.has(String(e['subagentId'])), 'every credential is revoked');
  }
  for (const id of ids) {
    assert.equal(
      audit.events('subagent.exit').filter((e) => e['subagentId'] === id).length,
      1,
      `exactly one exit event for ${id}`,
    );
  }
}

void describe('a child crashing outside the runtime (raw programs in the sandbox)', () => {
  let gateway: EgressGateway;
  let audit: CollectedAudit;
  const ids: string[] = [];

  before(async () => {
    audit = collectAudit();
    gateway = await createEgressGateway({ logger: audit.logger });
  });
  after(async () => {
    await gateway.close();
    await assertClean(audit, ids);
  });

  /** One SubagentRun whose sandbox runs `command` instead of node + the runtime. */
  async function runRaw(command: (node: string) => string[]): Promise<Outcome> {
    const spec = { entry: join(LIFECYCLE, 'sleeper.mjs') };
    const config = makeConfig({ main: { role: 'parent', subagents: { allowAgents: '*' } }, raw: spec });
    const agent = makeAgent('raw', spec);
    const quotas = new SpawnQuotas(config);
    const reservation = quotas.reserve(quotas.root('main'), 'raw');
    const id = nanoid();
    ids.push(id);
    const launcher = await createLocalLauncher({
      config,
      isolation: level,
      command: command(process.execPath),
    });
    const run = new SubagentRun(
      { id, agent, parent: 'main', parentId: undefined, task: null, entry: agent.entry ?? '', reservation },
      {
        gateway,
        broker: new ToolBroker({ logger: audit.logger }),
        logger: audit.logger,
        launcher,
        acl: new ToolAcl(agent.tools),
        egressPolicy: new EgressPolicy(agent.network, { gatewayAddresses: [gateway.address.host] }),
        upstream: undefined,
        spawnNested: () => {
          throw new Error('no nested spawns here');
        },
        onFinished: () => undefined,
      },
    );
    await run.execute();
    await launcher.close();
    return run.result;
  }

  void test("dies before 'ready' → failed SG_SUBAGENT_FAILED", { timeout: 15_000 }, async () => {
    const o = await runRaw((node) => [node, join(LIFECYCLE, 'exit-before-ready.mjs')]);
    assertOutcome(o, { status: 'failed', code: 'SG_SUBAGENT_FAILED' });
    assert.match((o as { error: { message: string } }).error.message, /code 3/);
  });

  void test("dies after 'ready', before acting on 'start' → failed", { timeout: 15_000 }, async () => {
    const o = await runRaw((node) => [node, join(LIFECYCLE, 'exit-after-ready.mjs')]);
    assertOutcome(o, { status: 'failed', code: 'SG_SUBAGENT_FAILED' });
  });

  void test(
    'is SIGKILLed right after sending a valid result → the result counts',
    { timeout: 15_000 },
    async () => {
      const o = await runRaw((node) => [node, join(LIFECYCLE, 'result-then-die.mjs')]);
      assertOutcome(o, { status: 'completed' });
      assert.deepEqual((o as { output: unknown }).output, { last: 'words' });
    },
  );

  void test(
    'leaves a setsid() grandchild behind at exit → it is killed in teardown',
    { timeout: 15_000 },
    async () => {
      const marker = `61.${process.pid}`;
      const o = await runRaw(() => ['/bin/sh', '-c', `setsid /bin/sleep ${marker} & sleep 0.3; exit 0`]);
      assertOutcome(o, { status: 'failed', code: 'SG_SUBAGENT_FAILED' });
      assert.ok(
        await eventually(() => processesMatching(`sleep\0${marker}`).length === 0, 5000),
        'the detached grandchild does not survive the sandbox',
      );
    },
  );
});

void describe('crashes inside the runtime, close() during spawn, terminate twice, early abort', () => {
  let orchestrator: Orchestrator;
  let audit: CollectedAudit;
  let slowAborted = 0;

  const slow: ToolDefinition = {
    description: 'a tool that never answers before its signal aborts',
    inputSchema: { type: 'object' },
    handler: (_args, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          slowAborted += 1;
          reject(new Error('aborted'));
        });
      }),
  };

  function makeOrchestrator(log: CollectedAudit, maxConcurrent = 4): Promise<Orchestrator> {
    const entry = (name: string): { entry: string } => ({ entry: join(LIFECYCLE, name) });
    const common = {
      tools: { allowed: ['slow'] },
      constraints: { maxMemoryMb: 192, maxApiCalls: 10, timeoutSeconds: 15 },
    };
    return createOrchestrator({
      config: makeConfig(
        {
          main: {
            role: 'parent',
            subagents: { allowAgents: '*', maxConcurrent, maxChildren: 64, maxSpawnsPerMinute: 10_000 },
          },
          sleeper: { ...entry('sleeper.mjs'), ...common },
          crasher: { ...entry('crash-on-import.mjs'), ...common },
          thrower: { ...entry('throw-on-import.mjs'), ...common },
          midtool: { ...entry('die-mid-tool.mjs'), ...common },
          racer: {
            ...entry('exit-at.mjs'),
            ...common,
            constraints: { ...common.constraints, timeoutSeconds: 0.6 },
          },
        },
        { baseDir: LIFECYCLE },
      ),
      logger: log.logger,
      tools: { slow },
      isolation: level,
    });
  }

  before(async () => {
    audit = collectAudit();
    orchestrator = await makeOrchestrator(audit);
  });
  after(async () => {
    await orchestrator.close();
    const ids = audit.events('subagent.spawn').map((e) => String(e['subagentId']));
    await assertClean(audit, ids);
  });

  void test('exits while its entry is imported (during start) → failed with the exit code', async () => {
    const o = await orchestrator.run({ parent: 'main', agent: 'crasher', task: null });
    assertOutcome(o, { status: 'failed', code: 'SG_SUBAGENT_FAILED' });
    assert.match((o as { error: { message: string } }).error.message, /code 5/);
  });

  void test('throws while its entry is imported → failed with the error', async () => {
    const o = await orchestrator.run({ parent: 'main', agent: 'thrower', task: null });
    assertOutcome(o, { status: 'failed', code: 'SG_SUBAGENT_FAILED' });
    assert.match((o as { error: { message: string } }).error.message, /broken module/);
  });

  void test('dies mid tool call → failed, and the tool handler is aborted', async () => {
    const before = slowAborted;
    const o = await orchestrator.run({ parent: 'main', agent: 'midtool', task: { ms: 150 } });
    assertOutcome(o, { status: 'failed', code: 'SG_SUBAGENT_FAILED' });
    assert.equal(o.usage.toolCalls, 1);
    assert.ok(
      await eventually(() => slowAborted === before + 1),
      'the in-flight handler sees its signal abort',
    );
  });

  void test(
    'its own exit racing the parent timer → exactly one outcome, each time',
    { timeout: 30_000 },
    async () => {
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          orchestrator.run({ parent: 'main', agent: 'racer', task: { ms: 450 + i * 25 } }),
        ),
      );
      for (const o of outcomes) {
        assert.ok(
          o.status === 'failed' || (o.status === 'terminated' && o.reason === 'timeout'),
          JSON.stringify(o),
        );
      }
    },
  );

  void test('terminate() twice → the same cancelled outcome, one exit event', async () => {
    const h = orchestrator.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 20_000 } });
    await new Promise((r) => setTimeout(r, 200));
    const [a, b] = await Promise.all([h.terminate('first'), h.terminate('second')]);
    assert.equal(a, b, 'both calls resolve the very same outcome');
    assertOutcome(a, { status: 'terminated', reason: 'cancelled' });
    assert.equal((a as { detail: string }).detail, 'first');
    const c = await h.terminate('third, after the end');
    assert.equal(c, a);
  });

  function spawnAborted(): { id: string; result: Promise<Outcome> } {
    const controller = new AbortController();
    controller.abort();
    return orchestrator.spawn({
      parent: 'main',
      agent: 'sleeper',
      task: { ms: 20_000 },
      signal: controller.signal,
    });
  }

  void test('an already-aborted signal → cancelled, no sandbox launched', async () => {
    const h = spawnAborted();
    const o = await h.result;
    assertOutcome(o, { status: 'terminated', reason: 'cancelled' });
    assert.equal(o.usage.peakRssMb, 0, 'no process ever ran');
  });

  void test('an already-aborted signal → no credential is minted (regression: p-queue started the run before the abort was seen)', async () => {
    const h = spawnAborted();
    await h.result;
    assert.equal(audit.events('gateway.register').filter((e) => e['subagentId'] === h.id).length, 0);
  });

  void test(
    'close() while spawns are queued, launching and running → all end in shutdown',
    { timeout: 30_000 },
    async () => {
      const own = collectAudit();
      const orch = await makeOrchestrator(own, 1);
      const running = orch.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 20_000 } });
      const queued = [1, 2, 3].map(() =>
        orch.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 20_000 } }),
      );
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(
        orch.active().map((i) => i.state),
        ['running', 'queued', 'queued', 'queued'],
      );
      await orch.close();
      for (const h of [running, ...queued])
        assertOutcome(await h.result, { status: 'terminated', reason: 'shutdown' });
      for (const h of queued) {
        assert.equal(
          own.events('gateway.register').filter((e) => e['subagentId'] === h.id).length,
          0,
          'never launched',
        );
      }
      // The describe's own orchestrator is still open (its parked launcher may be there).
      await assertClean(
        own,
        own.events('subagent.spawn').map((e) => String(e['subagentId'])),
        1,
      );
    },
  );

  for (const delayMs of [0, 5, 20, 60, 120]) {
    void test(
      `close() ${delayMs} ms into a spawn (before or mid launch) → shutdown, nothing left`,
      { timeout: 30_000 },
      async () => {
        const own = collectAudit();
        const orch = await makeOrchestrator(own);
        const h = orch.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 20_000 } });
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        await orch.close();
        assertOutcome(await h.result, { status: 'terminated', reason: 'shutdown' });
        await assertClean(own, [h.id], 1);
      },
    );
  }
});

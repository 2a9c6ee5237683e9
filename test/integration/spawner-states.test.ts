/**
 * The spawner's state machine through the launcher seam: an orchestrator whose launcher is the
 * in-repo inline launcher (real child processes, real runtime, real IPC and gateway; no sandbox),
 * driven through every way a run can end — completion, crash, violation, timeout, termination
 * while queued, during prepare() and during launch(), a failed prepare or launch, the host
 * process exiting, and close() with live runs. Each ends in exactly one coded outcome with one
 * exit record, its credential revoked, its child gone and what the launcher prepared removed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { SpawnerError } from '../../src/errors.js';
import { openOrchestrator } from '../../src/spawner/orchestrator.js';
import type { Orchestrator, Outcome, ToolDefinition } from '../../src/spawner/types.js';
import {
  createInlineLauncher,
  type InlineLauncher,
  type InlineLauncherHooks,
} from '../helpers/inline-launcher.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import { eventually, removeDir, writeAgents } from '../helpers/spawner-harness.js';

let agentsDir = '';

before(() => {
  agentsDir = writeAgents();
});
after(() => {
  removeDir(agentsDir);
});

const allowedTool: ToolDefinition = {
  description: 'answers 42',
  inputSchema: { type: 'object' },
  handler: () => Promise.resolve(42),
};
const forbiddenTool: ToolDefinition = {
  description: 'defined, but in no agent allowlist',
  inputSchema: { type: 'object' },
  handler: () => Promise.resolve('must not run'),
};

interface Env {
  readonly orchestrator: Orchestrator;
  readonly launcher: InlineLauncher;
  readonly audit: CollectedAudit;
}

let open: Env[] = [];

afterEach(async () => {
  for (const env of open) await env.orchestrator.close();
  open = [];
});

async function start(hooks: InlineLauncherHooks = {}, maxConcurrent = 4): Promise<Env> {
  const worker = (entry: string, timeoutSeconds = 20): AgentSpec => ({
    entry: join(agentsDir, entry),
    tools: { allowed: ['allowed'] },
    constraints: { maxMemoryMb: 256, maxApiCalls: 10, timeoutSeconds },
  });
  const config = makeConfig({
    main: {
      role: 'parent',
      subagents: { allowAgents: '*', maxConcurrent, maxChildren: 8, maxSpawnsPerMinute: 1000 },
    },
    echo: worker('echo.mjs'),
    tools: worker('tools.mjs'),
    sleeper: worker('sleeper.mjs'),
    stubborn: worker('sleeper.mjs', 1),
    exit: worker('exit.mjs'),
  });
  const audit = collectAudit();
  const launcher = createInlineLauncher(hooks);
  const orchestrator = await openOrchestrator(
    { config, logger: audit.logger, tools: { allowed: allowedTool, forbidden: forbiddenTool } },
    () => Promise.resolve(launcher),
  );
  const env = { orchestrator, launcher, audit };
  open.push(env);
  return env;
}

/** Everything of subagent `id` is gone, and it ended exactly once. */
function assertGone(env: Env, id: string): void {
  assert.equal(
    env.audit.events('subagent.exit').filter((e) => e['subagentId'] === id).length,
    1,
    'exactly one exit record',
  );
  const registered = env.audit.events('gateway.register').some((e) => e['subagentId'] === id);
  const revoked = env.audit.events('gateway.revoke').some((e) => e['subagentId'] === id);
  assert.equal(revoked, registered, 'a minted credential is revoked');
  const pid = env.launcher.pids.get(id);
  if (pid !== undefined) assert.ok(!env.launcher.alive().includes(pid), `child ${pid} is gone`);
  const dir = env.launcher.dirs.get(id);
  if (dir !== undefined) assert.ok(!existsSync(dir), `${dir} is removed`);
  assert.ok(
    env.orchestrator.active().every((a) => a.id !== id),
    'no longer active',
  );
}

function calls(env: Env, id: string): string[] {
  return env.launcher.calls.filter((c) => c.endsWith(` ${id}`)).map((c) => c.split(' ')[0] ?? '');
}

/** A promise the test releases by hand, and one that settles when a hook reaches it. */
function gate(): { reached: Promise<void>; wait: () => Promise<void>; release: () => void } {
  let release = (): void => undefined;
  let reach = (): void => undefined;
  const reached = new Promise<void>((r) => {
    reach = r;
  });
  const held = new Promise<void>((r) => {
    release = r;
  });
  return {
    reached,
    wait: () => {
      reach();
      return held;
    },
    release,
  };
}

function assertTerminated(o: Outcome, reason: string): void {
  assert.equal(o.status, 'terminated', JSON.stringify(o));
  assert.equal(o.reason, reason);
}

void describe('a run through the launcher seam', { timeout: 60_000 }, () => {
  void test('completes: prepare → launch → dispose, output returned', async () => {
    const env = await start();
    const h = env.orchestrator.spawn({ parent: 'main', agent: 'echo', task: { n: 1 } });
    const o = await h.result;
    assert.equal(o.status, 'completed', JSON.stringify(o));
    assert.deepEqual(o.output, { echo: { n: 1 }, id: h.id, agent: 'echo' });
    assert.deepEqual(calls(env, h.id), ['prepare', 'launch', 'dispose']);
    assert.equal(env.orchestrator.isolation, 'process');
    assertGone(env, h.id);
  });

  void test('a crash without a result fails SG_SUBAGENT_FAILED with the exit code', async () => {
    const env = await start();
    const h = env.orchestrator.spawn({ parent: 'main', agent: 'exit', task: null });
    const o = await h.result;
    assert.equal(o.status, 'failed');
    assert.equal(o.error.code, 'SG_SUBAGENT_FAILED');
    assert.match(o.error.message, /code 7/);
    assertGone(env, h.id);
  });

  void test('a violation (tool outside the allowlist) kills the child: terminated tool_denied', async () => {
    const env = await start();
    const h = env.orchestrator.spawn({
      parent: 'main',
      agent: 'tools',
      task: {
        calls: [
          { name: 'allowed', args: {} },
          { name: 'forbidden', args: {} },
        ],
      },
    });
    const o = await h.result;
    assertTerminated(o, 'tool_denied');
    assert.equal(env.audit.events('subagent.violation').length, 1);
    assert.equal(o.usage.toolCalls, 2);
    assertGone(env, h.id);
  });

  void test('the wall clock ends a stubborn run: terminated timeout', async () => {
    const env = await start();
    const h = env.orchestrator.spawn({ parent: 'main', agent: 'stubborn', task: { ms: 20_000 } });
    const o = await h.result;
    assertTerminated(o, 'timeout');
    assert.ok(o.usage.wallMs >= 900 && o.usage.wallMs < 5000, `wallMs ${o.usage.wallMs}`);
    assertGone(env, h.id);
  });

  void test('terminated while queued: never prepared, cancelled', async () => {
    const env = await start({}, 1);
    const first = env.orchestrator.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 20_000 } });
    const queued = env.orchestrator.spawn({ parent: 'main', agent: 'echo', task: 1 });
    assert.deepEqual(
      env.orchestrator.active().map((a) => [a.id, a.state]),
      [
        [first.id, 'running'],
        [queued.id, 'queued'],
      ],
    );
    assertTerminated(await queued.terminate('no longer needed'), 'cancelled');
    assert.deepEqual(calls(env, queued.id), []);
    assertGone(env, queued.id);
    assertTerminated(await first.terminate(), 'cancelled');
    assertGone(env, first.id);
  });

  void test('terminated during prepare(): launch() never runs, what was prepared is discarded', async () => {
    const g = gate();
    const env = await start({ beforePrepare: () => g.wait() });
    const h = env.orchestrator.spawn({ parent: 'main', agent: 'echo', task: 1 });
    await g.reached;
    // Decided while starting: the outcome waits until startup has settled.
    void h.terminate('changed my mind');
    assert.equal(env.orchestrator.active().length, 0, 'an ending run is not active');
    g.release();
    assertTerminated(await h.result, 'cancelled');
    assert.deepEqual(calls(env, h.id), ['prepare', 'discard']);
    assertGone(env, h.id);
  });

  void test('terminated during launch(): the child it started is killed once startup settles', async () => {
    const g = gate();
    const env = await start({ afterSpawn: () => g.wait() });
    const h = env.orchestrator.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 20_000 } });
    await g.reached;
    const pid = env.launcher.pids.get(h.id);
    assert.ok(pid !== undefined && env.launcher.alive().includes(pid), 'the child runs');
    void h.terminate();
    g.release();
    assertTerminated(await h.result, 'cancelled');
    assert.deepEqual(calls(env, h.id), ['prepare', 'launch', 'dispose']);
    assertGone(env, h.id);
  });

  void test('a launch failure is a failed outcome with the launcher’s code; nothing is left', async () => {
    const env = await start({
      launchError: (req) => new SpawnerError('SG_SANDBOX_LAUNCH', `no room for ${req.id}`),
    });
    const h = env.orchestrator.spawn({ parent: 'main', agent: 'echo', task: 1 });
    const o = await h.result;
    assert.equal(o.status, 'failed');
    assert.equal(o.error.code, 'SG_SANDBOX_LAUNCH');
    assert.match(o.error.message, /could not start the subagent: no room for/);
    assert.deepEqual(calls(env, h.id), ['prepare', 'launch', 'discard']);
    assertGone(env, h.id);
  });

  void test('a prepare failure is a failed outcome; an uncoded error becomes SG_SUBAGENT_FAILED', async () => {
    const env = await start({ prepareError: () => new Error('disk on fire') });
    const h = env.orchestrator.spawn({ parent: 'main', agent: 'echo', task: 1 });
    const o = await h.result;
    assert.equal(o.status, 'failed');
    assert.equal(o.error.code, 'SG_SUBAGENT_FAILED');
    assert.deepEqual(calls(env, h.id), ['prepare']);
    assertGone(env, h.id);
  });

  void test('killAll() (host process exiting) ends every live child; each run still ends once', async () => {
    const env = await start();
    const hs = [0, 1].map(() =>
      env.orchestrator.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 20_000 } }),
    );
    assert.ok(await eventually(() => env.launcher.alive().length === 2, 10_000), 'both children run');
    env.launcher.killAll();
    for (const h of hs) {
      const o = await h.result;
      assert.equal(o.status, 'failed', JSON.stringify(o));
      assertGone(env, h.id);
    }
  });

  void test('close() with live runs: every run ends shutdown, then the launcher is closed', async () => {
    const env = await start({}, 1);
    const running = env.orchestrator.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 20_000 } });
    const queued = env.orchestrator.spawn({ parent: 'main', agent: 'sleeper', task: { ms: 20_000 } });
    assert.ok(await eventually(() => env.launcher.alive().length === 1, 10_000), 'the first child runs');
    await env.orchestrator.close();
    assertTerminated(await running.result, 'shutdown');
    assertTerminated(await queued.result, 'shutdown');
    assert.equal(env.launcher.calls.at(-1), 'close', 'the launcher closes after every run ended');
    assertGone(env, running.id);
    assertGone(env, queued.id);
    assert.deepEqual(env.launcher.alive(), []);
  });
});

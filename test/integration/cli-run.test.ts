/**
 * `subagent-guard run` in-process (the CLI's `main` with a fake CliIo) against real subagents from
 * test/fixtures/agents: exit codes, printed outcome, JSON mode, the config's audit log, Ctrl-C,
 * and that nothing (process, scratch dir, gateway) outlives the command.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import { fixturesDir } from '../helpers/paths.js';
import { eventually, liveChildren, tempEntries } from '../helpers/spawner-harness.js';

const agentsDir = join(fixturesDir, 'agents');

interface FakeIo extends CliIo {
  out(): string;
  err(): string;
  stop(): void;
}

function fakeIo(cwd: string): FakeIo {
  const out: string[] = [];
  const err: string[] = [];
  let stop: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => {
    stop = resolve;
  });
  return {
    stdout: { write: (c: string) => out.push(c) },
    stderr: { write: (c: string) => err.push(c) },
    env: {},
    cwd,
    stopSignal,
    out: () => out.join(''),
    err: () => err.join(''),
    stop: () => {
      stop();
    },
  };
}

let dir = '';
let configPath = '';
let auditPath = '';
let isolation = 'process';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgtest-cli-run-'));
  configPath = join(dir, 'openclaw.json');
  auditPath = join(dir, 'audit', 'run.log');
  const worker = (entry: string) => ({
    entry: join(agentsDir, entry),
    tools_allowed: ['sanitized_parse'],
    tools_denied: ['exec'],
    constraints: { max_memory_mb: 160, max_api_calls: 5, timeout_seconds: 10 },
  });
  writeFileSync(
    configPath,
    JSON.stringify({
      audit: { path: './audit/run.log' },
      agents: {
        main: {
          role: 'parent',
          subagents: { allowAgents: ['echo', 'thrower', 'writer', 'slow'], maxChildren: 2 },
        },
        echo: worker('echo.mjs'),
        thrower: worker('throw.mjs'),
        writer: worker('write-file.mjs'),
        slow: worker('slow.mjs'),
        outsider: worker('echo.mjs'),
      },
    }),
  );
  // The strongest level the machine has; a namespace also guarantees nothing leaves the machine.
  isolation = (await detectIsolation()).best;
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function cli(
  argv: string[],
  io: FakeIo = fakeIo(dir),
): Promise<{ code: number; out: string; err: string }> {
  const code = await main(['run', ...argv], io);
  return { code, out: io.out(), err: io.err() };
}

/** No sandbox process, no scratch dir of this command is left once it returned. */
async function assertNothingLeft(ids: readonly string[]): Promise<void> {
  assert.ok(
    await eventually(() => liveChildren().length === 0),
    `live child processes: ${liveChildren().join(',')}`,
  );
  const prefixes = ids.map((id) => `sg-${id.slice(0, 24)}-`);
  assert.deepEqual(
    tempEntries().filter((e) => prefixes.some((p) => e.startsWith(p))),
    [],
    'scratch dirs are removed',
  );
}

function auditRecords(): Record<string, unknown>[] {
  return readFileSync(auditPath, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const base = (agent: string, task: string): string[] => [
  '--config',
  'openclaw.json',
  '--parent',
  'main',
  '--agent',
  agent,
  '--task',
  task,
  '--isolation',
  isolation,
];

void describe('subagent-guard run', () => {
  void test(
    'a completed subagent exits 0 and prints its outcome with usage',
    { timeout: 20_000 },
    async () => {
      const r = await cli(base('echo', '{"q":42}'));
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^status +completed$/m);
      assert.match(r.out, /^agent +echo$/m);
      assert.match(r.out, /^output +\{"task":\{"q":42\}/m);
      assert.match(r.out, /^wall +\d+ ms$/m);
      assert.match(r.out, /^egress +0 req/m);
      const id = /^id +(\S+)$/m.exec(r.out)?.[1];
      assert.ok(id !== undefined);
      // The config's audit settings are used, and close() flushed the log before run returned.
      const records = auditRecords().filter((e) => e['subagentId'] === id);
      assert.deepEqual(
        records
          .filter((e) => e['event'] === 'subagent.spawn' || e['event'] === 'subagent.exit')
          .map((e) => e['event']),
        ['subagent.spawn', 'subagent.exit'],
      );
      assert.ok(auditRecords().some((e) => e['event'] === 'orchestrator.close'));
      await assertNothingLeft([id]);
    },
  );

  void test('--json prints the outcome as one JSON document', { timeout: 20_000 }, async () => {
    const r = await cli([...base('echo', '[1,2]'), '--json']);
    assert.equal(r.code, 0, r.err);
    const outcome = JSON.parse(r.out) as Record<string, unknown>;
    assert.equal(outcome['status'], 'completed');
    assert.equal(outcome['agent'], 'echo');
    assert.equal(outcome['parent'], 'main');
    assert.deepEqual((outcome['output'] as { task: unknown }).task, [1, 2]);
    assert.equal(typeof (outcome['usage'] as { wallMs: unknown }).wallMs, 'number');
    await assertNothingLeft([String(outcome['id'])]);
  });

  void test('a terminated subagent exits 1 and prints the reason', { timeout: 20_000 }, async () => {
    const r = await cli([...base('writer', '{}'), '--json']);
    assert.equal(r.code, 1);
    const outcome = JSON.parse(r.out) as Record<string, unknown>;
    assert.equal(outcome['status'], 'terminated');
    assert.equal(outcome['reason'], 'sandbox_violation');
    await assertNothingLeft([String(outcome['id'])]);
  });

  void test('a failing subagent exits 1 and prints the error', { timeout: 20_000 }, async () => {
    const r = await cli(base('thrower', 'null'));
    assert.equal(r.code, 1);
    assert.match(r.out, /^status +failed$/m);
    assert.match(r.out, /^error +SG_SUBAGENT_FAILED: .*boom from the subagent/m);
  });

  void test('Ctrl-C (the stop signal) cancels the subagent, exit 1', { timeout: 20_000 }, async () => {
    const io = fakeIo(dir);
    setTimeout(() => {
      io.stop();
    }, 300).unref();
    const r = await cli([...base('slow', '{"ms":30000}'), '--json'], io);
    assert.equal(r.code, 1);
    const outcome = JSON.parse(r.out) as Record<string, unknown>;
    assert.equal(outcome['status'], 'terminated');
    assert.equal(outcome['reason'], 'cancelled');
    await assertNothingLeft([String(outcome['id'])]);
  });

  void test('--help prints every option, the output columns and the exit codes', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    for (const opt of [
      '--config',
      '--parent',
      '--agent',
      '--task',
      '--tools',
      '--entry',
      '--isolation',
      '--json',
    ])
      assert.ok(r.out.includes(`  ${opt}`), `${opt} is described`);
    assert.match(r.out, /@FILE/);
    assert.match(r.out, /Exit codes: 0 completed, 1 failed or terminated, 2/);
  });

  void test('--task @file.json reads the task from a file', { timeout: 20_000 }, async () => {
    writeFileSync(join(dir, 'task.json'), '{"from":"file"}');
    const r = await cli([...base('echo', '@task.json'), '--json']);
    assert.equal(r.code, 0, r.err);
    const outcome = JSON.parse(r.out) as { output: { task: unknown }; id: string };
    assert.deepEqual(outcome.output.task, { from: 'file' });
    await assertNothingLeft([outcome.id]);
  });

  void test(
    '--tools loads tool definitions from a module; without it the config is refused',
    { timeout: 20_000 },
    async () => {
      const cfg = join(dir, 'tools.json');
      writeFileSync(
        cfg,
        JSON.stringify({
          audit: { path: './audit/tools.log' },
          agents: {
            main: { role: 'parent', subagents: { allowAgents: ['echo'] } },
            echo: { entry: join(agentsDir, 'echo.mjs'), tools_allowed: ['lookup'] },
          },
        }),
      );
      writeFileSync(
        join(dir, 'tools.mjs'),
        "export default { lookup: { description: 'x', inputSchema: { type: 'object' }, handler: async () => 1 } };",
      );
      const argv = ['--config', 'tools.json', '--parent', 'main', '--agent', 'echo', '--task', '{}'];
      const without = await cli([...argv, '--json']);
      assert.equal(without.code, 2);
      assert.match(without.err, /SG_TOOL_UNDEFINED/);
      assert.equal((JSON.parse(without.out) as { error: { code: string } }).error.code, 'SG_TOOL_UNDEFINED');
      const r = await cli([...argv, '--tools', 'tools.mjs', '--json']);
      assert.equal(r.code, 0, r.err);
      await assertNothingLeft([(JSON.parse(r.out) as { id: string }).id]);
    },
  );

  void test('--json prints a JSON error on stdout when the run cannot start', async () => {
    const r = await cli([...base('echo', '{nope'), '--json']);
    assert.equal(r.code, 2);
    const doc = JSON.parse(r.out) as { status: string; error: { code: string; message: string } };
    assert.equal(doc.status, 'error');
    assert.equal(doc.error.code, 'SG_USAGE');
    assert.match(doc.error.message, /--task must be JSON/);
  });

  void test('an unknown agent name gets a did-you-mean', async () => {
    const r = await cli(base('ecko', '{}'));
    assert.equal(r.code, 2);
    assert.match(r.err, /--agent 'ecko' is not an agent of the config; did you mean 'echo'\?/);
    assert.equal(r.out, '');
  });

  const usageCases: { name: string; argv: () => string[]; message: RegExp; code: number }[] = [
    {
      name: 'a --task that is not JSON',
      argv: () => base('echo', '{nope'),
      message: /--task must be JSON/,
      code: 2,
    },
    {
      name: 'missing --agent and --task',
      argv: () => ['--config', 'openclaw.json', '--parent', 'main'],
      message: /missing --agent, --task/,
      code: 2,
    },
    {
      name: 'an unknown option',
      argv: () => [...base('echo', '{}'), '--frobnicate'],
      message: /Unknown option '--frobnicate'/,
      code: 2,
    },
    {
      name: 'an unknown --isolation level',
      argv: () => [...base('echo', '{}').slice(0, -2), '--isolation', 'vm'],
      message:
        /--isolation must be one of auto, auto\+gvisor, namespace, gvisor, bubblewrap, unshare, process/,
      code: 2,
    },
    {
      name: 'a config file that does not exist',
      argv: () => ['--config', 'missing.json', '--parent', 'main', '--agent', 'echo', '--task', '{}'],
      message: /SG_CONFIG_READ/,
      code: 2,
    },
    {
      name: 'an agent the parent may not spawn',
      argv: () => base('outsider', '{}'),
      message: /SG_SPAWN_DENIED/,
      code: 2,
    },
  ];
  for (const c of usageCases) {
    void test(`${c.name} exits ${c.code} with a clear message and prints no outcome`, async () => {
      const r = await cli(c.argv());
      assert.equal(r.code, c.code, r.err);
      assert.match(r.err, c.message);
      assert.equal(r.out, '');
      assert.equal(liveChildren().length, 0);
    });
  }
});

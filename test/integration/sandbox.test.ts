import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createSandboxDirs, detectIsolation, launch } from '../../src/sandbox/index.js';
import type { IsolationLevel, IsolationReport, Sandbox } from '../../src/sandbox/index.js';
import { createParentChannel } from '../../src/ipc/index.js';
import type { ChildMessage } from '../../src/ipc/index.js';
import { IpcProtocolError } from '../../src/errors.js';
import { isAlive, processTree } from '../../src/sandbox/proc.js';
import { eventually, waitUntil } from '../helpers/eventually.js';
import { levelSkip, probeGvisorLevel } from '../helpers/levels.js';
import { fixturesDir } from '../helpers/paths.js';

const agents = join(fixturesDir, 'agents');
const LEVELS: IsolationLevel[] = ['gvisor', 'bubblewrap', 'unshare', 'process'];
let report: IsolationReport;
await probeGvisorLevel();

/** A stand-in gateway on the sandbox's Unix socket (and loopback TCP): records the first request line, answers 403. */
async function fakeGateway(
  socketPath: string,
): Promise<{ lines: string[]; port: number; close(): Promise<void> }> {
  const lines: string[] = [];
  const handler = (c: net.Socket): void => {
    c.on('error', () => undefined);
    c.once('data', (d: Buffer) => {
      lines.push(d.toString('latin1'));
      c.end(
        'HTTP/1.1 403 Forbidden\r\nProxy-Status: test; error=destination_denied\r\ncontent-length: 0\r\n\r\n',
      );
    });
  };
  const unix = net.createServer(handler);
  const tcp = net.createServer(handler);
  await new Promise<void>((r) => unix.listen(socketPath, r));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const addr = tcp.address();
  assert.ok(addr !== null && typeof addr === 'object');
  return {
    lines,
    port: addr.port,
    close: () =>
      Promise.all([
        new Promise<void>((r) =>
          unix.close(() => {
            r();
          }),
        ),
        new Promise<void>((r) =>
          tcp.close(() => {
            r();
          }),
        ),
      ]).then(() => undefined),
  };
}

interface Run {
  readonly sandbox: Sandbox;
  readonly messages: ChildMessage[];
  readonly exit: { code: number | null; signal: string | null };
  readonly protocolError: Error | null;
  readonly gatewayLines: string[];
  readonly root: string;
  readonly output: string[];
  readonly treeWhileRunning: number[];
}

/** Launches a fixture, speaks the protocol (ready -> start, echoes tool calls), waits for exit, disposes. */
async function runAgent(
  level: IsolationLevel,
  agent: string,
  task: unknown,
  opts: {
    maxMemoryMb?: number;
    watchMemory?: boolean;
    killAfterMs?: number;
    command?: string[];
    onReady?: (sb: Sandbox) => void;
  } = {},
): Promise<Run> {
  const id = `it-${agent}-${Math.random().toString(36).slice(2, 8)}`;
  const dirs = createSandboxDirs(id);
  const gw = await fakeGateway(dirs.gatewaySocketPath);
  const output: string[] = [];
  const sandbox = await launch({
    id,
    level,
    entry: join(agents, `${agent}.mjs`),
    scratchDir: dirs.scratchDir,
    maxMemoryMb: opts.maxMemoryMb ?? 256,
    gateway: { host: '127.0.0.1', port: gw.port, unixSocketPath: dirs.gatewaySocketPath },
    ownedDir: dirs.root,
    maxOutputBytes: 4096,
    onOutput: (l) => output.push(l.text),
    ...(opts.command === undefined ? {} : { command: opts.command }),
  });
  const messages: ChildMessage[] = [];
  let protocolError: Error | null = null;
  let tree: number[] = [];
  const ch = createParentChannel(sandbox.channel);
  ch.on('error', (err) => {
    protocolError = err;
    sandbox.kill();
  });
  ch.on('message', (m) => {
    messages.push(m);
    if (m.type === 'ready') {
      tree = processTree(sandbox.pid);
      ch.send({
        type: 'start',
        id,
        agent,
        parent: 'tester',
        task,
        egress:
          sandbox.gatewaySocketPath === undefined
            ? { proxyUrl: `http://u:secret@127.0.0.1:${gw.port}` }
            : { proxyUrl: 'http://u:secret@localhost', socketPath: sandbox.gatewaySocketPath },
        limits: { maxOutputBytes: 64 * 1024 },
      });
      opts.onReady?.(sandbox);
    }
    if (m.type === 'tool_call')
      ch.send({ type: 'tool_result', callId: m.callId, ok: true, value: { echo: m.args } });
  });
  const stopWatch =
    opts.watchMemory === false
      ? () => undefined
      : sandbox.watchMemory((opts.maxMemoryMb ?? 256) * 1024 * 1024, () => {
          sandbox.kill();
        });
  const timer = setTimeout(() => {
    sandbox.kill();
  }, opts.killAfterMs ?? 15_000);
  const exit = await sandbox.exited;
  clearTimeout(timer);
  stopWatch();
  await sandbox.dispose();
  await gw.close();
  return {
    sandbox,
    messages,
    exit,
    protocolError,
    gatewayLines: gw.lines,
    root: dirs.root,
    output,
    treeWhileRunning: tree,
  };
}

function result(run: Run): Extract<ChildMessage, { type: 'result' }> {
  const r = run.messages.find((m): m is Extract<ChildMessage, { type: 'result' }> => m.type === 'result');
  assert.ok(r, `no result; messages: ${JSON.stringify(run.messages)}; stderr: ${run.sandbox.stderrTail()}`);
  return r;
}

function okOutput(run: Run): Record<string, unknown> {
  const r = result(run);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.ok(typeof r.output === 'object' && r.output !== null);
  return r.output as Record<string, unknown>;
}

function describePid(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return 'gone';
  }
}

/** Nothing of the sandbox is left: no process (the kernel may take a moment to reap), no directory. */
async function assertCleanedUp(run: Run): Promise<void> {
  const pids = [run.sandbox.pid, ...run.treeWhileRunning];
  await waitUntil(() => !pids.some((p) => isAlive(p)), 1000);
  for (const pid of pids) {
    assert.equal(isAlive(pid), false, `pid ${pid} survived (${run.sandbox.level}): ${describePid(pid)}`);
  }
  assert.equal(existsSync(run.root), false, `${run.root} survived`);
}

before(async () => {
  report = await detectIsolation({ gvisor: true });
});

void describe('detectIsolation', () => {
  void test('reports process as always available and best as the strongest level but gvisor', () => {
    assert.ok(report.available.includes('process'));
    assert.equal(report.best, report.available.filter((l) => l !== 'gvisor')[0]);
    for (const l of report.available) assert.ok(LEVELS.includes(l));
  });

  void test('refuses a level that is not available with SG_ISOLATION_UNAVAILABLE', async (t) => {
    const missing = LEVELS.find((l) => !report.available.includes(l));
    if (missing === undefined) {
      t.skip('every level is available on this machine');
      return;
    }
    const dirs = createSandboxDirs('unavail');
    await assert.rejects(
      launch({
        id: 'unavail',
        level: missing,
        entry: join(agents, 'echo.mjs'),
        scratchDir: dirs.scratchDir,
        maxMemoryMb: 64,
        gateway: { host: '127.0.0.1', port: 9, unixSocketPath: dirs.gatewaySocketPath },
      }),
      { code: 'SG_ISOLATION_UNAVAILABLE' },
    );
    rmSync(dirs.root, { recursive: true, force: true });
  });
});

for (const level of LEVELS) {
  void describe(`sandbox level ${level}`, { skip: levelSkip(level) }, () => {
    void test('runs a benign agent to a result and removes every trace afterwards', async () => {
      const run = await runAgent(level, 'echo', { hello: 'world' });
      const out = okOutput(run);
      assert.deepEqual(out, { task: { hello: 'world' }, id: out.id, agent: 'echo', parent: 'tester' });
      assert.match(String(out.id), /^it-echo-/);
      assert.equal(run.exit.code, 0);
      assert.equal(run.sandbox.level, level);
      assert.ok(run.sandbox.peakRssBytes > 0);
      await assertCleanedUp(run);
    });

    void test('clears the environment: no parent variable reaches the child', async () => {
      process.env.SG_TEST_CANARY = 'canary-secret-value';
      try {
        const run = await runAgent(level, 'env', null);
        const out = okOutput(run);
        const env = out.env as Record<string, string>;
        assert.equal(env.SG_TEST_CANARY, undefined);
        assert.equal(env.NODE_OPTIONS, undefined);
        assert.doesNotMatch(JSON.stringify(env), /canary-secret-value/);
        assert.equal(env.HOME, out.cwd);
        if (level !== 'process') assert.notEqual(out.ppid, process.pid);
      } finally {
        delete process.env.SG_TEST_CANARY;
      }
    });

    const blocked: [string, RegExp][] = [
      ['write-file', /FileSystemWrite/],
      ['child-process', /ChildProcess/],
      ['worker', /WorkerThreads/],
    ];
    for (const [agent, permission] of blocked) {
      void test(`the permission model blocks ${agent} and the runtime reports a sandbox_violation`, async () => {
        const run = await runAgent(level, agent, null);
        const v = run.messages.find((m) => m.type === 'sandbox_violation');
        assert.ok(v?.type === 'sandbox_violation', JSON.stringify(run.messages));
        assert.match(v.detail, permission);
        const r = result(run);
        assert.equal(r.ok, false);
        assert.equal(r.error.code, 'SG_SUBAGENT_FAILED');
        await assertCleanedUp(run);
      });
    }

    void test('cannot read files outside its entry package and the runtime', async () => {
      const run = await runAgent(level, 'read-file', {
        path: join(fixturesDir, '..', 'helpers', 'paths.ts'),
      });
      assert.deepEqual(okOutput(run), { error: 'ERR_ACCESS_DENIED' });
    });

    void test(
      level === 'process'
        ? 'process mode cannot stop a direct loopback connection (documented limit)'
        : 'a direct connection to a loopback server fails: no route out of the namespace',
      async () => {
        const server = net.createServer((c) => c.destroy());
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const addr = server.address();
        assert.ok(addr !== null && typeof addr === 'object');
        try {
          const run = await runAgent(level, 'direct-connect', {
            host: '127.0.0.1',
            port: addr.port,
            timeoutMs: 2000,
          });
          const out = okOutput(run);
          if (level === 'process') assert.equal(out.connected, true);
          else assert.equal(out.connected, undefined, JSON.stringify(out));
        } finally {
          await new Promise<void>((r) =>
            server.close(() => {
              r();
            }),
          );
        }
      },
    );

    void test('fetch goes to the gateway (CONNECT with the credential), never directly', async () => {
      const run = await runAgent(level, 'fetch', { url: 'http://api.example.test/x', timeoutMs: 3000 });
      const out = okOutput(run);
      assert.ok(typeof out.error === 'string', JSON.stringify(out));
      assert.equal(run.gatewayLines.length >= 1, true, 'the gateway saw no request');
      const first = run.gatewayLines[0] ?? '';
      assert.match(first, /^CONNECT api\.example\.test:80 HTTP\/1\.1\r\n/);
      assert.match(
        first,
        new RegExp(`proxy-authorization: Basic ${Buffer.from('u:secret').toString('base64')}`, 'i'),
      );
    });

    void test('an off-heap memory bomb is stopped by the memory watcher', async () => {
      const run = await runAgent(level, 'memory-bomb', {}, { maxMemoryMb: 160 });
      assert.equal(
        run.messages.some((m) => m.type === 'result'),
        false,
      );
      assert.ok(run.sandbox.peakRssBytes > 100 * 1024 * 1024 || run.sandbox.memoryEvents().oomKilled);
      await assertCleanedUp(run);
    });

    void test('kill() ends an infinite loop and leaves no process behind', async () => {
      const started = Date.now();
      const run = await runAgent(level, 'infinite-loop', {}, { killAfterMs: 1500 });
      assert.ok(Date.now() - started < 10_000);
      assert.ok(run.exit.signal === 'SIGKILL' || run.exit.code === 137, JSON.stringify(run.exit));
      await assertCleanedUp(run);
    });

    void test('kill() reaches grandchildren, including ones that started their own session', async () => {
      // Not node: a shell, so that grandchildren exist (the permission model forbids them in node).
      const command = ['/bin/sh', '-c', 'sleep 60 & setsid sleep 61 & echo started; wait'];
      let pids: number[] = [];
      const dirs = createSandboxDirs('treekill');
      const gw = await fakeGateway(dirs.gatewaySocketPath);
      const sb = await launch({
        id: `treekill-${level}`,
        level,
        entry: join(agents, 'echo.mjs'),
        scratchDir: dirs.scratchDir,
        maxMemoryMb: 64,
        gateway: { host: '127.0.0.1', port: gw.port, unixSocketPath: dirs.gatewaySocketPath },
        ownedDir: dirs.root,
        command,
        onOutput: (l) => {
          if (l.text === 'started') {
            // Give setsid a moment to exec, then snapshot and kill.
            setTimeout(() => {
              pids = processTree(sb.pid);
              sb.sampleRssBytes();
              sb.kill();
            }, 200);
          }
        },
      });
      const timer = setTimeout(() => {
        sb.kill();
      }, 10_000);
      await sb.exited;
      clearTimeout(timer);
      await sb.dispose();
      await gw.close();
      assert.ok(pids.length >= 3, `expected a tree, got ${pids.join(',')}`);
      await eventually(() => {
        assert.deepEqual(
          pids.filter((p) => isAlive(p)),
          [],
        );
      });
      assert.equal(existsSync(dirs.root), false);
    });

    void test('process.kill(0) from the child cannot reach the orchestrator', async () => {
      const run = await runAgent(level, 'kill-group', null);
      // Either the sandbox's own group died, or (as PID 1 of its own PID namespace, which ignores
      // SIGKILL from inside) nothing happened at all. Either way this process is still here.
      const r = run.messages.find((m) => m.type === 'result');
      if (r !== undefined) assert.deepEqual(r, { type: 'result', ok: true, output: { survived: true } });
      await assertCleanedUp(run);
    });

    void test('garbage on the IPC fd is a protocol error in the parent', async () => {
      const run = await runAgent(level, 'ipc-garbage', null);
      assert.ok(run.protocolError instanceof IpcProtocolError);
      await assertCleanedUp(run);
    });
  });
}

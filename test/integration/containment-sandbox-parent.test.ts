/**
 * A subagent must never run code in, or read the memory of, the orchestrator. The path tried
 * here: SIGUSR1 to its parent (Node then opens the inspector on 127.0.0.1) and a TCP connection
 * to the inspector port (direct TCP works at process level). Regression guard for the inspector
 * takeover, and for children running as root (bubblewrap: uid 0 inside; process: same uid as the
 * orchestrator, so it may signal it). The orchestrator runs in a child process of the test, with
 * its inspector port moved to a free port, so no test depends on 9229 being free.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectIsolation } from '../../src/sandbox/index.js';
import { findExecutable } from '../../src/sandbox/detect.js';
import type { IsolationLevel } from '../../src/sandbox/index.js';

const HOST = join(import.meta.dirname, '..', 'helpers', 'inspector-host.js');
const LEVELS: IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];
const isRoot = process.getuid?.() === 0;

const HOSTILE = `import net from 'node:net';
export default async (task) => {
  const r = { uid: process.getuid(), ppid: process.ppid };
  try { process.kill(process.ppid, 0); r.signal0 = 'ok'; } catch (e) { r.signal0 = e.code; }
  try { process.kill(process.ppid, 'SIGUSR1'); r.usr1 = 'sent'; } catch (e) { r.usr1 = e.code; }
  await new Promise((res) => setTimeout(res, 400));
  r.inspector = await new Promise((res) => {
    const s = net.connect(task.port, '127.0.0.1');
    const t = setTimeout(() => { s.destroy(); res('timeout'); }, 2000);
    s.on('connect', () => { clearTimeout(t); s.destroy(); res('open'); });
    s.on('error', (e) => { clearTimeout(t); res(e.code ?? 'error'); });
  });
  return r;
};
`;

interface HostResult {
  outcome: { status: string; output?: Record<string, unknown> };
  uid: number | null;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  await new Promise<void>((r) =>
    srv.close(() => {
      r();
    }),
  );
  assert.ok(addr !== null && typeof addr === 'object');
  return addr.port;
}

/** Whether something accepts TCP connections on 127.0.0.1:port (the inspector, if it opened). */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 2000);
    s.on('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Reads lines from the host's stdout until `want` appears (bounded). */
function waitFor(
  child: ChildProcess,
  lines: string[],
  want: (l: string) => boolean,
  ms = 30_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`host did not print the expected line; got ${JSON.stringify(lines)}`));
    }, ms);
    const check = (): void => {
      const hit = lines.find(want);
      if (hit !== undefined) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve(hit);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', () => {
      check();
      clearTimeout(timer);
      reject(new Error(`host exited early; stdout ${JSON.stringify(lines)}`));
    });
    check();
  });
}

interface Hosted {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly stderr: () => string;
}

function startHost(
  level: IsolationLevel,
  entry: string,
  port: number,
  opts: { asUser?: { home: string } } = {},
): Hosted {
  const args = [HOST, level, entry, String(port)];
  const setpriv = findExecutable('setpriv');
  const argv =
    opts.asUser === undefined || setpriv === null
      ? [process.execPath, ...args]
      : [setpriv, '--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, ...args];
  const [file, ...rest] = argv;
  assert.ok(file !== undefined);
  const child = spawn(file, rest, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: opts.asUser?.home ?? tmpdir() },
  });
  const lines: string[] = [];
  let buf = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (err.length < 1_000_000) err += d;
  });
  return { child, lines, stderr: () => err };
}

async function finish(h: Hosted): Promise<number | null> {
  h.child.stdin?.end();
  await waitFor(h.child, h.lines, (l) => l === 'closed');
  const [code] = (await Promise.race([
    new Promise((r) => {
      if (h.child.exitCode !== null) r([h.child.exitCode]);
      else
        h.child.once('exit', (c) => {
          r([c]);
        });
    }),
    new Promise((r) =>
      setTimeout(() => {
        r([null]);
      }, 10_000),
    ),
  ])) as [number | null];
  return code;
}

function writeHostile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sgtest-inspector-'));
  // Readable to the unprivileged uid that process-level children run as under a root orchestrator.
  chmodSync(dir, 0o755);
  const entry = join(dir, 'hostile.mjs');
  writeFileSync(entry, HOSTILE, { mode: 0o644 });
  return entry;
}

const report = await detectIsolation();

for (const level of LEVELS) {
  void test(`${level}: a subagent's SIGUSR1 to its parent never opens the orchestrator's inspector, and the orchestrator survives`, async (t) => {
    if (!report.available.includes(level)) {
      t.skip(
        `${level} not available here: ${report.details[level === 'unshare' ? 'namespace' : level] ?? ''}`,
      );
      return;
    }
    const entry = writeHostile();
    const port = await freePort();
    const h = startHost(level, entry, port);
    try {
      const line = await waitFor(h.child, h.lines, (l) => l.startsWith('{'));
      await waitFor(h.child, h.lines, (l) => l === 'ready');
      const res = JSON.parse(line) as HostResult;
      // In a PID namespace its parent is pid 0 (unshare) or the sandbox's init: the signal may end
      // the subagent itself, which is fine. At process level its parent is the orchestrator.
      if (level === 'process') assert.equal(res.outcome.status, 'completed', JSON.stringify(res.outcome));
      const out = res.outcome.output ?? {};
      assert.notEqual(out.inspector, 'open', `the child reached the inspector: ${JSON.stringify(out)}`);
      assert.equal(await probe(port), false, 'the orchestrator opened its inspector');
      assert.equal(h.child.exitCode, null, 'the orchestrator died');
      if (level === 'process' && isRoot) {
        assert.notEqual(out.uid, 0, 'a process-level child of a root orchestrator runs as root');
        assert.equal(out.signal0, 'EPERM', `the child can signal the orchestrator: ${JSON.stringify(out)}`);
      }
      assert.equal(await finish(h), 0, h.stderr().slice(-2000));
      assert.equal(await probe(port), false, 'SIGUSR1 after close() opened the inspector');
    } finally {
      h.child.kill('SIGKILL');
      rmSync(join(entry, '..'), { recursive: true, force: true });
    }
  });
}

void test('a non-root orchestrator: its same-uid process-level child signals it, the signal is ignored and audited once', async (t) => {
  if (!isRoot || findExecutable('setpriv') === null) {
    t.skip('needs root and setpriv to start the orchestrator itself as an unprivileged user');
    return;
  }
  const entry = writeHostile();
  const home = mkdtempSync(join(tmpdir(), 'sgtest-inspector-home-'));
  chownSync(home, 65534, 65534);
  const port = await freePort();
  const h = startHost('process', entry, port, { asUser: { home } });
  try {
    const line = await waitFor(h.child, h.lines, (l) => l.startsWith('{'));
    await waitFor(h.child, h.lines, (l) => l === 'ready');
    const res = JSON.parse(line) as HostResult;
    assert.equal(res.uid, 65534);
    assert.equal(
      res.outcome.status,
      'completed',
      `${JSON.stringify(res.outcome)} ${h.stderr().slice(-1500)}`,
    );
    const out = res.outcome.output ?? {};
    // Same uid: the signal is delivered; only the listener stands between it and the inspector.
    assert.equal(out.usr1, 'sent');
    assert.notEqual(out.inspector, 'open');
    assert.equal(await probe(port), false, 'the orchestrator opened its inspector');
    const ignored = h
      .stderr()
      .split('\n')
      .filter((l) => l.includes('"orchestrator.signal_ignored"'));
    assert.equal(ignored.length, 1, 'the ignored SIGUSR1 is audited exactly once');
    assert.equal(await finish(h), 0, h.stderr().slice(-2000));
  } finally {
    h.child.kill('SIGKILL');
    rmSync(join(entry, '..'), { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
});

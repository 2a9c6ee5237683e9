/**
 * The gVisor level end to end: a user-space kernel answers the subagent, its filesystem is an
 * empty read-only root with only the listed binds and tmpfs scratch, egress leaves only through
 * the gateway, the memory cgroup holds the whole runsc tree, and nothing of a sandbox (runsc
 * processes, its OCI bundle and state directory, the sandbox directory) outlives it. Skipped,
 * with the probe's reason, where runsc cannot run (not installed, not root).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { release } from 'node:os';
import { join, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSandboxDirs, launch } from '../../src/sandbox/index.js';
import type { OutputLine } from '../../src/sandbox/index.js';
import { ALLOWED, startContainment, type ContainmentEnv } from '../helpers/containment-level.js';
import { eventually, processesMatching } from '../helpers/spawner-harness.js';
import { levelSkip, probeGvisorLevel } from '../helpers/levels.js';
import { fixturesDir } from '../helpers/paths.js';

const agents = join(fixturesDir, 'agents');
/** The first component of an absolute path: `/check/work/main` → `check`. */
const topOf = (p: string): string => p.split(sep).filter(Boolean)[0] ?? '';
await probeGvisorLevel();
const skip = levelSkip('gvisor');

/** Runs a shell script as the sandbox's program (raw, no runtime); returns its stdout lines. */
async function runScript(script: string): Promise<{ lines: string[]; root: string; id: string }> {
  const id = `gv-sh-${Math.random().toString(36).slice(2, 8)}`;
  const dirs = createSandboxDirs(id);
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => server.listen(dirs.gatewaySocketPath, r));
  const lines: string[] = [];
  const sb = await launch({
    id,
    level: 'gvisor',
    entry: join(agents, 'echo.mjs'),
    scratchDir: dirs.scratchDir,
    maxMemoryMb: 128,
    gateway: { host: '127.0.0.1', port: 9, unixSocketPath: dirs.gatewaySocketPath },
    ownedDir: dirs.root,
    command: ['/bin/sh', '-c', script],
    onOutput: (l: OutputLine) => {
      if (l.stream === 'stdout') lines.push(l.text);
    },
  });
  const timer = setTimeout(() => {
    sb.kill();
  }, 20_000);
  await sb.exited;
  clearTimeout(timer);
  await sb.dispose();
  await new Promise<void>((r) =>
    server.close(() => {
      r();
    }),
  );
  return { lines, root: dirs.root, id };
}

/** Samples the memory reading of a raw gVisor sandbox running `node -e <code>` after `waitMs`. */
async function memoryReading(code: string, waitMs: number): Promise<number | null> {
  const id = `gv-mem-${Math.random().toString(36).slice(2, 8)}`;
  const dirs = createSandboxDirs(id);
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => server.listen(dirs.gatewaySocketPath, r));
  const sb = await launch({
    id,
    level: 'gvisor',
    entry: join(agents, 'echo.mjs'),
    scratchDir: dirs.scratchDir,
    maxMemoryMb: 512,
    gateway: { host: '127.0.0.1', port: 9, unixSocketPath: dirs.gatewaySocketPath },
    ownedDir: dirs.root,
    command: [process.execPath, '-e', code],
  });
  try {
    await new Promise((r) => setTimeout(r, waitMs));
    return sb.sampleRssBytes();
  } finally {
    sb.kill();
    await sb.exited;
    await sb.dispose();
    await new Promise<void>((r) =>
      server.close(() => {
        r();
      }),
    );
  }
}

void describe('isolation level gvisor', { skip }, () => {
  let env: ContainmentEnv | null = null;

  before(async () => {
    env = await startContainment('gvisor');
  });
  after(async () => {
    await env?.close();
  });

  void test('the Sentry, not the host kernel, answers the subagent (uname)', async () => {
    assert.ok(env !== null);
    const o = await env.run(join('..', 'agents', 'kernel.mjs'), null);
    assert.equal(o.status, 'completed', JSON.stringify(o));
    const out = (o as { output: { release: string } }).output;
    assert.notEqual(out.release, release(), 'uname inside must not be the host kernel');
  });

  void test('the root is empty and read-only: only system binds, tmpfs /scratch and /tmp are there', async () => {
    const { lines, root, id } = await runScript(
      [
        'printf "root: "; for f in /*; do printf "%s " "${f#/}"; done; echo',
        'touch /usr/pwned 2>/dev/null && echo "usr: writable" || echo "usr: refused"',
        'touch /pwned 2>/dev/null && echo "rootfs: writable" || echo "rootfs: refused"',
        `touch ${agents}/pwned 2>/dev/null && echo "entry: writable" || echo "entry: refused"`,
        'echo x > /scratch/f && echo "scratch: $(cat /scratch/f)"',
        'test -e /etc/passwd && echo "passwd: visible" || echo "passwd: absent"',
        `test -e ${join(fixturesDir, '..', 'helpers')} && echo "repo: visible" || echo "repo: absent"`,
        'echo "uid: $(id -u)"',
      ].join('; '),
    );
    const got = Object.fromEntries(
      lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
    );
    assert.equal(got.usr, 'refused');
    assert.equal(got.rootfs, 'refused');
    assert.equal(got.entry, 'refused');
    assert.equal(got.scratch, 'x');
    assert.equal(got.passwd, 'absent');
    assert.equal(got.repo, 'absent');
    assert.equal(got.uid, '65534');
    const top = (got.root ?? '').trim().split(' ').sort();
    for (const name of top) {
      assert.ok(
        [
          'bin',
          'dev',
          'etc',
          'lib',
          'lib32',
          'lib64',
          'libx32',
          'proc',
          'run',
          'sbin',
          'scratch',
          'sys',
          'tmp',
          'usr',
          // The read-only binds of the checkout (fixtures) and of the Node binary start here;
          // where they live depends on the machine (/work, /check, /opt, /usr/local).
          topOf(fixturesDir),
          topOf(process.execPath),
        ].includes(name),
        `unexpected top-level entry ${name}: ${got.root}`,
      );
    }
    assert.equal(existsSync(join(agents, 'pwned')), false);
    assert.equal(existsSync(root), false, 'the sandbox directory (bundle and runsc state) is gone');
    assert.deepEqual(processesMatching(`sg-${id}`), []);
  });

  void test('egress reaches an allowed origin only through the gateway; a denied one ends the subagent', async () => {
    assert.ok(env !== null);
    const ok = await env.run(
      join('..', 'agents', 'fetch.mjs'),
      { url: env.smallUrl, timeoutMs: 8000 },
      'hostile',
    );
    assert.equal(ok.status, 'completed', JSON.stringify(ok));
    assert.equal((ok as { output: { status?: number } }).output.status, 200, JSON.stringify(ok));
    assert.ok(ok.usage.egressRequests >= 1);
    const denied = await env.run(join('..', 'agents', 'fetch.mjs'), {
      url: 'http://denied.test/x',
      timeoutMs: 8000,
    });
    assert.equal(denied.status, 'terminated', JSON.stringify(denied));
    assert.equal((denied as { reason: string }).reason, 'egress_denied');
    assert.ok(ALLOWED.length > 0);
  });

  void test('the memory reading sees the subagent’s memory (the Sentry’s memory file), not runsc’s mappings', async () => {
    // A sum of RSS read about 110 MiB for both: it missed the buffer and counted the runtime twice.
    const idle = await memoryReading('setTimeout(() => {}, 20000)', 3000);
    const holding = await memoryReading(
      'globalThis.b = Buffer.alloc(100e6, 1); setTimeout(() => {}, 20000)',
      3000,
    );
    assert.ok(idle !== null && holding !== null, 'the cgroup is readable');
    const mb = (n: number): number => n / 1048576;
    assert.ok(mb(idle) < 64, `idle sandbox reads ${mb(idle).toFixed(1)} MiB`);
    assert.ok(
      mb(holding) - mb(idle) >= 90,
      `a 100 MB buffer adds ${(mb(holding) - mb(idle)).toFixed(1)} MiB`,
    );
  });

  void test('an off-heap memory bomb ends as memory_exceeded and leaves no runsc process', async () => {
    assert.ok(env !== null);
    const o = await env.run(join('..', 'agents', 'memory-bomb.mjs'), { chunkMb: 16 });
    assert.equal(o.status, 'terminated', JSON.stringify(o));
    assert.equal((o as { reason: string }).reason, 'memory_exceeded');
    assert.ok(await eventually(() => processesMatching(`sg-${o.id.slice(0, 24)}`).length === 0, 5000));
    assert.deepEqual(
      readdirSync('/tmp').filter((n) => n.startsWith(`sg-${o.id.slice(0, 24)}-`)),
      [],
      'its sandbox directory is gone',
    );
  });
});

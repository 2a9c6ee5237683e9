/**
 * SIGINT and SIGTERM to a real `subagent-guard` process: `run` and `gateway serve` close what they
 * started (the subagent's sandbox, the gateway) and exit 130 / 143, as shells expect.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectIsolation } from '../../src/sandbox/detect.js';
import { fixturesDir, repoRoot } from '../helpers/paths.js';

const cli = join(repoRoot, 'build', 'src', 'cli', 'main.js');

let dir = '';
let isolation = 'process';

before(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sgtest-cli-signals-')));
  writeFileSync(
    join(dir, 'openclaw.json'),
    JSON.stringify({
      audit: { path: './audit.log' },
      agents: {
        main: { role: 'parent', subagents: { allowAgents: ['slow'] } },
        slow: {
          entry: join(fixturesDir, 'agents', 'slow.mjs'),
          constraints: { max_memory_mb: 160, timeout_seconds: 60 },
          network: { allowed_domains: ['example.com'] },
        },
      },
    }),
  );
  isolation = (await detectIsolation()).best;
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<number | null>;
}

function start(args: readonly string[]): Running {
  const child = spawn(process.execPath, [cli, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every process below `pid` (children, grandchildren, ...), from /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [c, pp] of parent) {
      if (pp === p) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function audit(): string {
  const p = join(dir, 'audit.log');
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`timed out: ${what}`));
    }, ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

void describe('signals', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    void test(`${signal} during run ends the subagent, closes the orchestrator and exits ${code}`, async () => {
      const before = audit().split('\n').length;
      const r = start([
        'run',
        '--config',
        'openclaw.json',
        '--parent',
        'main',
        '--agent',
        'slow',
        '--task',
        '{"ms":60000}',
        '--isolation',
        isolation,
        '--json',
      ]);
      try {
        await until('the subagent to start', () =>
          audit()
            .split('\n')
            .slice(before - 1)
            .some((l) => l.includes('"subagent.spawn"')),
        );
        const pid = r.child.pid ?? 0;
        const sandbox = descendants(pid);
        assert.ok(sandbox.length > 0, 'the subagent runs below the CLI process');
        r.child.kill(signal);
        assert.equal(await withTimeout(r.exited, 20_000, 'CLI exit'), code, r.stderr());
        const outcome = JSON.parse(r.stdout()) as { status: string };
        assert.equal(outcome.status, 'terminated');
        const fresh = audit()
          .split('\n')
          .slice(before - 1);
        assert.ok(
          fresh.some((l) => l.includes('"subagent.exit"')),
          'the exit is audited',
        );
        assert.ok(
          fresh.some((l) => l.includes('"orchestrator.close"')),
          'the orchestrator closed',
        );
        assert.deepEqual(
          sandbox.filter((p) => alive(p)),
          [],
          'no process of the sandbox outlives the CLI',
        );
      } finally {
        r.child.kill('SIGKILL');
      }
    });

    void test(`${signal} stops gateway serve, which closes its listener and exits ${code}`, async () => {
      const r = start(['gateway', 'serve', '--config', 'openclaw.json', '--listen', '127.0.0.1:0']);
      try {
        await until('the gateway to listen', () => /listening on http:\/\/127\.0\.0\.1:\d+/.test(r.stdout()));
        const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(r.stdout())?.[1]);
        r.child.kill(signal);
        assert.equal(await withTimeout(r.exited, 20_000, 'CLI exit'), code, r.stderr());
        const refused = await new Promise<boolean>((resolve) => {
          const s = connect(port, '127.0.0.1');
          s.on('connect', () => {
            s.destroy();
            resolve(false);
          });
          s.on('error', () => {
            resolve(true);
          });
        });
        assert.ok(refused, 'nothing listens on the gateway port any more');
      } finally {
        r.child.kill('SIGKILL');
      }
    });
  }

  void test('a signal to a command with nothing to stop ends it at once with 128 + the signal', async () => {
    // doctor probes every level (seconds); Ctrl-C must not wait for that.
    const r = start(['doctor']);
    try {
      // A probe running below it means the CLI is loaded and its handlers are installed.
      await until('a probe to start', () => descendants(r.child.pid ?? 0).length > 0);
      r.child.kill('SIGINT');
      assert.equal(await withTimeout(r.exited, 10_000, 'CLI exit'), 130);
    } finally {
      r.child.kill('SIGKILL');
    }
  });
});

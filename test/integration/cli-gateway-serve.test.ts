/**
 * `subagent-guard gateway serve` as a real process: `--json` lifecycle lines, credentials checked
 * before "listening", the cause of a failed listen, the NOT ENFORCING line for a report-only
 * agent, and `--metrics` scraped with a Prometheus text-format parser.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { repoRoot } from '../helpers/paths.js';

const cli = join(repoRoot, 'build', 'src', 'cli', 'main.js');
const SECRET = 'Static-Credential_serve_0123456789';

let dir = '';

before(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sgtest-cli-serve-')));
  writeFileSync(join(dir, 'x.js'), 'export default async () => ({});\n');
  const agent = (mode?: 'report') => ({
    entry: './x.js',
    network: { allowed_domains: ['allowed.test'], ...(mode === undefined ? {} : { mode }) },
  });
  writeFileSync(
    join(dir, 'openclaw.json'),
    JSON.stringify({
      audit: { path: './audit.log' },
      agents: { main: { role: 'parent' }, fetcher: agent() },
    }),
  );
  writeFileSync(
    join(dir, 'report.json'),
    JSON.stringify({
      audit: { path: './audit.log' },
      agents: { fetcher: agent(), learner: agent('report') },
    }),
  );
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

function start(args: readonly string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [cli, 'gateway', 'serve', ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
  });
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
  // Bounded: a serve that never stops is killed.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void exited.then(() => {
    clearTimeout(timer);
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Sends a CONNECT through the proxy; resolves the status code of its answer. */
function connectStatus(port: number, auth: string, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
    });
    let head = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      head += d;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on('error', reject);
    s.setTimeout(10_000, () => {
      s.destroy();
      reject(new Error('no answer'));
    });
  });
}

interface Listening {
  event: 'listening';
  url: string;
  address: { host: string; port: number };
  metrics?: string;
  agents: { agent: string; proxyUrl: string; passwordFrom?: string; enforcing: boolean }[];
}

void describe('gateway serve (CLI process)', () => {
  void test('--json prints a listening line with the address and credentials, and a closed line on SIGTERM', async () => {
    const r = start(['--config', 'openclaw.json', '--listen', '127.0.0.1:0', '--json'], {
      SUBAGENT_GUARD_CRED_FETCHER: SECRET,
    });
    try {
      await until('listening', () => r.stdout().includes('\n'));
      const first = JSON.parse(r.stdout().split('\n')[0] ?? '') as Listening;
      assert.equal(first.event, 'listening');
      assert.equal(first.address.host, '127.0.0.1');
      assert.ok(first.address.port > 0);
      assert.equal(first.url, `http://127.0.0.1:${first.address.port}`);
      assert.deepEqual(
        first.agents.map((a) => [a.agent, a.passwordFrom, a.enforcing]),
        [['fetcher', 'SUBAGENT_GUARD_CRED_FETCHER', true]],
      );
      const auth = Buffer.from(`fetcher:${SECRET}`).toString('base64');
      assert.equal(await connectStatus(first.address.port, auth, 'blocked.test:443'), 403);
      r.child.kill('SIGTERM');
      assert.equal(await r.exited, 143, r.stderr());
      const lines = r
        .stdout()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string });
      assert.deepEqual(
        lines.map((l) => l.event),
        ['listening', 'closed'],
      );
      assert.ok(
        !r.stdout().includes(SECRET) && !r.stderr().includes(SECRET),
        'the env credential is never printed',
      );
    } finally {
      r.child.kill('SIGKILL');
    }
  });

  void test('a malformed credential in the environment fails before anything listens, naming the variable, not register()', async () => {
    const bad = 'short-but-secret';
    const r = start(['--config', 'openclaw.json', '--listen', '127.0.0.1:0'], {
      SUBAGENT_GUARD_CRED_FETCHER: bad,
    });
    assert.equal(await r.exited, 2);
    assert.equal(r.stdout(), '', 'nothing printed on stdout: no "listening"');
    assert.match(
      r.stderr(),
      /SUBAGENT_GUARD_CRED_FETCHER.*fetcher.*22-256 characters.*\[SG_GATEWAY_INVALID_OPTIONS\]/,
    );
    assert.doesNotMatch(r.stderr(), /register/);
    assert.ok(!r.stderr().includes(bad), 'the value is not shown');
  });

  void test('a busy port is SG_GATEWAY_LISTEN with the cause EADDRINUSE', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = start(['--config', 'openclaw.json', '--listen', `127.0.0.1:${port}`]);
      assert.equal(await r.exited, 2);
      assert.equal(r.stdout(), '');
      assert.match(
        r.stderr(),
        new RegExp(
          `127\\.0\\.0\\.1:${port}: EADDRINUSE \\(the address is already in use\\) \\[SG_GATEWAY_LISTEN\\]`,
        ),
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  void test('an agent whose network policy is report-only gets a NOT ENFORCING line', async () => {
    for (const json of [false, true]) {
      const r = start(['--config', 'report.json', '--listen', '127.0.0.1:0', ...(json ? ['--json'] : [])]);
      try {
        await until('listening', () => /listening/.test(r.stdout()));
        const loud = json ? r.stderr() : r.stdout();
        assert.match(loud, /^!! NOT ENFORCING: agent learner runs its network policy in report-only mode/m);
        assert.doesNotMatch(loud, /agent fetcher runs/);
        if (json) {
          const first = JSON.parse(r.stdout().split('\n')[0] ?? '') as Listening;
          assert.deepEqual(
            first.agents.map((a) => [a.agent, a.enforcing]),
            [
              ['fetcher', true],
              ['learner', false],
            ],
          );
        }
        r.child.kill('SIGINT');
        assert.equal(await r.exited, 130);
      } finally {
        r.child.kill('SIGKILL');
      }
    }
  });

  void test('--metrics 127.0.0.1:0 serves Prometheus text that a parser reads, with the refusal counted', async () => {
    const r = start(
      ['--config', 'openclaw.json', '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--json'],
      {
        SUBAGENT_GUARD_CRED_FETCHER: SECRET,
      },
    );
    try {
      await until('listening', () => r.stdout().includes('\n'));
      const first = JSON.parse(r.stdout().split('\n')[0] ?? '') as Listening;
      assert.match(first.metrics ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const auth = Buffer.from(`fetcher:${SECRET}`).toString('base64');
      assert.equal(await connectStatus(first.address.port, auth, 'blocked.test:443'), 403);
      const res = await fetch(first.metrics ?? '');
      assert.equal(res.status, 200);
      const parsed = parsePrometheusTextFormat(await res.text()) as {
        name: string;
        type: string;
        metrics: { value?: string; labels?: Record<string, string> }[];
      }[];
      const family = parsed.find((p) => p.name === 'subagent_guard_egress_decisions_total');
      assert.ok(family !== undefined, parsed.map((p) => p.name).join(', '));
      assert.equal(family.type, 'COUNTER');
      const denied = family.metrics
        .filter((m) => m.labels?.['decision'] === 'deny')
        .reduce((n, m) => n + Number(m.value), 0);
      assert.ok(denied >= 1, JSON.stringify(family.metrics));
      r.child.kill('SIGTERM');
      assert.equal(await r.exited, 143);
    } finally {
      r.child.kill('SIGKILL');
    }
  });
});

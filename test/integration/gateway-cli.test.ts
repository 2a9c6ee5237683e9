import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gateway } from '../../src/cli/commands/gateway.js';
import type { CliIo } from '../../src/cli/io.js';
import { rawExchange } from '../helpers/gateway.js';
import { startBench, type Bench } from '../helpers/gateway-fixture.js';
import { spawnSync } from 'node:child_process';
import { createServer as createNetServer, type Socket } from 'node:net';
import { main } from '../../src/cli/main.js';
import { GuardError } from '../../src/errors.js';
import { closeServer, listen, startOrigin } from '../helpers/gateway.js';
import { repoRoot } from '../helpers/paths.js';
import { waitUntil } from '../helpers/eventually.js';

function io(
  env: Record<string, string> = {},
  cwd = process.cwd(),
): CliIo & { out: () => string; err: () => string; stop: () => void } {
  let out = '';
  let err = '';
  let stop: () => void = () => undefined;
  const stopSignal = new Promise<void>((r) => {
    stop = r;
  });
  return {
    stdout: { write: (c: string) => (out += c) },
    stderr: { write: (c: string) => (err += c) },
    env,
    cwd,
    stopSignal,
    out: () => out,
    err: () => err,
    stop: () => {
      stop();
    },
  };
}

interface Report {
  ok: boolean;
  passed: number;
  failed: number;
  notExercised: number;
  checks: { name: string; ok: boolean; result: string; reason?: string; detail: string }[];
}

function namespaceUnavailable(): string | null {
  const r = spawnSync('unshare', ['-Urn', 'ip', 'link', 'set', 'lo', 'up'], { timeout: 5000 });
  if (r.error !== undefined) return `unshare is not available: ${r.error.message}`;
  if (r.status !== 0) return `unshare -Urn does not work here: ${r.stderr.toString().trim()}`;
  return null;
}

const ADDRESS_CHECKS = [
  'metadata 169.254.169.254 (absolute-form)',
  'metadata 169.254.169.254 (CONNECT)',
  'private 10.0.0.1',
  'private 192.168.0.1',
  'private 172.16.0.1 (CONNECT)',
  'loopback [::1] (CONNECT)',
];

void describe('gateway validate', () => {
  let b: Bench;
  before(async () => {
    // Every prohibited destination is on the allowlist and its port is allowed: only the address
    // rules stand between the validator and them, so a pass proves those rules.
    b = await startBench({
      id: 'validator',
      network: {
        allowed_domains: [
          'api.allowed.test',
          '127.0.0.1',
          '169.254.169.254',
          '10.0.0.1',
          '192.168.0.1',
          '172.16.0.1',
          '::1',
        ],
        allowed_cidrs: ['127.0.0.2/32'],
      },
    });
  });
  after(async () => {
    await b.close();
    assert.equal(b.trapHits(), 0);
  });

  void test('passes against our gateway on its address rules, never on the port, with the credential redacted', async () => {
    const c = io();
    const proxyUrl = `http://${b.id}:${b.password}@127.0.0.1:${b.port}`;
    const code = await gateway(
      [
        'validate',
        '--proxy-url',
        proxyUrl,
        '--allowed-url',
        `http://api.allowed.test:${b.originPort}/echo`,
        '--json',
      ],
      c,
    );
    assert.equal(code, 0, c.out());
    const report = JSON.parse(c.out()) as Report;
    assert.equal(report.failed, 0);
    assert.equal(report.notExercised, 0);
    for (const name of ADDRESS_CHECKS) {
      const check = report.checks.find((x) => x.name === name);
      assert.equal(check?.result, 'pass', name);
      assert.match(check.reason ?? '', /^(address|metadata)_prohibited$/, `${name}: ${check.detail}`);
    }
    const canary = report.checks.find((x) => x.name === 'canary via CONNECT');
    assert.equal(canary?.reason, 'address_prohibited', 'the canary was refused for its address');
    assert.ok(!c.out().includes(b.password), 'the password was printed');
    assert.ok(c.out().includes('***'));
  });

  void test('without --allowed-url and with the canary port not allowed, nothing is exercised: exit 1', async () => {
    const c = io();
    const proxyUrl = `http://${b.id}:${b.password}@127.0.0.1:${b.port}`;
    const code = await gateway(['validate', '--proxy-url', proxyUrl], c);
    assert.equal(code, 1, c.out());
    assert.match(
      c.out(),
      /SKIP {2}metadata 169\.254\.169\.254 \(CONNECT\): no port the proxy allows is known/,
    );
    assert.match(c.out(), /SKIP {2}canary via CONNECT: refused for the port/);
    assert.match(c.out(), /0 passed, 0 failed, 13 not exercised: nothing passed/);
    assert.doesNotMatch(c.out(), /^PASS/m);
  });

  void test('a wrong credential (407) is an error, not a pass: exit 2', async () => {
    const c = io();
    await assert.rejects(
      gateway(['validate', '--proxy-url', `http://${b.id}:wrong-password@127.0.0.1:${b.port}`], c),
      (e: unknown) =>
        e instanceof GuardError &&
        e.code === 'SG_GATEWAY_VALIDATE_AUTH' &&
        !e.message.includes('wrong-password'),
    );
    assert.equal(await main(['gateway', 'validate', '--proxy-url', `http://x:y@127.0.0.1:${b.port}`], c), 2);
  });

  void test('an unreachable proxy is an error with exit 2, not a list of passes', async () => {
    const dead = createNetServer();
    const port = await listen(dead, '127.0.0.1');
    await closeServer(dead);
    const c = io();
    await assert.rejects(
      gateway(['validate', '--proxy-url', `http://u:pw-secret@127.0.0.1:${port}`], c),
      (e: unknown) =>
        e instanceof GuardError &&
        e.code === 'SG_GATEWAY_VALIDATE_NO_ANSWER' &&
        /ECONNREFUSED/.test(e.message) &&
        !e.message.includes('pw-secret'),
    );
    assert.equal(c.out().includes('PASS'), false);
    assert.equal(await main(['gateway', 'validate', '--proxy-url', `http://127.0.0.1:${port}`], c), 2);
  });

  void test('a proxy that never answers is an error after --timeout, not a pass', async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    const port = await listen(silent, '127.0.0.1');
    try {
      const c = io();
      const started = Date.now();
      await assert.rejects(
        gateway(['validate', '--proxy-url', `http://127.0.0.1:${port}`, '--timeout', '300ms'], c),
        (e: unknown) =>
          e instanceof GuardError && e.code === 'SG_GATEWAY_VALIDATE_NO_ANSWER' && /300 ms/.test(e.message),
      );
      assert.ok(Date.now() - started < 3000, 'it gave up after the first silent request');
    } finally {
      for (const s of sockets) s.destroy();
      await closeServer(silent);
    }
  });

  void test('fails against an open forwarding proxy (run inside its own network namespace) and exits 1', (t) => {
    const why = namespaceUnavailable();
    if (why !== null) {
      t.skip(why);
      return;
    }
    const runner = join(repoRoot, 'build', 'test', 'helpers', 'validate-open-proxy-runner.js');
    const r = spawnSync(
      'unshare',
      ['-Urn', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, runner],
      { timeout: 60_000, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const { code, report, raw } = JSON.parse(r.stdout) as { code: number; report: Report; raw: string };
    assert.equal(code, 1);
    assert.equal(report.ok, false);
    assert.equal(report.checks.find((x) => x.name === 'canary via CONNECT')?.result, 'fail');
    assert.equal(report.checks.find((x) => x.name.startsWith('canary via absolute-form'))?.result, 'fail');
    // The open proxy answers 502 for what it cannot reach: a failed dial is not a refusal.
    for (const name of ADDRESS_CHECKS) {
      assert.equal(report.checks.find((x) => x.name === name)?.result, 'fail', name);
    }
    assert.ok(!raw.includes('pw-secret'));
  });

  void test('exits 2 on usage errors', async () => {
    const c = io();
    await assert.rejects(gateway(['validate'], c), /--proxy-url/);
    await assert.rejects(
      gateway(['validate', '--proxy-url', 'http://h:1', '--timeout', 'soon'], c),
      /--timeout/,
    );
    assert.equal(await gateway(['bogus'], c), 2);
  });
});

void describe('gateway serve', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-serve-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  void test('serves the agents of a config with an env credential that is never printed', async () => {
    const cfg = join(dir, 'openclaw.json');
    writeFileSync(join(dir, 'x.js'), 'export default async () => ({});\n');
    writeFileSync(join(dir, 'y.js'), 'export default async () => ({});\n');
    writeFileSync(
      cfg,
      JSON.stringify({
        audit: { path: join(dir, 'audit.log') },
        agents: {
          fetcher: {
            entry: './x.js',
            network: { allowed_domains: ['evil-free.test'] },
          },
          other: { entry: './y.js', network: { allowed_domains: ['a.test'] } },
        },
      }),
    );
    const secret = 'Static-Credential_0123456789abcdef';
    const c = io({ SUBAGENT_GUARD_CRED_FETCHER: secret }, dir);
    const running = gateway(['serve', '--config', 'openclaw.json', '--listen', '127.0.0.1:0'], c);
    await waitUntil(() => /proxy for other/.test(c.out()), 5000);
    const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(c.out())?.[1]);
    assert.ok(port > 0, c.out() + c.err());
    assert.ok(!c.out().includes(secret), 'the env credential was printed');
    const minted = /proxy for other: (http:\/\/other:[A-Za-z0-9_-]{32}@127\.0\.0\.1:\d+)/.exec(c.out());
    assert.ok(minted, c.out());
    const auth = `Basic ${Buffer.from(`fetcher:${secret}`).toString('base64')}`;
    const r = await rawExchange(
      port,
      `CONNECT blocked.test:443 HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`,
    );
    assert.equal(r.status, 403);
    c.stop();
    assert.equal(await running, 0);
  });

  async function startServe(
    config: object,
    args: string[],
  ): Promise<{ c: ReturnType<typeof io>; running: Promise<number>; port: number }> {
    const cfg = join(dir, `serve-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(join(dir, 'x.js'), 'export default async () => ({});\n');
    writeFileSync(cfg, JSON.stringify({ audit: { path: join(dir, 'audit.log') }, ...config }));
    const c = io({}, dir);
    const running = gateway(['serve', '--config', cfg, '--listen', '127.0.0.1:0', ...args], c);
    const deadline = Date.now() + 5000;
    while (!/proxy for fetcher/.test(c.out()) && Date.now() < deadline) {
      if (/error/i.test(c.err())) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(c.out())?.[1]);
    assert.ok(port > 0, c.out() + c.err());
    return { c, running, port };
  }

  function fetcherConfig(originPort: number, maxApiCalls: number): object {
    return {
      agents: {
        main: { role: 'parent', subagents: { allowAgents: ['fetcher'] } },
        fetcher: {
          entry: './x.js',
          constraints: { max_api_calls: maxApiCalls },
          network: {
            allowed_domains: ['127.0.0.2'],
            allowed_ports: [originPort],
            allowed_cidrs: ['127.0.0.2/32'],
          },
        },
      },
    };
  }

  async function statuses(port: number, auth: string, originPort: number, n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await rawExchange(
        port,
        `GET http://127.0.0.2:${originPort}/ HTTP/1.1\r\nHost: 127.0.0.2:${originPort}\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
      );
      out.push(r.status);
    }
    return out;
  }

  void test('--quota-window turns max_api_calls into a per-window limit that resets', async () => {
    const origin = await startOrigin('127.0.0.2');
    const { c, running, port } = await startServe(fetcherConfig(origin.port, 2), ['--quota-window', '1s']);
    try {
      assert.match(c.out(), /quota for fetcher: 2 requests and 10485760 bytes per 1s/);
      const cred = /proxy for fetcher: http:\/\/fetcher:([A-Za-z0-9_-]+)@/.exec(c.out())?.[1] ?? '';
      const auth = `Basic ${Buffer.from(`fetcher:${cred}`).toString('base64')}`;
      assert.deepEqual(await statuses(port, auth, origin.port, 3), [200, 200, 429]);
      await new Promise((r) => setTimeout(r, 1100));
      assert.deepEqual(await statuses(port, auth, origin.port, 1), [200], 'a new window allows again');
    } finally {
      c.stop();
      assert.equal(await running, 0);
      await closeServer(origin.server);
    }
  });

  void test('without --quota-window serve enforces no api-call quota and says so', async () => {
    const origin = await startOrigin('127.0.0.2');
    const { c, running, port } = await startServe(fetcherConfig(origin.port, 2), []);
    try {
      assert.match(c.out(), /quotas: none/);
      assert.doesNotMatch(c.out(), /proxy for main/, 'the parent got a credential');
      const cred = /proxy for fetcher: http:\/\/fetcher:([A-Za-z0-9_-]+)@/.exec(c.out())?.[1] ?? '';
      const auth = `Basic ${Buffer.from(`fetcher:${cred}`).toString('base64')}`;
      assert.deepEqual(await statuses(port, auth, origin.port, 4), [200, 200, 200, 200]);
    } finally {
      c.stop();
      assert.equal(await running, 0);
      await closeServer(origin.server);
    }
  });

  void test('--agent naming a parent is refused: a parent gets no credential', async () => {
    const cfg = join(dir, 'parent.json');
    writeFileSync(join(dir, 'x.js'), 'export default async () => ({});\n');
    writeFileSync(cfg, JSON.stringify(fetcherConfig(443, 2)));
    const c = io({}, dir);
    await assert.rejects(
      gateway(['serve', '--config', cfg, '--agent', 'main'], c),
      (e: unknown) =>
        e instanceof GuardError && e.code === 'SG_GATEWAY_PARENT_AGENT' && /main/.test(e.message),
    );
    assert.doesNotMatch(c.out(), /proxy for/);
  });

  void test('an upstream equal to the listen address is refused before anything is served', async () => {
    const probe = createNetServer();
    const free = await listen(probe, '127.0.0.1');
    await closeServer(probe);
    const cfg = join(dir, 'self.json');
    writeFileSync(join(dir, 'x.js'), 'export default async () => ({});\n');
    writeFileSync(
      cfg,
      JSON.stringify({
        gateway: { upstream: `http://up:s3cret-up@localhost:${free}` },
        agents: { fetcher: { entry: './x.js', network: { allowed_domains: ['a.test'] } } },
      }),
    );
    const c = io({}, dir);
    await assert.rejects(
      gateway(['serve', '--config', cfg, '--listen', `127.0.0.1:${free}`], c),
      (e: unknown) =>
        e instanceof GuardError && e.code === 'SG_GATEWAY_UPSTREAM_SELF' && !e.message.includes('s3cret-up'),
    );
    assert.doesNotMatch(c.out(), /proxy for/);
  });
});

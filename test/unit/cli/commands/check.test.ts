import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { check } from '../../../../src/cli/commands/check.js';
import type { CliIo } from '../../../../src/cli/io.js';
import { fixturesDir } from '../../../helpers/paths.js';

const configDir = join(fixturesDir, 'config');

function fakeIo(cwd: string): CliIo & { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: { write: (c: string) => out.push(c) },
    stderr: { write: (c: string) => err.push(c) },
    env: {},
    cwd,
    stopSignal: new Promise<void>(() => undefined),
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

async function run(argv: string[], cwd = configDir) {
  const io = fakeIo(cwd);
  const code = await check(argv, io);
  return { code, out: io.out(), err: io.err() };
}

void describe('subagent-guard check', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-check-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  void test('a valid config exits 0 and prints agents, roles, tools, quotas, domains, ports, CIDRs and spawn limits', async () => {
    const r = await run(['valid/security-proxy.json']);
    assert.equal(r.code, 0, r.err);
    for (const expected of [
      /agent main_orchestrator \(parent\)/,
      /agent security_proxy_untrusted \(subagent\)/,
      /tools allowed: web_fetch, sanitized_parse, web_search/,
      /tools denied: exec, write, shell, file_system/,
      /memory 256 MiB, api calls 50, cost \$0\.25, timeout 300 s/,
      /domains: api\.untrusted-source\.com, \*\.xn--bcher-kva\.example/,
      /ports: 443, 8443; blocked: 22, 3389, 5432/,
      /CIDRs\): 10\.20\.0\.0\/16, fd00::\/8/,
      /spawns: security_proxy_untrusted, security_proxy_external; at once 4, running\+queued 8, depth 2, 60\/min/,
      /upstream proxy: http:\/\/isolated:\*\*\*@security-pool\.example:8080/,
      /gateway serve: credentials for security_proxy_untrusted, security_proxy_external; none for parent main_orchestrator/,
      /with --quota-window W, per window \(without it: no api-call or byte quota\)/,
      /OK: .*security-proxy\.json is valid \(3 agents\)/,
    ]) {
      assert.match(r.out, expected);
    }
    assert.ok(!r.out.includes('s3cret'), 'no proxy password in the output');
  });

  void test('--json prints a machine-readable report with proxies redacted', async () => {
    const r = await run(['valid/security-proxy.json', '--json']);
    assert.equal(r.code, 0);
    const report = JSON.parse(r.out) as Record<string, unknown>;
    assert.equal(report.valid, true);
    assert.equal(report.format, 'security-proxy');
    assert.deepEqual(report.issues, []);
    assert.deepEqual(Object.keys(report.agents as object), [
      'main_orchestrator',
      'security_proxy_untrusted',
      'security_proxy_external',
    ]);
    const serve = report.serve as { credentials: string[]; noCredential: string[]; withQuotaWindow: object };
    assert.deepEqual(serve.noCredential, ['main_orchestrator']);
    assert.deepEqual(Object.keys(serve.withQuotaWindow), [
      'security_proxy_untrusted',
      'security_proxy_external',
    ]);
    assert.ok(!r.out.includes('s3cret'));
  });

  void test('five different mistakes are all reported with their JSON paths, exit 1', async () => {
    const r = await run(['invalid/five-mistakes.json']);
    assert.equal(r.code, 1);
    assert.match(r.out, /is invalid \(5 problems\)/);
    for (const p of [
      '/agents/main_orchestrator/subagents/allowAgents/1: unknown agent "ghost_agent"',
      '/agents/security_proxy_untrusted/proxy: ',
      '/agents/security_proxy_untrusted/constraints/max_api_calls: ',
      '/agents/security_proxy_untrusted/network/allowed_domains/1: ',
      '/agents/security_proxy_untrusted/network/blocked_ports/1: ',
    ]) {
      assert.ok(r.out.includes(p), `missing ${p} in\n${r.out}`);
    }
    assert.ok(!r.out.includes('five-s3cret-pw'));
  });

  void test('--json on an invalid config gives valid:false and every issue', async () => {
    const r = await run(['--json', 'invalid/five-mistakes.json']);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.out) as {
      valid: boolean;
      format: string;
      issues: { path: string; message: string }[];
    };
    assert.equal(report.valid, false);
    assert.equal(report.format, 'security-proxy');
    assert.equal(report.issues.length, 5);
    assert.ok(report.issues.every((i) => i.path.startsWith('/agents/') && i.message.length > 0));
  });

  void test('an OpenClaw-shaped config prints the normalised policy and the ignored keys', async () => {
    const r = await run(['valid/openclaw-native.json5']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /openclaw shape/);
    assert.match(r.out, /ignored OpenClaw keys \(\d+\):/);
    assert.match(r.out, /\/bindings: /);
    assert.ok(!r.out.includes('native-s3cret-pw'));
  });

  void test('defaults to ./openclaw.json in the working directory', async () => {
    writeFileSync(join(dir, 'openclaw.json'), JSON.stringify({ agents: { worker: {} } }));
    const r = await run([], dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /agent worker \(subagent\)/);
    assert.match(r.out, /network: none/);
  });

  void test('an upstream that is the gateway itself is an error at its path (SG_GATEWAY_UPSTREAM_SELF), in both shapes', async () => {
    const file = join(dir, 'self-upstream.json');
    writeFileSync(
      file,
      JSON.stringify({
        gateway: { listen: '127.0.0.1:3128', upstream: 'http://u:self-pw@127.0.0.1:3128' },
        agents: { w: {}, v: { proxy: 'http://localhost:3128' }, ok: { proxy: 'http://127.0.0.1:3129' } },
      }),
    );
    const r = await run(['--json', file]);
    assert.equal(r.code, 1, r.out);
    const report = JSON.parse(r.out) as { valid: boolean; issues: { path: string; code?: string }[] };
    assert.equal(report.valid, false);
    assert.deepEqual(
      report.issues.map((i) => [i.path, i.code]),
      [
        ['/gateway/upstream', 'SG_GATEWAY_UPSTREAM_SELF'],
        ['/agents/v/proxy', 'SG_GATEWAY_UPSTREAM_SELF'],
      ],
    );
    assert.ok(!r.out.includes('self-pw'), 'the upstream password is redacted');

    const native = join(dir, 'self-upstream-native.json');
    const P = '/plugins/entries/subagent-guard/config';
    writeFileSync(
      native,
      JSON.stringify({
        agents: { ownership: 'explicit', entries: { main: {}, w: {} } },
        plugins: {
          entries: {
            'subagent-guard': {
              config: {
                gateway: { listen: '127.0.0.1:3128' },
                agents: { w: { upstream: 'http://127.0.0.1:3128' } },
              },
            },
          },
        },
      }),
    );
    const t = await run([native]);
    assert.equal(t.code, 1, t.out);
    assert.match(
      t.out,
      new RegExp(`${P}/agents/w/upstream: upstream proxy .* \\[SG_GATEWAY_UPSTREAM_SELF\\]`),
    );

    // A random listen port (the default) can never be matched: no report.
    writeFileSync(
      file,
      JSON.stringify({ gateway: { upstream: 'http://127.0.0.1:3128' }, agents: { w: {} } }),
    );
    assert.equal((await run([file])).code, 0);
  });

  const usage: [string, string[], RegExp][] = [
    ['a missing file', ['nope.json'], /no such file/],
    ['a syntax error (with line:col)', ['invalid/syntax.json5'], /syntax\.json5:4:5/],
    ['an unknown option', ['--jsn'], /unknown option "--jsn"/],
    ['two config files', ['a.json', 'b.json'], /at most one config file/],
  ];
  for (const [name, argv, message] of usage) {
    void test(`${name} is a usage/IO error: exit 2, message on stderr`, async () => {
      const r = await run(argv);
      assert.equal(r.code, 2);
      assert.match(r.err, message);
      assert.equal(r.out, '');
    });
  }

  void test('--json with a missing file exits 2 with a JSON error report', async () => {
    const r = await run(['--json', 'nope.json']);
    assert.equal(r.code, 2);
    const report = JSON.parse(r.out) as { valid: boolean; error: { code: string } };
    assert.equal(report.valid, false);
    assert.equal(report.error.code, 'SG_CONFIG_READ');
  });

  void test('--help prints usage and exits 0', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /usage: subagent-guard check \[config\] \[--json\]/);
    assert.match(r.out, /0 valid, 1 invalid, 2 usage or I\/O error/);
  });
});

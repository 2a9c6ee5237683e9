import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gateway } from '../../src/cli/commands/gateway.js';
import type { CliIo } from '../../src/cli/io.js';
import { rawExchange } from '../helpers/gateway.js';
import { startBench, type Bench } from '../helpers/gateway-fixture.js';
import { startOpenProxy } from '../helpers/gateway-open-proxy.js';
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

void describe('gateway validate', () => {
  let b: Bench;
  before(async () => {
    b = await startBench({ id: 'validator' });
  });
  after(async () => {
    await b.close();
    assert.equal(b.trapHits(), 0);
  });

  void test('passes against our gateway, with the allowed URL reachable and the credential redacted', async () => {
    const c = io();
    const proxyUrl = `http://${b.id}:${b.password}@127.0.0.1:${b.port}`;
    const code = await gateway(
      ['validate', '--proxy-url', proxyUrl, '--allowed-url', `http://api.allowed.test:${b.originPort}/echo`],
      c,
    );
    assert.equal(code, 0, c.out());
    assert.match(c.out(), /PASS {2}canary via CONNECT/);
    assert.match(c.out(), /PASS {2}allowed .* reachable/);
    assert.ok(!c.out().includes(b.password), 'the password was printed');
    assert.ok(c.out().includes('***'));
  });

  void test('fails against an open forwarding proxy and exits 1', async () => {
    const open = await startOpenProxy();
    try {
      const c = io();
      const code = await gateway(
        ['validate', '--proxy-url', `http://u:pw-secret@127.0.0.1:${open.port}`, '--json'],
        c,
      );
      assert.equal(code, 1);
      const report = JSON.parse(c.out()) as { ok: boolean; checks: { name: string; ok: boolean }[] };
      assert.equal(report.ok, false);
      assert.equal(report.checks.find((x) => x.name === 'canary via CONNECT')?.ok, false);
      assert.equal(report.checks.find((x) => x.name.startsWith('canary via absolute-form'))?.ok, false);
      assert.ok(!c.out().includes('pw-secret'));
    } finally {
      await open.close();
    }
  });

  void test('exits 2 on usage errors', async () => {
    const c = io();
    await assert.rejects(gateway(['validate'], c), /--proxy-url/);
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
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { basic, closeServer, openTunnel, rawExchange, startUpstreamProxy } from '../helpers/gateway.js';
import { startBench, type Bench } from '../helpers/gateway-fixture.js';

const UP_USER = 'pool-user';
const UP_PASS = 'upstream-s3cret-Pa55';

void describe('egress gateway upstream chaining', () => {
  let b: Bench;
  let up: Awaited<ReturnType<typeof startUpstreamProxy>>;
  before(async () => {
    up = await startUpstreamProxy(basic(UP_USER, UP_PASS));
    b = await startBench({ gateway: { upstream: `http://${UP_USER}:${UP_PASS}@127.0.0.1:${up.port}` } });
  });
  after(async () => {
    await b.close();
    await closeServer(up.server);
    assert.equal(b.trapHits(), 0);
    const text = b.log.lines.join('\n');
    assert.ok(!text.includes(UP_PASS), 'the upstream password appears in the audit log');
    assert.ok(!text.includes(b.password));
  });

  void test('tunnels CONNECT through the upstream with the parent credential, targeting the checked IP', async () => {
    const s = await openTunnel(b.port, `api.allowed.test:${b.originPort}`, b.auth);
    s.write('GET /echo HTTP/1.1\r\nHost: api.allowed.test\r\nConnection: close\r\n\r\n');
    let text = '';
    for await (const d of s) text += (d as Buffer).toString();
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.equal(up.targets.at(-1), `127.0.0.2:${b.originPort}`);
    assert.equal(up.auths.at(-1), basic(UP_USER, UP_PASS));
  });

  void test('forwards absolute-form HTTP through an upstream tunnel; the subagent credential never reaches it', async () => {
    const r = await rawExchange(
      b.port,
      `GET http://api.allowed.test:${b.originPort}/echo HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 200, r.head);
    assert.equal(
      (JSON.parse(r.body) as { headers: { host: string } }).headers.host,
      `api.allowed.test:${b.originPort}`,
    );
    assert.ok(up.auths.length >= 2);
    for (const a of up.auths) {
      assert.equal(a, basic(UP_USER, UP_PASS));
      assert.ok(!a.includes(b.auth.slice(6)));
    }
    assert.ok(
      up.targets.every((t) => /^127\.0\.0\.2:\d+$/.test(t)),
      up.targets.join(','),
    );
  });

  void test('answers 502 upstream_refused when the upstream refuses the tunnel', async () => {
    const cred = b.gw.register({
      id: 'sub-badup',
      network: {
        allowed_domains: ['api.allowed.test'],
        allowed_ports: [b.originPort],
        allowed_cidrs: ['127.0.0.2/32'],
      },
      upstream: `http://${UP_USER}:wrong@127.0.0.1:${up.port}`,
    });
    const r = await rawExchange(
      b.port,
      `CONNECT api.allowed.test:${b.originPort} HTTP/1.1\r\nProxy-Authorization: ${basic(cred.username, cred.password)}\r\n\r\n`,
    );
    assert.equal(r.status, 502);
    assert.match(r.headers['proxy-status'] ?? '', /upstream_refused/);
    b.gw.revoke('sub-badup');
  });
});

void describe('egress gateway Unix listener', () => {
  let b: Bench;
  let dir: string;
  before(async () => {
    b = await startBench({ id: 'sub-u' });
    dir = mkdtempSync(join(tmpdir(), 'sg-gw-'));
  });
  after(async () => {
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function viaUnix(path: string, auth: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: path,
        path: `http://api.allowed.test:${b.originPort}/echo`,
        headers: {
          host: `api.allowed.test:${b.originPort}`,
          'proxy-authorization': auth,
          connection: 'close',
        },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => {
          resolve(res.statusCode ?? 0);
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  void test("accepts only its own subagent's credential and disappears on revoke", async () => {
    const other = b.gw.register({ id: 'sub-other', network: { allowed_domains: ['api.allowed.test'] } });
    const path = join(dir, 'gw.sock');
    await b.gw.listenUnix(b.id, path);
    assert.equal(await viaUnix(path, b.auth), 200);
    assert.equal(await viaUnix(path, basic(other.username, other.password)), 407);
    b.gw.revoke(b.id);
    assert.equal(existsSync(path), false, 'the socket file is removed on revoke');
    b.gw.revoke('sub-other');
  });
});

/**
 * Fuzzes the gateway's request parsing over real sockets: random and mutated request heads to a
 * real gateway in this process. It always answers with a status line within a bounded time, never
 * crashes, and keeps serving. Every dial goes to a loopback upstream proxy that records its
 * targets and relays to 127.0.0.0/8 only, so a parser bug can never send traffic elsewhere; the
 * test then checks that only the allowed origin was ever asked for.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { createEgressGateway, type EgressGateway } from '../../src/gateway/index.js';
import {
  basic,
  closeServer,
  collectingLogger,
  listen,
  startUpstreamProxy,
  tableResolver,
} from '../helpers/gateway.js';
import { check, runs } from '../helpers/security-fuzz.js';

const ORIGIN = '127.0.0.2';
const CASE_TIMEOUT_MS = 3000;

/** Sends bytes; resolves the first status code, 0 if the socket closed or timed out without one. */
function firstStatus(port: number, bytes: Buffer): Promise<{ status: number; closedSilently: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    let finished = false;
    const done = (status: number, closedSilently: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ status, closedSilently });
    };
    const timer = setTimeout(() => {
      done(0, false);
    }, CASE_TIMEOUT_MS);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buf += d;
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(buf);
      if (m?.[1] !== undefined) done(Number(m[1]), false);
      else if (buf.length >= 12) done(-1, false);
    });
    s.on('close', () => {
      done(0, true);
    });
    s.on('error', () => {
      done(0, true);
    });
    s.write(bytes);
  });
}

void describe('gateway request parser fuzz', () => {
  let gw: EgressGateway;
  let origin: Server;
  let originPort = 0;
  let auth = '';
  let upstream: Awaited<ReturnType<typeof startUpstreamProxy>>;

  before(async () => {
    origin = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
    origin.on('upgrade', (_req, sock) => {
      sock.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    originPort = await listen(origin, ORIGIN);
    const upstreamAuth = basic('up', 'up-secret-password');
    upstream = await startUpstreamProxy(upstreamAuth);
    const { resolver } = tableResolver({ 'api.allowed.test': [ORIGIN], 'trap.allowed.test': ['127.0.0.9'] });
    gw = await createEgressGateway({
      resolver,
      logger: collectingLogger().logger,
      upstream: `http://up:up-secret-password@127.0.0.1:${upstream.port}`,
      headersTimeoutMs: 300,
      idleTimeoutMs: 1500,
      dnsTimeoutMs: 200,
      connectTimeoutMs: 1000,
      maxRequestsPerSecond: 100_000,
    });
    const cred = gw.register({
      id: 'fuzz',
      network: {
        allowed_domains: ['api.allowed.test', 'trap.allowed.test', '127.0.0.2'],
        allowed_ports: [80, originPort],
        blocked_ports: [22],
        allowed_cidrs: ['127.0.0.2/32'],
      },
    });
    auth = basic(cred.username, cred.password);
  });

  after(async () => {
    await gw.close();
    await closeServer(origin);
    await closeServer(upstream.server);
  });

  const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
  const anyText = fc.string({ unit: 'binary-ascii', maxLength: 40 });
  const printable = fc.string({ maxLength: 40 });
  /** Mostly plausible, sometimes anything: a fuzzer that only sends garbage only tests the 400 path. */
  const mostly = <T>(likely: fc.Arbitrary<T>, rest: fc.Arbitrary<T>): fc.Arbitrary<T> =>
    fc.oneof({ arbitrary: likely, weight: 5 }, { arbitrary: rest, weight: 1 });
  const target = (): fc.Arbitrary<string> =>
    fc.oneof(
      fc.constantFrom(
        `http://api.allowed.test:${originPort}/x`,
        `api.allowed.test:${originPort}`,
        `ws://api.allowed.test:${originPort}/`,
        'http://trap.allowed.test/',
        'http://127.0.0.9/',
        'http://[::1]/',
        'http://0x7f000009/',
        `http://127.0.0.2:${originPort}/`,
        'http://evil.test/',
        '/',
        '*',
        'https://api.allowed.test/',
      ),
      fc
        .tuple(
          fc.constantFrom('http://', 'ws://', '', 'ftp://', 'http:\\\\'),
          fc.stringMatching(/^[a-z0-9.:[\]@%\\/#?x-]{0,30}$/),
        )
        .map(([a, b]) => a + b),
      anyText,
    );

  const head = (): fc.Arbitrary<string> =>
    fc
      .record({
        method: mostly(
          fc.constantFrom('GET', 'POST', 'CONNECT', 'PUT', 'HEAD', 'OPTIONS'),
          fc.oneof(fc.constantFrom('get', 'FOO', ''), token),
        ),
        target: target(),
        version: mostly(
          fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
          fc.constantFrom('HTTP/2.0', 'HTTP/1.1 ', '', 'http/1.1', 'HTTP/0.9'),
        ),
        headers: fc.array(
          fc.tuple(
            fc.oneof(
              fc.constantFrom(
                'Host',
                'Content-Length',
                'Transfer-Encoding',
                'Upgrade',
                'Connection',
                'Proxy_Authorization',
                'Expect',
              ),
              token,
            ),
            mostly(
              fc.oneof(
                fc.constantFrom(
                  'chunked',
                  '0',
                  '5',
                  'websocket',
                  'close',
                  '100-continue',
                  'api.allowed.test',
                ),
                printable,
              ),
              anyText,
            ),
          ),
          { maxLength: 5 },
        ),
        withAuth: mostly(fc.constant(true), fc.constant(false)),
        eol: mostly(fc.constant('\r\n'), fc.constant('\n')),
        truncate: mostly(fc.constant(false), fc.constant(true)),
      })
      .map((r) => {
        const lines = [`${r.method} ${r.target} ${r.version}`];
        if (r.withAuth) lines.push(`Proxy-Authorization: ${auth}`);
        for (const [k, v] of r.headers) lines.push(`${k}: ${v}`);
        const text = lines.join(r.eol) + r.eol + r.eol;
        return r.truncate ? text.slice(0, Math.max(1, Math.floor(text.length / 2))) : text;
      });

  const mutated = (): fc.Arbitrary<Buffer> =>
    fc
      .tuple(
        head(),
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.constantFrom('flip', 'insert', 'delete'),
            fc.constantFrom(0, 9, 10, 13, 32, 58, 64, 92, 127, 255),
          ),
          {
            maxLength: 3,
          },
        ),
      )
      .map(([h, edits]) => {
        const b = [...Buffer.from(h, 'latin1')];
        for (const [at, op, v] of edits) {
          const i = at % Math.max(1, b.length);
          if (op === 'flip') b[i] = v;
          else if (op === 'insert') b.splice(i, 0, v);
          else b.splice(i, 1);
        }
        return Buffer.from(b);
      });

  void test('always answers a status line within the bound, for random and mutated request heads', async () => {
    const statuses = new Map<number, number>();
    await check(
      'gateway.heads',
      fc.asyncProperty(
        mostly(
          mutated(),
          fc.uint8Array({ minLength: 1, maxLength: 200 }).map((u) => Buffer.from(u)),
        ),
        async (bytes) => {
          const r = await firstStatus(gw.address.port, bytes);
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          assert.ok(
            r.status >= 100 && r.status <= 599,
            `no status line (${r.closedSilently ? 'closed silently' : 'timed out or garbage'})`,
          );
        },
      ),
      runs(400),
    );
    // Some inputs must have passed parsing and reached each kind of answer.
    assert.ok((statuses.get(400) ?? 0) > 0, JSON.stringify([...statuses]));
    assert.ok((statuses.get(407) ?? 0) > 0, JSON.stringify([...statuses]));
    assert.ok((statuses.get(403) ?? 0) > 0, JSON.stringify([...statuses]));
    assert.ok((statuses.get(200) ?? 0) > 0, JSON.stringify([...statuses]));
  });

  void test('only the allowed origin was ever dialled (through the loopback upstream)', () => {
    for (const t of upstream.targets) assert.equal(t, `${ORIGIN}:${originPort}`);
  });

  void test('keeps serving after the fuzz run', async () => {
    const r = await firstStatus(
      gw.address.port,
      Buffer.from(
        `GET http://api.allowed.test:${originPort}/ HTTP/1.1\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
      ),
    );
    assert.equal(r.status, 200);
  });
});

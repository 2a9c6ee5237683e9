/**
 * A subagent's connections and unauthenticated requests are its own resource: counted, capped,
 * attributed, and bounded in the audit log. Idle connections to its Unix socket, keep-alive TCP
 * connections proven as it, a loop of requests without its credential, and a flood of refusals
 * that would each write a record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEgressGateway, type EgressGateway, type GatewayViolation } from '../../src/gateway/index.js';
import {
  basic,
  closeServer,
  collectingLogger,
  rawExchange,
  startOrigin,
  tableResolver,
} from '../helpers/gateway.js';
import { eventually } from '../helpers/spawner-harness.js';

const ORIGIN = '127.0.0.2';

/** Opens a connection (TCP port or Unix path); resolves once connected, or null when refused. */
function open(to: number | string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = typeof to === 'number' ? connect(to, '127.0.0.1') : connect({ path: to });
    s.once('connect', () => {
      resolve(s);
    });
    s.once('error', () => {
      resolve(null);
    });
  });
}

/** Sends one request on `s` and resolves the status and headers of its answer (body read whole). */
function ask(s: Socket, data: string): Promise<{ status: number; headers: string; closed: boolean }> {
  return new Promise((resolve) => {
    let buf = '';
    const finish = (closed: boolean): void => {
      s.off('data', onData);
      s.off('close', onClose);
      const head = buf.slice(0, Math.max(0, buf.indexOf('\r\n\r\n')));
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, closed });
    };
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length - end - 4 >= cl) finish(false);
    };
    const onClose = (): void => {
      finish(true);
    };
    s.on('data', onData);
    s.once('close', onClose);
    s.write(data);
  });
}

const openNow = (sockets: Socket[]): number => sockets.filter((s) => !s.destroyed && !s.closed).length;

void describe('gateway: connections and requests without a credential are bounded per subagent', () => {
  let gw: EgressGateway;
  let log: ReturnType<typeof collectingLogger>;
  let originPort = 0;
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  const dir = mkdtempSync(join(tmpdir(), 'sg-gwconn-'));
  const violations: { id: string; kind: GatewayViolation }[] = [];
  const network = (): Record<string, unknown> => ({
    allowed_domains: ['api.allowed.test'],
    allowed_ports: [originPort],
    allowed_cidrs: [`${ORIGIN}/32`],
  });
  const register = (id: string, extra: { countRequest?: () => boolean } = {}) =>
    gw.register({
      id,
      network: network(),
      onViolation: (kind) => violations.push({ id, kind }),
      ...extra,
    });
  const get = (auth: string | null, close = false): string =>
    `GET http://api.allowed.test:${originPort}/echo HTTP/1.1\r\nHost: api.allowed.test:${originPort}\r\n` +
    (auth === null ? '' : `Proxy-Authorization: ${auth}\r\n`) +
    (close ? 'Connection: close\r\n' : '') +
    '\r\n';

  before(async () => {
    origin = await startOrigin(ORIGIN);
    originPort = origin.port;
    log = collectingLogger();
    gw = await createEgressGateway({
      resolver: tableResolver({ 'api.allowed.test': [ORIGIN] }).resolver,
      logger: log.logger,
      maxConnectionsPerSubagent: 8,
      maxAuditRecordsPerSubagent: 20,
      maxRequestsPerSecond: 10_000,
    });
  });
  after(async () => {
    await gw.close();
    await closeServer(origin.server);
    rmSync(dir, { recursive: true, force: true });
  });

  void test('idle connections to a subagent’s Unix socket beyond its cap are closed and reported once', async () => {
    register('unix-idle');
    const path = join(dir, 'idle.sock');
    await gw.listenUnix('unix-idle', path);
    const sockets: Socket[] = [];
    for (let i = 0; i < 30; i++) {
      const s = await open(path);
      if (s !== null) sockets.push(s);
    }
    try {
      assert.ok(await eventually(() => openNow(sockets) <= 8), `${openNow(sockets)} connections stay open`);
      assert.deepEqual(
        violations.filter((v) => v.id === 'unix-idle'),
        [{ id: 'unix-idle', kind: 'connection_limit' }],
      );
    } finally {
      for (const s of sockets) s.destroy();
      gw.revoke('unix-idle');
    }
  });

  void test('keep-alive TCP connections proven as one subagent beyond its cap get 429 connection_limit', async () => {
    const c = register('tcp-keep');
    const auth = basic(c.username, c.password);
    const sockets: Socket[] = [];
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const s = await open(gw.address.port);
        assert.ok(s);
        sockets.push(s);
        statuses.push((await ask(s, get(auth))).status);
      }
      assert.deepEqual(statuses.slice(0, 8), Array<number>(8).fill(200));
      assert.deepEqual(statuses.slice(8), Array<number>(4).fill(429));
      assert.ok(await eventually(() => openNow(sockets) === 8), `${openNow(sockets)} connections stay open`);
      assert.deepEqual(
        violations.filter((v) => v.id === 'tcp-keep'),
        [{ id: 'tcp-keep', kind: 'connection_limit' }],
      );
      // Once some close, the subagent may open new ones again.
      for (const s of sockets.splice(0, 4)) s.destroy();
      await eventually(() => false, 100);
      const again = await rawExchange(gw.address.port, get(auth, true));
      assert.equal(again.status, 200);
    } finally {
      for (const s of sockets) s.destroy();
      gw.revoke('tcp-keep');
    }
  });

  void test('requests without the credential on a subagent’s own socket are its own: attributed, closed, a violation', async () => {
    register('unix-anon');
    const other = register('bystander');
    const path = join(dir, 'anon.sock');
    await gw.listenUnix('unix-anon', path);
    const answers: { status: number; headers: string; closed: boolean }[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await open(path);
      assert.ok(s);
      // No credential, then a sibling's valid one: neither is this socket's.
      const auth = i % 2 === 0 ? null : basic(other.username, other.password);
      const a = await ask(s, get(auth));
      answers.push(a);
      // Bounded: a gateway that keeps the connection fails the Connection: close check below.
      if (!a.closed)
        await Promise.race([new Promise((r) => s.once('close', r)), eventually(() => false, 1000)]);
      s.destroy();
    }
    gw.revoke('unix-anon');
    gw.revoke('bystander');
    assert.ok(
      answers.every((a) => a.status === 407 && /connection: close/i.test(a.headers)),
      'every refusal is a 407 that closes its connection',
    );
    const mine = log
      .records()
      .filter((r) => r['event'] === 'egress.decision' && r['subagentId'] === 'unix-anon');
    assert.equal(mine.length, 12, 'every refusal is attributed to the socket’s owner');
    assert.deepEqual(
      violations.filter((v) => v.id === 'unix-anon' || v.id === 'bystander'),
      [{ id: 'unix-anon', kind: 'auth_failures' }],
    );
  });

  void test('a subagent’s gateway records stop at the audit cap and the rest are summed up', async () => {
    const c = register('noisy', { countRequest: () => false });
    const auth = basic(c.username, c.password);
    for (let i = 0; i < 60; i++)
      assert.equal((await rawExchange(gw.address.port, get(auth, true))).status, 429);
    gw.revoke('noisy');
    const recs = log.records().filter((r) => r['subagentId'] === 'noisy');
    const decisions = recs.filter((r) => r['event'] === 'egress.decision');
    assert.equal(decisions.length, 20);
    const summaries = recs.filter((r) => r['event'] === 'egress.suppressed');
    assert.equal(summaries.length, 2, 'one when the cap is reached, one at revoke');
    const [atCap, atRevoke] = summaries;
    assert.equal(atCap?.['final'], false);
    assert.deepEqual(
      { final: atRevoke?.['final'], decisions: atRevoke?.['decisions'], reasons: atRevoke?.['reasons'] },
      { final: true, decisions: 40, reasons: { api_calls_exceeded: 40 } },
    );
  });

  void test('requests without a valid credential on the shared TCP listener: closed after 407, records rate-bounded', async () => {
    const before = log.records().length;
    const started = performance.now();
    const statuses: number[] = [];
    const closes: boolean[] = [];
    for (let round = 0; round < 20; round++) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const s = await open(gw.address.port);
          assert.ok(s);
          const a = await ask(s, get(i % 2 === 0 ? null : basic('nobody', 'wrong-password-wrong-password')));
          s.destroy();
          return a;
        }),
      );
      for (const a of batch) {
        statuses.push(a.status);
        closes.push(/connection: close/i.test(a.headers));
      }
    }
    const seconds = (performance.now() - started) / 1000;
    assert.ok(statuses.every((s) => s === 407));
    assert.ok(closes.every(Boolean), 'every 407 closes its connection');
    const written = log
      .records()
      .slice(before)
      .filter((r) => r['event'] === 'egress.decision' && r['subagentId'] === null).length;
    // Burst of 100, then 10 a second.
    assert.ok(
      written <= 100 + Math.ceil(seconds * 10) + 1,
      `${written} records for 400 requests in ${seconds} s`,
    );
    await gw.close();
    const summed = log
      .records()
      .slice(before)
      .filter((r) => r['event'] === 'egress.suppressed' && r['subagentId'] === null)
      .reduce((n, r) => n + Number(r['decisions']), 0);
    assert.equal(written + summed, 400, 'every request is either recorded or counted in a summary');
  });
});

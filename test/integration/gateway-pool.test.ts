import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createEgressGateway } from '../../src/gateway/index.js';
import {
  basic,
  closeServer,
  collectingLogger,
  listen,
  rawExchange,
  tableResolver,
} from '../helpers/gateway.js';

const ORIGIN = '127.0.0.2';

/** Resolves when `socket` closes; rejects after `ms` (far below the gateway's idle timeout). */
function closedWithin(socket: Socket, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      resolve();
      return;
    }
    const t = setTimeout(() => {
      reject(new Error(`socket still open after ${String(ms)} ms`));
    }, ms);
    socket.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

function until<T>(get: () => T | undefined, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      const v = get();
      if (v !== undefined) {
        resolve(v);
        return;
      }
      if (Date.now() - started > ms) {
        reject(new Error(`timed out waiting for ${what}`));
        return;
      }
      setTimeout(tick, 5);
    };
    tick();
  });
}

async function gatewayFor(opts: { upstream?: string; originPort: number }) {
  const log = collectingLogger();
  const { resolver } = tableResolver({ 'api.allowed.test': [ORIGIN] });
  const gw = await createEgressGateway({
    resolver,
    logger: log.logger,
    // Long on purpose: a connection that survives revoke would stay for this long.
    idleTimeoutMs: 60_000,
    ...(opts.upstream === undefined ? {} : { upstream: opts.upstream }),
  });
  const cred = gw.register({
    id: 'sub-pool',
    network: {
      allowed_domains: ['api.allowed.test'],
      allowed_cidrs: [`${ORIGIN}/32`],
      allowed_ports: [opts.originPort],
    },
  });
  return { gw, log, auth: basic(cred.username, cred.password), port: gw.address.port };
}

void describe('egress gateway HTTP pools and revoke', () => {
  void test('revoke while a pooled connection is still being dialled leaves no connection behind', async () => {
    // An upstream proxy that holds every CONNECT until the test lets it answer.
    const held: Socket[] = [];
    const upstream = createNetServer((s) => {
      s.on('error', () => s.destroy());
      s.once('data', () => held.push(s));
    });
    const upPort = await listen(upstream, '127.0.0.1');
    const originPort = 65001; // never dialled: the upstream only pretends to connect
    const { gw, log, auth, port } = await gatewayFor({
      upstream: `http://127.0.0.1:${String(upPort)}`,
      originPort,
    });
    try {
      const answer = rawExchange(
        port,
        `GET http://api.allowed.test:${String(originPort)}/ HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`,
      );
      const s = await until(() => held[0], 5000, 'the CONNECT at the upstream');
      gw.revoke('sub-pool');
      // The upstream now completes the handshake: the gateway must drop the connection at once
      // instead of parking it in a pool nobody can use any more.
      s.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      await closedWithin(s, 3000);
      const r = await answer;
      assert.notEqual(r.status, 200);
      const recsOf = (): Record<string, unknown>[] =>
        log.records().filter((x) => x.subagentId === 'sub-pool');
      await until(
        () => (recsOf().some((x) => x.event === 'egress.close') ? true : undefined),
        3000,
        'the close record',
      );
      const recs = recsOf();
      assert.equal(recs.filter((x) => x.event === 'egress.decision').length, 1);
      assert.equal(recs.filter((x) => x.event === 'egress.close').length, 1);
    } finally {
      for (const s of held) s.destroy();
      await gw.close();
      await closeServer(upstream);
    }
  });

  void test('revoke cuts an in-flight exchange and its pooled connection to the target', async () => {
    const waiting: { req: IncomingMessage; res: ServerResponse }[] = [];
    const origin = createHttpServer((req, res) => {
      waiting.push({ req, res });
    });
    const originPort = await listen(origin, ORIGIN);
    const { gw, log, auth, port } = await gatewayFor({ originPort });
    try {
      const answer = rawExchange(
        port,
        `GET http://api.allowed.test:${String(originPort)}/slow HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`,
      );
      const w = await until(() => waiting[0], 5000, 'the request at the origin');
      gw.revoke('sub-pool');
      await closedWithin(w.req.socket, 3000);
      const r = await answer;
      assert.equal(r.status, 0);
      const closeOf = (): Record<string, unknown>[] =>
        log.records().filter((x) => x.event === 'egress.close' && x.subagentId === 'sub-pool');
      await until(() => (closeOf().length > 0 ? true : undefined), 3000, 'the close record');
      assert.equal(closeOf().length, 1);
      assert.equal(closeOf()[0]?.end, 'revoked');
      const again = await rawExchange(
        port,
        `GET http://api.allowed.test:${String(originPort)}/ HTTP/1.1\r\nProxy-Authorization: ${auth}\r\n\r\n`,
      );
      assert.equal(again.status, 407);
    } finally {
      await gw.close();
      await closeServer(origin);
    }
  });

  void test('keeps one connection alive across sequential requests and reports connect time once', async () => {
    const sockets = new Set<Socket>();
    const origin = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
    origin.on('connection', (s: Socket) => sockets.add(s));
    const originPort = await listen(origin, ORIGIN);
    const { gw, log, auth, port } = await gatewayFor({ originPort });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await rawExchange(
          port,
          `GET http://api.allowed.test:${String(originPort)}/ HTTP/1.1\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
        );
        assert.equal(r.status, 200, r.head);
        assert.equal(r.body, 'ok');
      }
      assert.equal(sockets.size, 1);
      const closes = log.records().filter((x) => x.event === 'egress.close');
      assert.equal(closes.length, 3);
      assert.deepEqual(
        closes.map((c) => c.end),
        ['complete', 'complete', 'complete'],
      );
      assert.equal(closes[1]?.connectMs, 0);
      assert.equal(closes[2]?.connectMs, 0);
      assert.equal(typeof closes[0]?.connectMs, 'number');
    } finally {
      await gw.close();
      await closeServer(origin);
    }
  });

  void test('drops interim answers of the target and refuses an unsolicited 100 Continue with 502', async () => {
    const origin = createNetServer((s) => {
      s.on('error', () => s.destroy());
      s.once('data', (d: Buffer) => {
        const path = d.toString('latin1').split(' ')[1] ?? '';
        const interim =
          path === '/100'
            ? 'HTTP/1.1 100 Continue\r\n\r\n'
            : path === '/103'
              ? 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n'
              : '';
        s.end(`${interim}HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok`);
      });
    });
    const originPort = await listen(origin, ORIGIN);
    const { gw, auth, port } = await gatewayFor({ originPort });
    try {
      const get = (path: string) =>
        rawExchange(
          port,
          `GET http://api.allowed.test:${String(originPort)}${path} HTTP/1.1\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
        );
      const hints = await get('/103');
      assert.equal(hints.status, 200, hints.head);
      assert.equal(hints.body, 'ok');
      assert.ok(!/^link:/im.test(hints.head));
      const cont = await get('/100');
      assert.equal(cont.status, 502, cont.head);
      assert.match(cont.headers['proxy-status'] ?? '', /details="upstream_error"/);
    } finally {
      await gw.close();
      await closeServer(origin);
    }
  });
});

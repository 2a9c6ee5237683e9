/**
 * CONNECT and WebSocket upgrades share one admit-and-dial path: the same request abandoned or
 * revoked mid-dial is recorded the same way for both, and every WebSocket handshake that fails
 * after the dial is answered with a status line (or recorded as closed) exactly once. Loopback only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createEgressGateway, type EgressGateway } from '../../src/gateway/index.js';
import { basic, closeServer, collectingLogger, listen, rawExchange } from '../helpers/gateway.js';
import { waitUntil } from '../helpers/eventually.js';

const ORIGIN = '127.0.0.2';
const NAME = 'api.allowed.test';

/** A TCP server on `host` whose connections are handled by `onConn`; remembers its sockets. */
async function tcp(
  host: string,
  onConn: (s: Socket) => void,
): Promise<{ server: NetServer; port: number; sockets: Set<Socket>; received: () => number }> {
  const sockets = new Set<Socket>();
  let received = 0;
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => {
      received += d.length;
    });
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    onConn(s);
  });
  const port = await listen(server, host);
  return { server, port, sockets, received: () => received };
}

async function closeTcp(t: { server: NetServer; sockets: Set<Socket> }): Promise<void> {
  for (const s of t.sockets) s.destroy();
  await closeServer(t.server);
}

interface Env {
  gw: EgressGateway;
  id: string;
  auth: string;
  log: ReturnType<typeof collectingLogger>;
}

async function gateway(opts: {
  port: number;
  upstream?: string;
  idleTimeoutMs?: number;
  maxEgressBytes?: number;
}): Promise<Env> {
  const log = collectingLogger();
  const gw = await createEgressGateway({
    resolver: (name) =>
      name === NAME
        ? Promise.resolve([{ address: ORIGIN, family: 4 }])
        : Promise.reject(new Error('ENOTFOUND')),
    logger: log.logger,
    connectTimeoutMs: 10_000,
    maxTunnelsPerSubagent: 1,
    ...(opts.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.idleTimeoutMs }),
    ...(opts.upstream === undefined ? {} : { upstream: opts.upstream }),
  });
  const id = 'raw-1';
  const cred = gw.register({
    id,
    network: {
      allowed_domains: [NAME],
      allowed_ports: [opts.port],
      allowed_cidrs: [`${ORIGIN}/32`],
      log_all_traffic: true,
      ...(opts.maxEgressBytes === undefined ? {} : { max_egress_bytes: opts.maxEgressBytes }),
    },
  });
  return { gw, id, auth: basic(cred.username, cred.password), log };
}

const records = (env: Env, event: string): Record<string, unknown>[] =>
  env.log.records().filter((r) => r.event === event);

const KINDS = {
  CONNECT: (env: Env, port: number): string =>
    `CONNECT ${NAME}:${port} HTTP/1.1\r\nHost: ${NAME}:${port}\r\nProxy-Authorization: ${env.auth}\r\n\r\n`,
  GET: (env: Env, port: number): string =>
    `GET ws://${NAME}:${port}/chat HTTP/1.1\r\nHost: ${NAME}:${port}\r\nProxy-Authorization: ${env.auth}\r\n` +
    `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
} as const;

void describe('CONNECT and WebSocket: a dial that never completes', () => {
  // An upstream proxy that accepts the TCP connection and never answers the gateway's CONNECT, so
  // the dial of a checked address stays in progress for as long as the test needs.
  let upstream: Awaited<ReturnType<typeof tcp>>;
  before(async () => {
    upstream = await tcp('127.0.0.1', () => undefined);
  });
  after(async () => {
    await closeTcp(upstream);
  });

  for (const [method, requestText] of Object.entries(KINDS)) {
    void test(`${method}: a client that leaves mid-dial is recorded once as allowed with status 0 and client_closed, not as a failed dial`, async () => {
      const env = await gateway({ port: 443, upstream: `http://u:p@127.0.0.1:${upstream.port}` });
      try {
        const before = upstream.received();
        const s = connect(env.gw.address.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.write(requestText(env, 443));
        assert.ok(
          await waitUntil(() => upstream.received() > before),
          'the gateway never dialled the upstream',
        );
        // A reset, not a FIN: a half-closed client may still be waiting for its answer.
        s.resetAndDestroy();
        assert.ok(await waitUntil(() => records(env, 'egress.close').length > 0), 'no egress.close record');
        await new Promise((r) => setTimeout(r, 50));
        const d = records(env, 'egress.decision');
        const c = records(env, 'egress.close');
        assert.deepEqual(
          d.map((x) => [x.method, x.decision, x.reason, x.status]),
          [[method, 'allow', 'allowed', 0]],
        );
        assert.deepEqual(
          c.map((x) => [x.end, x.status]),
          [['client_closed', 0]],
        );
        // The slot came back: the next request is dialled, not refused for the tunnel cap.
        const r = await rawExchange(env.gw.address.port, requestText(env, 443), 300);
        assert.notEqual(r.status, 429, r.head);
      } finally {
        await env.gw.close();
      }
    });

    void test(`${method}: a credential revoked mid-dial is refused once as auth_invalid`, async () => {
      const env = await gateway({ port: 443, upstream: `http://u:p@127.0.0.1:${upstream.port}` });
      try {
        const before = upstream.received();
        const s = connect(env.gw.address.port, '127.0.0.1');
        s.on('error', () => undefined);
        const closed = new Promise((r) => s.once('close', r));
        s.write(requestText(env, 443));
        assert.ok(
          await waitUntil(() => upstream.received() > before),
          'the gateway never dialled the upstream',
        );
        env.gw.revoke(env.id);
        assert.ok(
          await waitUntil(() => s.destroyed || s.readableEnded, 2000),
          'revoke did not cut the client',
        );
        await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
        assert.ok(await waitUntil(() => records(env, 'egress.decision').length > 0));
        await new Promise((r) => setTimeout(r, 50));
        const d = records(env, 'egress.decision');
        assert.deepEqual(
          d.map((x) => [x.method, x.decision, x.reason]),
          [[method, 'deny', 'auth_invalid']],
        );
        assert.equal(records(env, 'egress.close').length, 0);
      } finally {
        await env.gw.close();
      }
    });
  }
});

void describe('WebSocket handshake failures after the dial', () => {
  const upgradeTo = (env: Env, port: number): string => KINDS.GET(env, port);

  void test('a target that accepts the connection but never answers the upgrade gets 502 after the idle timeout, and frees its slot', async () => {
    const silent = await tcp(ORIGIN, () => undefined);
    const env = await gateway({ port: silent.port, idleTimeoutMs: 300 });
    try {
      for (let i = 0; i < 2; i++) {
        // maxTunnelsPerSubagent is 1: the second handshake only gets this far if the first freed its slot.
        const r = await rawExchange(env.gw.address.port, upgradeTo(env, silent.port), 5000);
        assert.equal(r.status, 502, r.head);
        assert.match(r.headers['proxy-status'] ?? '', /details="upstream_error"/);
      }
      assert.ok(await waitUntil(() => silent.sockets.size === 0), 'the target connection was left open');
      assert.ok(await waitUntil(() => records(env, 'egress.close').length === 2));
      const d = records(env, 'egress.decision');
      assert.deepEqual(
        d.map((x) => [x.decision, x.reason, x.status]),
        [
          ['deny', 'upstream_error', 502],
          ['deny', 'upstream_error', 502],
        ],
      );
      for (const c of records(env, 'egress.close')) assert.equal(c.end, 'error');
    } finally {
      await env.gw.close();
      await closeTcp(silent);
    }
  });

  const refusing = (bodyBytes: number) => (s: Socket) => {
    s.once('data', () => {
      s.end(`HTTP/1.1 403 Forbidden\r\nContent-Length: ${bodyBytes}\r\n\r\n${'x'.repeat(bodyBytes)}`);
    });
  };

  for (const c of [
    {
      what: 'an oversized refusal body',
      body: 100 * 1024,
      cap: undefined,
      status: 502,
      reason: 'upstream_error',
    },
    {
      what: 'a refusal body beyond the egress byte cap',
      body: 1000,
      cap: 100,
      status: 429,
      reason: 'egress_bytes_exceeded',
    },
  ]) {
    void test(`${c.what} is answered ${c.status} ${c.reason} with a status line, recorded once`, async () => {
      const origin = await tcp(ORIGIN, refusing(c.body));
      const env = await gateway({
        port: origin.port,
        ...(c.cap === undefined ? {} : { maxEgressBytes: c.cap }),
      });
      try {
        const r = await rawExchange(env.gw.address.port, upgradeTo(env, origin.port), 5000);
        assert.equal(r.status, c.status, r.head);
        assert.match(r.headers['proxy-status'] ?? '', new RegExp(`details="${c.reason}"`));
        assert.ok(await waitUntil(() => records(env, 'egress.close').length === 1));
        const d = records(env, 'egress.decision');
        assert.equal(d.length, 1, JSON.stringify(d));
        assert.equal(d[0]?.reason, c.reason);
        assert.equal(records(env, 'egress.close')[0]?.status, c.status);
      } finally {
        await env.gw.close();
        await closeTcp(origin);
      }
    });
  }

  void test('a small refusal is relayed with its status and recorded once as allowed', async () => {
    const origin = await tcp(ORIGIN, refusing(5));
    const env = await gateway({ port: origin.port });
    try {
      const r = await rawExchange(env.gw.address.port, upgradeTo(env, origin.port), 5000);
      assert.equal(r.status, 403, r.head);
      assert.equal(r.body, 'xxxxx');
      assert.ok(await waitUntil(() => records(env, 'egress.close').length === 1));
      const d = records(env, 'egress.decision');
      assert.deepEqual(
        d.map((x) => [x.decision, x.status]),
        [['allow', 403]],
      );
      assert.equal(records(env, 'egress.close')[0]?.end, 'complete');
    } finally {
      await env.gw.close();
      await closeTcp(origin);
    }
  });
});

void describe('listening socket in front of the HTTP server', () => {
  void test('a connection that sends nothing gets 400 after headersTimeoutMs and one audit record', async () => {
    const log = collectingLogger();
    const gw = await createEgressGateway({ logger: log.logger, headersTimeoutMs: 200 });
    try {
      const s = connect(gw.address.port, '127.0.0.1');
      s.on('error', () => undefined);
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        text += d;
      });
      assert.ok(await waitUntil(() => text.includes('\r\n\r\n'), 4000), 'no answer to a silent connection');
      s.destroy();
      assert.match(text, /^HTTP\/1\.1 400 /);
      assert.equal(records({ gw, id: '', auth: '', log }, 'egress.decision').length, 1);
    } finally {
      await gw.close();
    }
  });
});

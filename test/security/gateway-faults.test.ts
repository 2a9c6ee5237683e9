/**
 * Faults around the gateway: an upstream proxy that is down, slow, resetting or refusing; a target
 * that resets; DNS that fails, hangs or answers garbage; an audit sink that is slow or fails.
 * Every fault gets a status line with the documented reason, is audited once, and the gateway keeps
 * serving afterwards. Loopback only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createEgressGateway, type EgressGateway, type Resolver } from '../../src/gateway/index.js';
import { basic, closeServer, collectingLogger, listen, rawExchange } from '../helpers/gateway.js';

const ORIGIN = '127.0.0.2';

interface Env {
  gw: EgressGateway;
  auth: string;
  log: ReturnType<typeof collectingLogger>;
}

async function gateway(opts: { upstream?: string; resolver?: Resolver; originPort: number }): Promise<Env> {
  const log = collectingLogger();
  const gw = await createEgressGateway({
    resolver: opts.resolver ?? (() => Promise.resolve([{ address: ORIGIN, family: 4 }])),
    logger: log.logger,
    dnsTimeoutMs: 200,
    connectTimeoutMs: 300,
    ...(opts.upstream === undefined ? {} : { upstream: opts.upstream }),
  });
  const cred = gw.register({
    id: 'f',
    network: {
      allowed_domains: ['api.allowed.test', 'reset.allowed.test'],
      allowed_ports: [opts.originPort],
      allowed_cidrs: ['127.0.0.2/32'],
    },
  });
  return { gw, auth: basic(cred.username, cred.password), log };
}

function decisions(env: Env): Record<string, unknown>[] {
  return env.log.records().filter((r) => r.event === 'egress.decision');
}

/** A TCP server with a custom connection handler on 127.0.0.1. */
async function tcp(
  onConn: (s: Socket) => void,
): Promise<{ server: NetServer; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    onConn(s);
  });
  const port = await listen(server, '127.0.0.1');
  return { server, port, sockets };
}

async function closeTcp(t: { server: NetServer; sockets: Set<Socket> }): Promise<void> {
  for (const s of t.sockets) s.destroy();
  await closeServer(t.server);
}

void describe('gateway faults', () => {
  let origin: Server;
  let originPort = 0;
  before(async () => {
    origin = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
    originPort = await listen(origin, ORIGIN);
  });
  after(async () => {
    await closeServer(origin);
  });

  const get = (env: Env, host = 'api.allowed.test'): string =>
    `GET http://${host}:${originPort}/ HTTP/1.1\r\nProxy-Authorization: ${env.auth}\r\nConnection: close\r\n\r\n`;
  const connectReq = (env: Env): string =>
    `CONNECT api.allowed.test:${originPort} HTTP/1.1\r\nProxy-Authorization: ${env.auth}\r\n\r\n`;

  /** Both request forms get `status`/`reason`, each audited once; then a direct gateway still serves. */
  async function expectFault(env: Env, status: number, reason: string): Promise<void> {
    for (const req of [get(env), connectReq(env)]) {
      const before = decisions(env).length;
      const r = await rawExchange(env.gw.address.port, req, 5000);
      assert.equal(r.status, status, r.head);
      assert.ok(r.headers['proxy-status']?.includes(`details="${reason}"`), r.head);
      const d = decisions(env).slice(before);
      assert.equal(d.length, 1, JSON.stringify(d));
      assert.equal(d[0]?.reason, reason);
    }
  }

  void test('upstream proxy down: 502 connect_refused, and the gateway keeps serving', async () => {
    const dead = await tcp(() => undefined);
    const port = dead.port;
    await closeTcp(dead);
    const env = await gateway({ upstream: `http://u:p@127.0.0.1:${port}`, originPort });
    try {
      await expectFault(env, 502, 'connect_refused');
    } finally {
      await env.gw.close();
    }
  });

  void test('upstream proxy that never answers CONNECT: 504 connect_timeout after connectTimeoutMs', async () => {
    const slow = await tcp(() => undefined);
    const env = await gateway({ upstream: `http://u:p@127.0.0.1:${slow.port}`, originPort });
    try {
      const t0 = performance.now();
      await expectFault(env, 504, 'connect_timeout');
      assert.ok(performance.now() - t0 < 4000, 'the connect timeout was not applied');
    } finally {
      await env.gw.close();
      await closeTcp(slow);
    }
  });

  void test('upstream proxy that resets the connection: 502 connect_failed', async () => {
    const reset = await tcp((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    const env = await gateway({ upstream: `http://u:p@127.0.0.1:${reset.port}`, originPort });
    try {
      await expectFault(env, 502, 'connect_failed');
    } finally {
      await env.gw.close();
      await closeTcp(reset);
    }
  });

  for (const [what, answer] of [
    ['refuses with 407', 'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n'],
    ['answers garbage', 'SSH-2.0-OpenSSH_9.6\r\n\r\n'],
  ] as const) {
    void test(`upstream proxy that ${what}: 502 upstream_refused`, async () => {
      const bad = await tcp((s) => {
        s.once('data', () => s.end(answer));
      });
      const env = await gateway({ upstream: `http://u:p@127.0.0.1:${bad.port}`, originPort });
      try {
        await expectFault(env, 502, 'upstream_refused');
      } finally {
        await env.gw.close();
        await closeTcp(bad);
      }
    });
  }

  void test('target that resets after the request: 502 upstream_error, audited once', async () => {
    const server = createNetServer((s) => {
      s.on('error', () => s.destroy());
      s.once('data', () => s.resetAndDestroy());
    });
    const port = await listen(server, ORIGIN);
    const env = await gateway({ originPort: port });
    try {
      const r = await rawExchange(
        env.gw.address.port,
        `GET http://api.allowed.test:${port}/ HTTP/1.1\r\nProxy-Authorization: ${env.auth}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(r.status, 502, r.head);
      assert.ok(r.headers['proxy-status']?.includes('details="upstream_error"'), r.head);
      assert.equal(decisions(env).length, 1);
    } finally {
      await env.gw.close();
      await closeServer(server);
    }
  });

  const dnsFaults: [string, Resolver, number, string][] = [
    ['a rejected lookup', () => Promise.reject(new Error('SERVFAIL')), 502, 'dns_error'],
    [
      'a resolver that throws synchronously',
      () => {
        throw new Error('resolver bug');
      },
      502,
      'dns_error',
    ],
    ['a lookup that never settles', () => new Promise(() => undefined), 504, 'dns_timeout'],
    ['an answer that is not a list', () => Promise.resolve('127.0.0.2' as never), 502, 'dns_error'],
    ['an answer without addresses', () => Promise.resolve([{ family: 4 } as never]), 502, 'dns_error'],
  ];
  for (const [what, resolver, status, reason] of dnsFaults) {
    void test(`DNS fault (${what}): ${status} ${reason}, and the next request is served`, async () => {
      let broken = true;
      const env = await gateway({
        resolver: (name) => (broken ? resolver(name) : Promise.resolve([{ address: ORIGIN, family: 4 }])),
        originPort,
      });
      try {
        await expectFault(env, status, reason);
        broken = false;
        const r = await rawExchange(env.gw.address.port, get(env));
        assert.equal(r.status, 200);
      } finally {
        await env.gw.close();
      }
    });
  }

  void test('slow audit sink: backpressure buffers the records, and every one arrives', async () => {
    const lines: string[] = [];
    let maxBuffered = 0;
    const sink: Writable = new Writable({
      highWaterMark: 256,
      write(chunk: Buffer, _enc, cb) {
        maxBuffered = Math.max(maxBuffered, sink.writableLength);
        setTimeout(() => {
          for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(l);
          cb();
        }, 2);
      },
    });
    const gw = await createEgressGateway({
      logger: pino({ level: 'info' }, sink),
      resolver: () => Promise.resolve([{ address: ORIGIN, family: 4 }]),
    });
    const cred = gw.register({
      id: 'slow',
      network: { allowed_domains: ['api.allowed.test'], allowed_ports: [originPort] },
    });
    const auth = basic(cred.username, cred.password);
    const N = 60;
    try {
      const answers = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          rawExchange(
            gw.address.port,
            `GET http://deny${i}.test:${originPort}/ HTTP/1.1\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
          ),
        ),
      );
      assert.ok(answers.every((a) => a.status === 403));
    } finally {
      await gw.close();
    }
    const deadline = Date.now() + 5000;
    while (sink.writableLength > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(maxBuffered > 0, 'the sink never applied backpressure; the test proves nothing');
    const denied = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.event === 'egress.decision');
    assert.equal(denied.length, N, 'audit records were lost');
    assert.deepEqual(new Set(denied.map((r) => r.host)).size, N);
  });

  for (const [what, makeSink] of [
    [
      'a stream whose writes fail',
      () =>
        new Writable({
          write(_c, _e, cb) {
            cb(new Error('EIO: audit disk failed'));
          },
        }),
    ],
    ['a file on a full disk (/dev/full)', () => pino.destination({ dest: '/dev/full', sync: false })],
  ] as const) {
    void test(`failing audit sink (${what}): the error surfaces on stderr, nothing crashes, the gateway fails closed`, async (t) => {
      if (what.includes('/dev/full') && process.platform !== 'linux') {
        t.skip('/dev/full is Linux-only');
        return;
      }
      const written: string[] = [];
      const realWrite = process.stderr.write.bind(process.stderr);
      t.mock.method(process.stderr, 'write', (chunk: string | Uint8Array, ...rest: never[]) => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        if (text.includes('audit sink failed')) {
          written.push(text);
          return true;
        }
        return realWrite(chunk, ...rest);
      });
      const sink = makeSink();
      const gw = await createEgressGateway({
        logger: pino({ level: 'info' }, sink),
        resolver: () => Promise.resolve([{ address: ORIGIN, family: 4 }]),
      });
      try {
        const cred = gw.register({
          id: 'fail',
          network: { allowed_domains: ['api.allowed.test'], allowed_ports: [originPort] },
        });
        const auth = basic(cred.username, cred.password);
        const req = `GET http://api.allowed.test:${originPort}/ HTTP/1.1\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`;
        const deadline = Date.now() + 3000;
        while (written.length === 0 && Date.now() < deadline) {
          await rawExchange(gw.address.port, req);
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(written.length, 1, 'the sink failure was not reported (exactly once) on stderr');
        const r = await rawExchange(gw.address.port, req);
        assert.equal(r.status, 500, r.head);
        assert.ok(r.headers['proxy-status']?.includes('details="internal_error"'), r.head);
      } finally {
        await gw.close();
        // The sink is ours, not the gateway's: silence and release it (a file sink holds a descriptor).
        sink.on('error', () => undefined);
        sink.destroy();
      }
    });
  }
});

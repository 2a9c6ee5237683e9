/**
 * The gateway's fast paths keep their guarantees: the reusable tunnel read buffer delivers every
 * byte intact and in order (also bytes a target sends before the tunnel is up, and under client
 * backpressure), counts them, and still cuts at the byte cap; keep-alive pooling to the origin
 * keeps every connection a burst opened instead of re-dialling.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent, createServer as createHttpServer, request, type Server } from 'node:http';
import { connect, createServer, type Server as NetServer } from 'node:net';
import { createEgressGateway, type EgressGateway } from '../../src/gateway/index.js';
import { basic, closeServer, collectingLogger, listen } from '../helpers/gateway.js';

const HOST = '127.0.0.2';
const BANNER = 'HELLO-FROM-TARGET\r\n';

/** Deterministic pseudo-random bytes, so a reordered or overwritten chunk changes the hash. */
function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * A raw TCP target: sends the banner at once (before the client could say anything), then on
 * `B<n>\n` sends `n` pattern bytes and closes.
 */
async function startTarget(): Promise<{ server: NetServer; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => s.destroy());
    s.write(BANNER);
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl < 0) return;
      s.off('data', onData);
      s.end(pattern(Number(head.slice(1, nl))));
    };
    s.on('data', onData);
  });
  return { server, port: await listen(server, HOST) };
}

/**
 * Opens a CONNECT tunnel and sends `line` right behind the request (pipelined bytes belong to
 * the tunnel). Collects every byte from the first read on, so nothing the target sends early can
 * slip past a listener; resolves what followed the 200 head once the socket closes (bounded).
 * `slow` pauses the reader now and then so the gateway meets backpressure.
 */
function tunnelRead(
  port: number,
  authority: string,
  auth: string,
  line: string,
  slow: boolean,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('tunnel read timeout'));
    }, 20_000);
    s.on('data', (d: Buffer) => {
      parts.push(d);
      if (slow && parts.length % 8 === 0) {
        s.pause();
        setTimeout(() => s.resume(), 2);
      }
    });
    s.on('error', () => s.destroy());
    s.once('close', () => {
      clearTimeout(t);
      const all = Buffer.concat(parts);
      const end = all.indexOf('\r\n\r\n');
      if (!all.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 200') || end < 0) {
        reject(new Error(`tunnel refused: ${all.subarray(0, 200).toString('latin1')}`));
        return;
      }
      resolve(all.subarray(end + 4));
    });
    s.write(
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${auth}\r\n\r\n${line}`,
    );
  });
}

void describe('egress gateway tunnel relay', () => {
  let target: { server: NetServer; port: number };
  let gw: EgressGateway;
  const log = collectingLogger();
  const limits: string[] = [];
  let auth = '';
  let capAuth = '';
  before(async () => {
    target = await startTarget();
    gw = await createEgressGateway({ logger: log.logger });
    const network = { allowed_domains: [HOST], allowed_ports: [target.port], allowed_cidrs: [`${HOST}/32`] };
    const c = gw.register({ id: 'relay', network });
    auth = basic(c.username, c.password);
    const cap = gw.register({
      id: 'relay-cap',
      network: { ...network, max_egress_bytes: 100_000 },
      onLimit: (kind) => limits.push(kind),
    });
    capAuth = basic(cap.username, cap.password);
  });
  after(async () => {
    await gw.close();
    await closeServer(target.server);
  });

  void test('delivers bytes the target sent before the tunnel was established, and counts them', async () => {
    const got = await tunnelRead(gw.address.port, `${HOST}:${target.port}`, auth, 'B0\n', false);
    assert.equal(got.toString('latin1'), BANNER);
    assert.equal(gw.usage('relay').bytesIn, BANNER.length);
  });

  void test('carries 8 MiB intact and in order to a client that reads slowly', async () => {
    const n = 8 * 1024 * 1024;
    const before = gw.usage('relay').bytesIn;
    const body = await tunnelRead(gw.address.port, `${HOST}:${target.port}`, auth, `B${n}\n`, true);
    assert.equal(body.length, BANNER.length + n);
    assert.equal(body.subarray(0, BANNER.length).toString('latin1'), BANNER);
    assert.equal(sha(body.subarray(BANNER.length)), sha(pattern(n)));
    assert.equal(gw.usage('relay').bytesIn - before, BANNER.length + n);
  });

  void test('cuts an inbound tunnel transfer at the egress byte cap and reports it once', async () => {
    const body = await tunnelRead(
      gw.address.port,
      `${HOST}:${target.port}`,
      capAuth,
      `B${1024 * 1024}\n`,
      false,
    );
    assert.ok(body.length <= 100_000, `${body.length} bytes crossed the cap`);
    assert.ok(gw.usage('relay-cap').bytesIn <= 100_000);
    assert.deepEqual(limits, ['egress_bytes']);
    const close = log.records().find((r) => r['event'] === 'egress.close' && r['subagentId'] === 'relay-cap');
    assert.equal(close?.['end'], 'egress_bytes_exceeded');
  });
});

void describe('egress gateway keep-alive pool', () => {
  let origin: Server;
  let originPort = 0;
  let connections = 0;
  let gw: EgressGateway;
  let auth = '';
  before(async () => {
    origin = createHttpServer({ keepAliveTimeout: 30_000 }, (_req, res) => {
      res.end('ok');
    });
    origin.on('connection', () => {
      connections++;
    });
    originPort = await listen(origin, HOST);
    gw = await createEgressGateway({ logger: collectingLogger().logger });
    const c = gw.register({
      id: 'pool',
      network: { allowed_domains: [HOST], allowed_ports: [originPort], allowed_cidrs: [`${HOST}/32`] },
    });
    auth = basic(c.username, c.password);
  });
  after(async () => {
    await gw.close();
    await closeServer(origin);
  });

  void test('reuses every pooled connection after a burst of 32 concurrent requests', async () => {
    const clientAgent = new Agent({ keepAlive: true, maxSockets: 32 });
    const get = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request({
          host: '127.0.0.1',
          port: gw.address.port,
          path: `http://${HOST}:${originPort}/`,
          headers: { host: `${HOST}:${originPort}`, 'proxy-authorization': auth },
          agent: clientAgent,
          timeout: 5000,
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => {
            resolve(res.statusCode ?? 0);
          });
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      });
    try {
      for (let round = 0; round < 5; round++) {
        const statuses = await Promise.all(Array.from({ length: 32 }, get));
        assert.ok(statuses.every((s) => s === 200));
      }
    } finally {
      clientAgent.destroy();
    }
    // 160 requests in bursts of 32: a pool that keeps only some sockets re-dials every round.
    assert.ok(connections <= 32, `${connections} upstream connections for 160 requests`);
  });
});

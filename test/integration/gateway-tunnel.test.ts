import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { openTunnel, rawExchange } from '../helpers/gateway.js';
import { ORIGIN_HOST, startBench, type Bench } from '../helpers/gateway-fixture.js';

/** Reads from a socket until `pred` holds for the collected text (bounded in time). */
function readUntil(s: Socket, pred: (text: string) => boolean, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const t = setTimeout(() => {
      s.off('data', onData);
      reject(new Error(`timeout; got ${JSON.stringify(text.slice(0, 200))}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      if (pred(text)) {
        clearTimeout(t);
        s.off('data', onData);
        resolve(text);
      }
    };
    s.on('data', onData);
  });
}

/** A masked client text frame (payload < 126 bytes). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] ?? 0)));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

void describe('egress gateway CONNECT tunnels', () => {
  let b: Bench;
  before(async () => {
    b = await startBench({ id: 'sub-t' });
  });
  after(async () => {
    await b.close();
    assert.equal(b.trapHits(), 0);
    assert.ok(!b.log.lines.join('\n').includes(b.password));
  });

  void test('relays raw bytes through a CONNECT tunnel to the checked address', async () => {
    const s = await openTunnel(b.port, `api.allowed.test:${b.originPort}`, b.auth);
    s.write(`GET /echo HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n`);
    const text = await readUntil(s, (t) => t.includes('"url":"/echo"'));
    assert.match(text, /^HTTP\/1\.1 200/);
    s.destroy();
  });
});

void describe('egress gateway WebSocket', () => {
  let b: Bench;
  let wss: WebSocketServer;
  let wsPort = 0;
  before(async () => {
    wss = new WebSocketServer({ host: ORIGIN_HOST, port: 0 });
    await once(wss, 'listening');
    const a = wss.address();
    wsPort = typeof a === 'object' && a !== null ? a.port : 0;
    wss.on('connection', (ws) => {
      ws.on('message', (m: Buffer) => {
        ws.send(`echo:${m.toString()}`);
      });
    });
    b = await startBench({ id: 'sub-ws', network: { allowed_ports: [80, 22, wsPort] } });
  });
  after(async () => {
    await b.close();
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => {
      wss.close(() => {
        r();
      });
    });
    assert.equal(b.trapHits(), 0);
  });

  void test('carries a WebSocket through a CONNECT tunnel (ws client)', async () => {
    const tunnel = await openTunnel(b.port, `api.allowed.test:${wsPort}`, b.auth);
    const ws = new WebSocket(`ws://api.allowed.test:${wsPort}/chat`, { createConnection: () => tunnel });
    await once(ws, 'open');
    ws.send('hi');
    const [msg] = (await once(ws, 'message')) as [Buffer];
    assert.equal(msg.toString(), 'echo:hi');
    ws.terminate();
  });

  void test('carries an absolute-form WebSocket upgrade and relays frames both ways', async () => {
    const key = randomBytes(16).toString('base64');
    const req = request({
      host: '127.0.0.1',
      port: b.port,
      path: `ws://api.allowed.test:${wsPort}/chat`,
      headers: {
        host: `api.allowed.test:${wsPort}`,
        'proxy-authorization': b.auth,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': key,
        'sec-websocket-version': '13',
      },
    });
    req.end();
    const [res, socket] = (await once(req, 'upgrade')) as [IncomingMessage, Socket];
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    assert.equal(res.statusCode, 101);
    assert.equal(res.headers['sec-websocket-accept'], accept);
    socket.write(clientFrame('ping'));
    const text = await readUntil(socket, (t) => t.includes('echo:ping'));
    assert.equal(text.charCodeAt(0), 0x81);
    socket.destroy();
  });

  void test('refuses an absolute-form upgrade to a prohibited address with 403', async () => {
    const r = await rawExchange(
      b.port,
      `GET ws://127.0.0.9:${wsPort}/ HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    assert.equal(r.status, 403);
  });

  void test('refuses a non-WebSocket upgrade (h2c) with 400', async () => {
    const r = await rawExchange(
      b.port,
      `GET http://api.allowed.test:${wsPort}/ HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n`,
    );
    assert.equal(r.status, 400);
  });
});

void describe('egress gateway revoke', () => {
  let b: Bench;
  before(async () => {
    b = await startBench({ id: 'sub-r' });
  });
  after(async () => {
    await b.close();
    assert.equal(b.trapHits(), 0);
  });

  void test('revoke cuts a live CONNECT tunnel at once and later requests get 407', async () => {
    const s = await openTunnel(b.port, `api.allowed.test:${b.originPort}`, b.auth);
    s.write(`GET /echo HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n`);
    await readUntil(s, (t) => t.includes('"url":"/echo"'));
    const closed = once(s, 'close');
    b.gw.revoke(b.id);
    const timer = setTimeout(() => s.destroy(new Error('tunnel still open 2 s after revoke')), 2000);
    await closed;
    clearTimeout(timer);
    assert.equal(s.errored, null, 'the tunnel was not cut by revoke');
    const r = await rawExchange(
      b.port,
      `CONNECT api.allowed.test:${b.originPort} HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\n\r\n`,
    );
    assert.equal(r.status, 407);
    const closeRec = b.log.records().find((x) => x.event === 'egress.close' && x.end === 'revoked');
    assert.ok(closeRec, 'no egress.close with end=revoked');
    assert.ok(b.gw.usage(b.id).requests >= 1, 'usage is kept after revoke');
    b.gw.revoke(b.id);
  });
});

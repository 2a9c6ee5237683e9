import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { fetch, ProxyAgent } from 'undici';
import { rawExchange } from '../helpers/gateway.js';
import { startBench, type Bench } from '../helpers/gateway-fixture.js';

const MB = 1024 * 1024;

interface Proxy {
  port: number;
  auth: string;
  originPort: number;
}

/** Streams `total` bytes as a POST through the gateway; resolves the origin's JSON answer. */
function upload(p: Proxy, total: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: p.port,
      method: 'POST',
      path: `http://api.allowed.test:${p.originPort}/upload`,
      headers: {
        host: `api.allowed.test:${p.originPort}`,
        'proxy-authorization': p.auth,
        'content-length': String(total),
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(256 * 1024, 97);
    let left = total;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

/** Downloads `/bytes?n=total` through the gateway, counting bytes without keeping them. */
function download(p: Proxy, total: number): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: p.port,
      path: `http://api.allowed.test:${p.originPort}/bytes?n=${total}`,
      headers: { host: `api.allowed.test:${p.originPort}`, 'proxy-authorization': p.auth },
    });
    req.on('response', (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, bytes });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Peak resident set (VmHWM) of a process, bytes; undefined where /proc is unavailable. */
function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Starts the gateway in a child process (so its memory can be measured alone). */
async function startChildGateway(originPort: number): Promise<{ child: ChildProcess; proxy: Proxy }> {
  const script = fileURLToPath(new URL('../helpers/gateway-child.js', import.meta.url));
  const child = spawn(process.execPath, [script, String(originPort)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => {
      reject(new Error('child gateway did not start'));
    }, 10_000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(t);
        resolve(buf.slice(0, i));
      }
    });
    child.once('exit', () => {
      clearTimeout(t);
      reject(new Error('child gateway exited'));
    });
  });
  const info = JSON.parse(line) as { port: number; auth: string };
  return { child, proxy: { port: info.port, auth: info.auth, originPort } };
}

void describe('egress gateway HTTP forwarding', () => {
  let b: Bench;
  before(async () => {
    b = await startBench();
  });
  after(async () => {
    await b.close();
    assert.equal(b.trapHits(), 0);
    assert.ok(!b.log.lines.join('\n').includes(b.password));
  });

  void test('strips proxy and hop-by-hop headers (and their spelling variants) before forwarding', async () => {
    const r = await rawExchange(
      b.port,
      `GET http://api.allowed.test:${b.originPort}/echo?q=1 HTTP/1.1\r\n` +
        `Proxy-Authorization: ${b.auth}\r\nProxy_Authorization: ${b.auth}\r\nProxy-Connection: keep-alive\r\n` +
        `Keep-Alive: 5\r\nTE: trailers\r\nX-Hop: secret\r\nConnection: close, X-Hop\r\nX-Kept: yes\r\n\r\n`,
    );
    assert.equal(r.status, 200, r.head);
    const seen = b.seen.at(-1);
    assert.ok(seen);
    assert.equal(seen.url, '/echo?q=1');
    assert.equal(seen.headers.host, `api.allowed.test:${b.originPort}`);
    assert.equal(seen.headers['x-kept'], 'yes');
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const n of [
      'proxy-authorization',
      'proxy_authorization',
      'proxy-connection',
      'keep-alive',
      'te',
      'x-hop',
    ]) {
      assert.ok(!names.includes(n), `${n} was forwarded`);
    }
    assert.ok(!seen.rawHeaders.join('\n').includes(b.password));
  });

  void test('passes response headers through, keeping repeated Set-Cookie and dropping hop-by-hop ones', async () => {
    const r = await rawExchange(
      b.port,
      `GET http://api.allowed.test:${b.originPort}/echo HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 200);
    assert.equal((r.head.match(/^set-cookie:/gim) ?? []).length, 2);
    assert.ok(!/^x-hop:/im.test(r.head));
  });

  void test('passes redirects through without following them', async () => {
    const r = await rawExchange(
      b.port,
      `GET http://api.allowed.test:${b.originPort}/redirect HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://127.0.0.9/');
    assert.equal(b.trapHits(), 0);
  });

  void test('works with a real client (undici ProxyAgent) and keeps the connection alive', async () => {
    const dispatcher = new ProxyAgent({
      uri: `http://127.0.0.1:${b.port}`,
      token: b.auth,
      proxyTunnel: false,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`http://api.allowed.test:${b.originPort}/echo?i=${i}`, { dispatcher });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { url: string };
        assert.equal(body.url, `/echo?i=${i}`);
      }
      const denied = await fetch(`http://evil.test:${b.originPort}/`, { dispatcher });
      assert.equal(denied.status, 403);
      assert.match(denied.headers.get('proxy-status') ?? '', /host_not_allowed/);
    } finally {
      await dispatcher.close();
    }
  });

  void test('streams a chunked upload body to the origin', async () => {
    const r = await rawExchange(
      b.port,
      `POST http://api.allowed.test:${b.originPort}/echo HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\n` +
        `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`,
    );
    assert.equal(r.status, 200, r.head);
    assert.equal((JSON.parse(r.body) as { bodyBytes: number }).bodyBytes, 11);
  });

  void test('streams 100 MB up and 100 MB down while the gateway process stays far below the body size', async (t) => {
    const { child, proxy } = await startChildGateway(b.originPort);
    try {
      if (peakRss(child.pid ?? 0) === undefined) {
        t.skip('no /proc/PID/status on this platform: cannot measure the gateway peak RSS');
        return;
      }
      // Warm up first: allocator and GC settle at a plateau that has nothing to do with buffering.
      assert.equal((await upload(proxy, 32 * MB)).status, 200);
      assert.equal((await download(proxy, 32 * MB)).bytes, 32 * MB);
      const base = peakRss(child.pid ?? 0) ?? 0;
      const up = await upload(proxy, 100 * MB);
      assert.equal(up.status, 200);
      assert.equal((JSON.parse(up.body) as { bodyBytes: number }).bodyBytes, 100 * MB);
      const down = await download(proxy, 100 * MB);
      assert.equal(down.status, 200);
      assert.equal(down.bytes, 100 * MB);
      const peak = peakRss(child.pid ?? 0) ?? 0;
      // Buffering either body would add at least 100 MB.
      assert.ok(peak - base < 48 * MB, `gateway peak RSS grew by ${Math.round((peak - base) / MB)} MB`);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.end();
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    }
  });

  void test('counts streamed bytes in usage()', async () => {
    const before = b.gw.usage(b.id);
    const up = await upload(b, 2 * MB);
    assert.equal(up.status, 200);
    const down = await download(b, 3 * MB);
    assert.equal(down.bytes, 3 * MB);
    const after = b.gw.usage(b.id);
    assert.ok(after.bytesOut - before.bytesOut >= 2 * MB);
    assert.ok(after.bytesIn - before.bytesIn >= 3 * MB);
    assert.equal(after.requests - before.requests, 2);
  });

  void test('answers 502 connect_refused when the allowed target refuses the connection', async () => {
    const r = await rawExchange(
      b.port,
      `GET http://api.allowed.test/ HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(r.status, 502);
    assert.match(r.headers['proxy-status'] ?? '', /error=connection_refused; details="connect_refused"/);
  });

  void test('audits allowed exchanges with a decision and a close record carrying bytes and timings', () => {
    const recs = b.log.records();
    const allow = recs.find(
      (r) => r.event === 'egress.decision' && r.decision === 'allow' && r.method === 'POST',
    );
    assert.ok(allow);
    assert.equal(allow.address, '127.0.0.2');
    const close = recs.find(
      (r) => r.event === 'egress.close' && typeof r.bytesOut === 'number' && r.bytesOut >= 2 * MB,
    );
    assert.ok(close);
    for (const k of [
      'subagentId',
      'agent',
      'parent',
      'method',
      'host',
      'port',
      'address',
      'status',
      'bytesIn',
      'durationMs',
    ]) {
      assert.ok(k in close, `close record lacks ${k}`);
    }
    assert.ok(!recs.some((r) => JSON.stringify(r).includes('/echo')), 'a request path was logged');
  });
});

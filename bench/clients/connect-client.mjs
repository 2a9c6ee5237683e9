#!/usr/bin/env node
// CONNECT load client. Talks to the origin's TCP server either directly (the limit) or through a
// proxy with a CONNECT request (Proxy-Authorization when given).
//   bulk:   node connect-client.mjs bulk   '{"proxy":"127.0.0.1:P"|null,"auth":"Basic ..","target":"127.0.0.2:T","bytes":N}'
//           one tunnel, downloads N bytes; prints {"bytes","ms","mbPerSec"}
//   setups: node connect-client.mjs setups '{"proxy":..,"auth":..,"target":..,"concurrency":8,"seconds":S}'
//           each of `concurrency` loops: connect, CONNECT, 200, one byte echoed end to end, close;
//           prints {"setups","errors","seconds","perSec","p50Ms","p99Ms"}
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

const [mode, json] = process.argv.slice(2);
const o = JSON.parse(json ?? '{}');

const READ_BUFFER = Buffer.allocUnsafe(4 * 1024 * 1024);

/**
 * Opens a socket to the target, through the proxy's CONNECT when one is given. Reads go into one
 * reused buffer (`onread`) so the client is not the bottleneck of a bulk transfer. Resolves with
 * the socket, a setter for the data handler, and the bytes that followed the proxy's response head.
 */
function openTunnel() {
  return new Promise((resolve, reject) => {
    const [h, p] = (o.proxy ?? o.target).split(':');
    let handler = () => {};
    const s = connect({
      host: h,
      port: Number(p),
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (n, buf) => handler(buf.subarray(0, n)) },
    });
    const tunnel = { socket: s, onData: (fn) => (handler = fn), rest: Buffer.alloc(0) };
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('tunnel setup timed out'));
    }, 10_000);
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (o.proxy === null || o.proxy === undefined) {
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(tunnel);
      });
      return;
    }
    s.once('connect', () => {
      const auth = o.auth ? `Proxy-Authorization: ${o.auth}\r\n` : '';
      s.write(`CONNECT ${o.target} HTTP/1.1\r\nHost: ${o.target}\r\n${auth}\r\n`);
    });
    let head = Buffer.alloc(0);
    handler = (d) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16_384) s.destroy(new Error('oversized CONNECT response'));
        return;
      }
      handler = () => {};
      clearTimeout(timer);
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.[01] 200/.test(status)) {
        s.destroy();
        reject(new Error(`CONNECT refused: ${status}`));
        return;
      }
      tunnel.rest = head.subarray(end + 4);
      resolve(tunnel);
    };
  });
}

async function bulk() {
  const { socket, rest, onData } = await openTunnel();
  const want = o.bytes;
  const req = Buffer.alloc(9);
  req[0] = 0x42;
  req.writeBigUInt64BE(BigInt(want), 1);
  const t0 = performance.now();
  let got = rest.length;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bulk transfer timed out at ${got} bytes`)), 300_000);
    onData((d) => {
      got += d.length;
      if (got >= want) {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.once('error', reject);
    socket.once('close', () => {
      clearTimeout(timer);
      if (got >= want) resolve();
      else reject(new Error(`tunnel closed at ${got} of ${want} bytes`));
    });
    socket.write(req);
  });
  const ms = performance.now() - t0;
  socket.destroy();
  return { bytes: got, ms, mbPerSec: got / 1e6 / (ms / 1000) };
}

async function oneSetup() {
  const t0 = performance.now();
  const { socket, rest, onData } = await openTunnel();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo timed out')), 10_000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (rest.length > 0) return done();
    onData(done);
    socket.once('error', reject);
    socket.write('Ex');
  });
  socket.destroy();
  return performance.now() - t0;
}

async function setups() {
  const lat = [];
  let errors = 0;
  let lastError = '';
  const deadline = performance.now() + o.seconds * 1000;
  const start = performance.now();
  const loop = async () => {
    while (performance.now() < deadline) {
      try {
        lat.push(await oneSetup());
      } catch (e) {
        errors++;
        lastError = String(e?.message ?? e);
        if (errors > 1000) return;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  const seconds = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p) =>
    lat[Math.min(lat.length - 1, Math.max(0, Math.ceil((p / 100) * lat.length) - 1))] ?? null;
  return {
    setups: lat.length,
    errors,
    lastError,
    seconds,
    perSec: lat.length / seconds,
    p50Ms: pct(50),
    p99Ms: pct(99),
  };
}

try {
  const r = mode === 'bulk' ? await bulk() : await setups();
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ error: String(e?.message ?? e) })}\n`);
  process.exit(1);
}

#!/usr/bin/env node
// Benchmark origin on 127.0.0.2: an HTTP server answering every request with a 100-byte body, and
// a TCP server for tunnels. TCP protocol: the client sends 'B' + a 64-bit big-endian byte count and
// receives that many bytes (bulk), or 'E' and gets every further byte echoed back (setups).
// GET /__stats answers {"connections": N} (HTTP connections accepted so far).
// Prints one JSON line {"http":PORT,"tcp":PORT} when both listen. Exits when stdin closes or on SIGTERM.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { once } from 'node:events';

const host = process.argv[2] ?? '127.0.0.2';
const BODY = Buffer.from('x'.repeat(99) + '\n');
const CHUNK = Buffer.alloc(1024 * 1024, 0x61);

let httpConnections = 0;
const http = createHttpServer(
  { keepAliveTimeout: 120_000, headersTimeout: 60_000, requestTimeout: 0 },
  (req, res) => {
    req.resume();
    if (req.url === '/__stats') {
      // How many connections proxies opened to the origin: a pool that churns shows up here.
      res.end(JSON.stringify({ connections: httpConnections }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  },
);
http.maxRequestsPerSocket = 0;
http.on('connection', () => httpConnections++);

function bulk(socket, total) {
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const ok = socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!ok) {
        socket.once('drain', pump);
        return;
      }
    }
    socket.end();
  };
  pump();
}

const tcp = createTcpServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  let head = Buffer.alloc(0);
  const onData = (d) => {
    head = Buffer.concat([head, d]);
    if (head[0] === 0x45 /* E */) {
      socket.off('data', onData);
      if (head.length > 1) socket.write(head.subarray(1));
      socket.pipe(socket);
      return;
    }
    if (head[0] === 0x42 /* B */ && head.length >= 9) {
      socket.off('data', onData);
      socket.resume();
      bulk(socket, Number(head.readBigUInt64BE(1)));
      return;
    }
    if (head.length >= 9 || (head[0] !== 0x42 && head[0] !== 0x45)) socket.destroy();
  };
  socket.on('data', onData);
});

http.listen(0, host);
tcp.listen(0, host);
await Promise.all([once(http, 'listening'), once(tcp, 'listening')]);
process.stdout.write(`${JSON.stringify({ http: http.address().port, tcp: tcp.address().port })}\n`);

const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

/**
 * A deliberately OPEN forward proxy for negative tests of `gateway validate`. Safety: it only
 * ever dials 127.0.0.0/8 (after WHATWG host parsing; `localhost` counts as 127.0.0.1) and
 * answers 502 for every other destination, so it can never reach anything off this machine.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { listen } from './gateway.js';

function loopbackOnly(hostname: string): string | null {
  const h = hostname === 'localhost' ? '127.0.0.1' : hostname;
  return /^127\.\d+\.\d+\.\d+$/.test(h) ? h : null;
}

export async function startOpenProxy(): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    let u: URL;
    try {
      u = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const host = loopbackOnly(u.hostname);
    if (host === null) {
      res.writeHead(502).end();
      return;
    }
    const up = request(
      { host, port: Number(u.port || 80), path: u.pathname + u.search, method: req.method },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on('connect', (req: IncomingMessage, client: Socket) => {
    client.on('error', () => client.destroy());
    let u: URL;
    try {
      u = new URL(`http://${req.url ?? ''}`);
    } catch {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const host = loopbackOnly(u.hostname);
    if (host === null) {
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const up = connect(Number(u.port || 443), host, () => {
      sockets.add(up);
      up.once('close', () => sockets.delete(up));
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
    client.on('close', () => up.destroy());
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const port = await listen(server, '127.0.0.1');
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * Test helpers for the egress gateway: a collecting audit logger, loopback origins, a trap
 * server, a recording resolver, raw-socket clients and a small upstream proxy. Everything binds
 * and dials 127.0.0.0/8 only.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import {
  connect,
  createServer as createNetServer,
  isIP,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Resolver } from '../../src/gateway/index.js';

/** A pino logger whose records are collected in memory. */
export function collectingLogger(): {
  logger: Logger;
  lines: string[];
  records(): Record<string, unknown>[];
} {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(l);
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  return {
    logger,
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Listens on `host`, port 0; resolves the port. */
export function listen(server: Server | NetServer, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : 0);
    });
  });
}

/** Closes a server and every connection it has. */
export function closeServer(server: Server | NetServer): Promise<void> {
  return new Promise((resolve) => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close(() => {
      resolve();
    });
  });
}

/** What the origin saw of one request. */
export interface OriginSeen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  bodyBytes: number;
}

/**
 * An HTTP origin: `/echo` answers JSON of the request it saw; `/bytes?n=N` streams N bytes;
 * `/redirect` answers 302; POST bodies are counted and discarded.
 */
export async function startOrigin(
  host: string,
): Promise<{ server: Server; port: number; seen: OriginSeen[] }> {
  const seen: OriginSeen[] = [];
  const server = createHttpServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => {
      bodyBytes += c.length;
    });
    req.on('end', () => {
      const s: OriginSeen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes,
      };
      seen.push(s);
      const u = new URL(req.url ?? '/', 'http://origin');
      if (u.pathname === '/bytes') {
        let left = Number(u.searchParams.get('n') ?? '0');
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
        const chunk = Buffer.alloc(64 * 1024, 120);
        const pump = (): void => {
          while (left > 0) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if (u.pathname === '/redirect') {
        res.writeHead(302, { location: 'http://127.0.0.9/' });
        res.end();
        return;
      }
      const json = JSON.stringify(s);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(json)),
        'set-cookie': ['a=1', 'b=2'],
        'x-hop': 'origin-hop',
        connection: req.headers.connection === 'close' ? 'close, x-hop' : 'keep-alive, x-hop',
      });
      res.end(json);
    });
  });
  const port = await listen(server, host);
  return { server, port, seen };
}

/** A TCP server that must never be reached: counts every connection. */
export async function startTrap(
  host: string,
): Promise<{ server: NetServer; port: number; hits: () => number }> {
  let hits = 0;
  const server = createNetServer((s) => {
    hits++;
    s.destroy();
  });
  const port = await listen(server, host);
  return { server, port, hits: () => hits };
}

/** A resolver backed by a table, recording every name it is asked for. */
export function tableResolver(table: Record<string, string[] | 'hang' | 'fail'>): {
  resolver: Resolver;
  calls: string[];
} {
  const calls: string[] = [];
  const resolver: Resolver = (name) => {
    calls.push(name);
    const e = table[name];
    if (e === 'hang') return new Promise(() => undefined);
    if (e === 'fail' || e === undefined) return Promise.reject(new Error(`ENOTFOUND ${name}`));
    return Promise.resolve(
      e.map((address) => ({ address, family: isIP(address) === 6 ? (6 as const) : (4 as const) })),
    );
  };
  return { resolver, calls };
}

/** Basic credential header value. */
export function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** A parsed raw HTTP response head. */
export interface RawResponse {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: string;
}

function parseHead(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const m = /^HTTP\/1\.[01] ([0-9]{3})/.exec(statusLine);
  return {
    status: m?.[1] === undefined ? 0 : Number(m[1]),
    head,
    headers,
    body: end < 0 ? '' : text.slice(end + 4),
  };
}

/**
 * Sends raw bytes and reads the first response (until the peer closes, the response's
 * Content-Length is complete, or `timeoutMs`). Resolves status 0 when nothing came back.
 */
export function rawExchange(
  port: number,
  data: string | Buffer,
  timeoutMs = 5000,
  host = '127.0.0.1',
): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let buf = '';
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseHead(buf));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buf += d;
      const r = parseHead(buf);
      const cl = r.headers['content-length'];
      if (buf.includes('\r\n\r\n') && cl !== undefined && Buffer.byteLength(r.body, 'latin1') >= Number(cl))
        done();
      if (
        r.status === 200 &&
        /^CONNECT/.test(typeof data === 'string' ? data : '') &&
        buf.includes('\r\n\r\n')
      )
        done();
    });
    socket.on('close', done);
    socket.on('error', done);
    socket.write(data);
  });
}

/** Opens a CONNECT tunnel through `proxyPort`; resolves the socket once 200 arrives. */
export function openTunnel(
  proxyPort: number,
  authority: string,
  auth: string,
  timeoutMs = 5000,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxyPort, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('tunnel timeout'));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      clearTimeout(timer);
      const status = buf.subarray(0, 12).toString('latin1');
      if (!status.startsWith('HTTP/1.1 200')) {
        socket.destroy();
        reject(new Error(`tunnel refused: ${buf.subarray(0, end).toString('latin1')}`));
        return;
      }
      const rest = buf.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.on('data', onData);
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.write(
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${auth}\r\n\r\n`,
    );
  });
}

/**
 * A minimal CONNECT-only upstream proxy on loopback that records the Proxy-Authorization and
 * target of every CONNECT, and dials only 127.0.0.0/8 (anything else gets 502).
 */
export async function startUpstreamProxy(
  requiredAuth: string,
): Promise<{ server: Server; port: number; auths: (string | undefined)[]; targets: string[] }> {
  const auths: (string | undefined)[] = [];
  const targets: string[] = [];
  const server = createHttpServer((_req, res) => {
    res.writeHead(405);
    res.end();
  });
  server.on('connect', (req: IncomingMessage, client: Socket) => {
    client.on('error', () => client.destroy());
    auths.push(req.headers['proxy-authorization']);
    targets.push(req.url ?? '');
    if (req.headers['proxy-authorization'] !== requiredAuth) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(req.url ?? '');
    if (m?.[1] === undefined || !m[1].startsWith('127.')) {
      client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const up = connect(Number(m[2]), m[1], () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => {
      client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
    client.on('close', () => up.destroy());
  });
  const port = await listen(server, '127.0.0.1');
  return { server, port, auths, targets };
}

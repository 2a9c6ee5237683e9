/**
 * Loopback origins that misbehave the way a hostile server may, written with raw sockets and
 * large precomputed writes so the origin itself costs the test process (which is also the
 * orchestrator under test) almost nothing:
 *   /drip?bytes=N   N body bytes as N chunks of 1 byte each (chunked encoding)
 *   /slow           one 1-byte chunk every 200 ms, never ending
 *   /ext            one chunk whose extension never ends (`1;a=aaaa…`)
 *   /ctl?bytes=N    N bytes of 0x01 (each becomes six bytes under JSON escaping)
 *   /big?bytes=N    N bytes of 'a'
 *   /redirect?to=U  302 to U
 *   anything else   a small JSON body
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface HostileOrigin {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

const BLOCK = 64 * 1024;
const DRIP_UNIT = Buffer.from('1\r\na\r\n');
const DRIP_BLOCK = Buffer.concat(Array.from({ length: BLOCK / DRIP_UNIT.length }, () => DRIP_UNIT));

function head(status: number, headers: Record<string, string>): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  return `HTTP/1.1 ${status} X\r\n${lines.join('')}connection: close\r\n\r\n`;
}

/** Writes `total` bytes produced in blocks by `block(n)`, respecting backpressure. */
function pump(socket: Socket, total: number, block: (n: number) => Buffer, done: () => void): void {
  let left = total;
  const more = (): void => {
    while (left > 0 && !socket.destroyed) {
      const n = Math.min(left, BLOCK);
      left -= n;
      if (!socket.write(block(n))) {
        socket.once('drain', more);
        return;
      }
    }
    if (!socket.destroyed) done();
  };
  more();
}

function answer(socket: Socket, target: string, timers: Set<NodeJS.Timeout>): void {
  const url = new URL(target, 'http://x');
  const bytes = Number(url.searchParams.get('bytes') ?? '0');
  switch (url.pathname) {
    case '/drip': {
      socket.write(head(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }));
      const units = bytes;
      pump(
        socket,
        units * DRIP_UNIT.length,
        (n) => DRIP_BLOCK.subarray(0, n - (n % DRIP_UNIT.length)),
        () => socket.end('0\r\n\r\n'),
      );
      return;
    }
    case '/slow': {
      socket.write(head(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }));
      const t = setInterval(() => {
        if (socket.destroyed) clearInterval(t);
        else socket.write(DRIP_UNIT);
      }, 200);
      timers.add(t);
      socket.once('close', () => {
        clearInterval(t);
        timers.delete(t);
      });
      return;
    }
    case '/ext': {
      socket.write(head(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }));
      socket.write('1;a=');
      const filler = Buffer.alloc(BLOCK, 0x61);
      // Bounded for the test's sake (64 MiB); a hostile origin would not stop.
      pump(
        socket,
        64 * 1024 * 1024,
        (n) => filler.subarray(0, n),
        () => socket.end(),
      );
      return;
    }
    case '/ctl':
    case '/big': {
      const fill = Buffer.alloc(BLOCK, url.pathname === '/ctl' ? 0x01 : 0x61);
      socket.write(head(200, { 'content-type': 'text/plain', 'content-length': String(bytes) }));
      pump(
        socket,
        bytes,
        (n) => fill.subarray(0, n),
        () => socket.end(),
      );
      return;
    }
    case '/redirect':
      socket.end(head(302, { location: url.searchParams.get('to') ?? '/', 'content-length': '0' }));
      return;
    default: {
      const body = JSON.stringify({ hello: 'world' });
      socket.end(
        head(200, { 'content-type': 'application/json', 'content-length': String(body.length) }) + body,
      );
    }
  }
}

/** Starts the origin on `host` (a 127.0.0.0/8 address). */
export async function startHostileOrigin(host: string): Promise<HostileOrigin> {
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString('latin1');
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) {
        if (seen.length > 64 * 1024) socket.destroy();
        return;
      }
      socket.off('data', onData);
      // Absolute form (through a proxy) or origin form: the path is what matters here.
      const target = (seen.split(' ')[1] ?? '/').replace(/^https?:\/\/[^/]+/, '') || '/';
      answer(socket, target, timers);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return {
    host,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

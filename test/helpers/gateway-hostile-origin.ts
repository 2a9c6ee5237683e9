/**
 * A raw loopback origin that answers the way a hostile server would: huge chunk extensions,
 * 1-byte chunks, a byte at a time. Raw sockets, so nothing on this side re-frames the answer.
 */
import { createServer, type Server, type Socket } from 'node:net';

/** The origin and what it wrote. */
export interface HostileOrigin {
  readonly port: number;
  /** Bytes written to clients so far (all connections). */
  written(): number;
  close(): Promise<void>;
}

const HEAD =
  'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';

/** Writes `total` bytes from `make(n)` pieces with backpressure; resolves false if the socket died. */
async function pump(socket: Socket, total: number, piece: Buffer, count: { n: number }): Promise<boolean> {
  let left = total;
  while (left > 0) {
    if (socket.destroyed) return false;
    const out = left >= piece.length ? piece : piece.subarray(0, left);
    left -= out.length;
    count.n += out.length;
    if (!socket.write(out)) {
      const ok = await new Promise<boolean>((resolve) => {
        const onDrain = (): void => {
          socket.off('close', onClose);
          resolve(true);
        };
        const onClose = (): void => {
          socket.off('drain', onDrain);
          resolve(false);
        };
        socket.once('drain', onDrain);
        socket.once('close', onClose);
      });
      if (!ok) return false;
    }
  }
  return true;
}

/**
 * Paths: `/ext?bytes=N` one 1-byte chunk whose extension is N bytes long; `/ones?n=N` N chunks
 * of one byte each (written in batches, as a fast server would); `/drip` a 1-byte chunk every
 * 200 ms, forever.
 */
export async function startHostileOrigin(host: string): Promise<HostileOrigin> {
  const count = { n: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((socket) => {
    socket.on('error', () => {
      socket.destroy();
    });
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const url = new URL(/^[A-Z]+ (\S+)/.exec(head)?.[1] ?? '/', 'http://origin');
      void answer(socket, url).catch(() => socket.destroy());
    };
    socket.on('data', onData);
  });
  const answer = async (socket: Socket, url: URL): Promise<void> => {
    const write = (s: string): void => {
      count.n += s.length;
      socket.write(s);
    };
    write(HEAD);
    if (url.pathname === '/ext') {
      const bytes = Number(url.searchParams.get('bytes') ?? '0');
      write('1;a=');
      if (!(await pump(socket, bytes, Buffer.alloc(64 * 1024, 0x78), count))) return;
      write('\r\nZ\r\n0\r\n\r\n');
      socket.end();
      return;
    }
    if (url.pathname === '/ones') {
      const n = Number(url.searchParams.get('n') ?? '0');
      const batch = Buffer.from('1\r\na\r\n'.repeat(1000), 'latin1');
      if (!(await pump(socket, n * 6, batch, count))) return;
      write('0\r\n\r\n');
      socket.end();
      return;
    }
    // /drip
    const t = setInterval(() => {
      if (socket.destroyed) {
        clearInterval(t);
        timers.delete(t);
        return;
      }
      write('1\r\na\r\n');
    }, 200);
    timers.add(t);
    socket.once('close', () => {
      clearInterval(t);
      timers.delete(t);
    });
  };
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  return {
    port: addr.port,
    written: () => count.n,
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

/**
 * Raw byte relaying between a subagent and a target (CONNECT tunnels, upgraded WebSockets) and
 * streaming of HTTP bodies, with backpressure, per-chunk accounting and the egress byte cap.
 *
 * The cap is checked before a chunk is forwarded: the chunk that would cross it never leaves.
 */
import { Socket } from 'node:net';
import type { Readable, Writable, Duplex } from 'node:stream';
import type { Registration } from './registration.js';

/** Direction of a chunk: `in` = target to subagent, `out` = subagent to target. */
export type Direction = 'in' | 'out';

/** Counts a chunk against the registration; false when it would cross the egress byte cap. */
export function account(reg: Registration, dir: Direction, n: number): boolean {
  if (!reg.bytesAllowed(n)) {
    reg.limit('egress_bytes', `egress byte cap of ${reg.maxEgressBytes ?? 0} bytes reached`);
    return false;
  }
  if (dir === 'in') reg.usage.bytesIn += n;
  else reg.usage.bytesOut += n;
  return true;
}

/**
 * Streams `src` into `dst` chunk by chunk with backpressure. Calls `onCapExceeded` (and stops)
 * when a chunk would cross the byte cap; ends `dst` when `src` ends.
 */
export function relay(
  src: Readable,
  dst: Writable,
  reg: Registration,
  dir: Direction,
  counter: { n: number },
  onCapExceeded: () => void,
): void {
  let stopped = false;
  const onDrain = (): void => {
    src.resume();
  };
  src.on('data', (chunk: Buffer) => {
    if (stopped) return;
    if (!account(reg, dir, chunk.length)) {
      stopped = true;
      src.pause();
      onCapExceeded();
      return;
    }
    counter.n += chunk.length;
    if (!dst.write(chunk)) src.pause();
  });
  dst.on('drain', onDrain);
  src.once('end', () => {
    if (!stopped) dst.end();
  });
}

function setIdle(s: Duplex, ms: number): void {
  if (s instanceof Socket) s.setTimeout(ms);
}

/** How a tunnel ended. */
export interface TunnelEnd {
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly end: string;
}

/**
 * Splices two sockets into a tunnel. Half-closes propagate; when one side is fully closed the
 * other is ended and, if it does not close within a grace period, destroyed. `onEnd` fires once,
 * after both sides are closed.
 */
export function splice(
  client: Duplex,
  target: Duplex,
  opts: { reg: Registration; idleTimeoutMs: number; onEnd: (e: TunnelEnd) => void },
): void {
  const reg = opts.reg;
  const bytesIn = { n: 0 };
  const bytesOut = { n: 0 };
  let reason: string | undefined;
  let closed = 0;
  const kill = (why: string): void => {
    reason ??= why;
    client.destroy();
    target.destroy();
  };
  const onCap = (): void => {
    kill('egress_bytes_exceeded');
  };
  relay(client, target, reg, 'out', bytesOut, onCap);
  relay(target, client, reg, 'in', bytesIn, onCap);
  const onClose = (other: Duplex, label: string) => (): void => {
    closed++;
    if (closed === 2) {
      const end = reg.revoked ? 'revoked' : (reason ?? label);
      opts.onEnd({ bytesIn: bytesIn.n, bytesOut: bytesOut.n, end });
      return;
    }
    reason ??= label;
    if (!other.writableEnded) other.end();
    const grace = setTimeout(() => other.destroy(), 5000);
    grace.unref();
    other.once('close', () => {
      clearTimeout(grace);
    });
  };
  client.once('close', onClose(target, 'client_closed'));
  target.once('close', onClose(client, 'target_closed'));
  const onError = (): void => {
    kill('error');
  };
  client.on('error', onError);
  target.on('error', onError);
  const onIdle = (): void => {
    kill('idle_timeout');
  };
  setIdle(client, opts.idleTimeoutMs);
  setIdle(target, opts.idleTimeoutMs);
  client.on('timeout', onIdle);
  target.on('timeout', onIdle);
  client.resume();
  target.resume();
}

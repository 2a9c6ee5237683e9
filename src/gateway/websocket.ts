/**
 * Absolute-form WebSocket upgrades (`GET ws://host/path` with `Upgrade: websocket`).
 *
 * The handshake goes through node's HTTP client so the target's answer is parsed, not blindly
 * relayed: only a real `101` turns the connection into a raw tunnel. Any other answer is relayed
 * as a normal response and the connection is closed, so a client cannot smuggle a second,
 * unchecked request over a connection the gateway believes is a WebSocket.
 *
 * Every handshake ends with exactly one decision record and one close record: the decision is
 * made when the client is actually answered (101, the target's refusal, or our own refusal with
 * a status line), or, when the client leaves first, recorded with status 0.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { admitAndDial, type Connected } from './admit.js';
import type { GatewayCore, ListenerScope } from './admission.js';
import type { Registration } from './registration.js';
import { forwardRequestHeaders, forwardResponseHeaders, rawHeadersSafe } from './headers.js';
import { answerFor } from './reasons.js';
import { writeRawRefusal } from './status.js';
import { hostHeaderFor } from './target.js';
import { account, splice } from './tunnel.js';
import type { GatewayReason } from './types.js';

/** Largest non-101 answer relayed; a refusal body has no business being larger. */
const MAX_REFUSAL_BODY = 64 * 1024;

function headBlock(status: number, message: string, flat: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message.replace(/[\r\n]/g, ' ')}\r\n`;
  for (let i = 0; i < flat.length; i += 2) head += `${flat[i] ?? ''}: ${flat[i + 1] ?? ''}\r\n`;
  return `${head}\r\n`;
}

/** Handles a request node routed to 'upgrade'. */
export async function handleUpgrade(
  core: GatewayCore,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  scope: ListenerScope,
): Promise<void> {
  const c = await admitAndDial(core, req, socket, 'upgrade', scope);
  if (c !== undefined) handshake(core, req, socket, head, c);
}

type Failure = Extract<GatewayReason, 'upstream_error' | 'egress_bytes_exceeded' | 'internal_error'>;

function handshake(
  core: GatewayCore,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  c: Connected,
): void {
  const a = c.admission;
  const reg = a.reg;
  const target = c.target;
  let decided = false;
  let settled = false;
  let upgraded = false;
  let out: ClientRequest | undefined;

  const allow = (status: number): void => {
    if (decided) return;
    decided = true;
    core.allow(a, c.address, status, c.connectMs);
  };
  const settle = (status: number, end: string, bytesIn = 0, bytesOut = 0): void => {
    if (settled) return;
    settled = true;
    allow(status);
    a.release();
    core.closed(a, { address: c.address, status, connectMs: c.connectMs, bytesIn, bytesOut, end });
  };
  /** Ends the handshake on our side: a refusal with a status line unless the client was answered. */
  const fail = (reason: Failure): void => {
    if (settled) return;
    out?.destroy();
    target.destroy();
    if (decided) socket.destroy();
    else {
      decided = true;
      core.refuse(reg, {
        method: a.method,
        host: a.target.hostText,
        port: a.target.port,
        reason,
        rule: null,
        address: c.address,
        dnsMs: a.dnsMs,
        connectMs: c.connectMs,
      });
      writeRawRefusal(socket, reason);
    }
    settle(answerFor(reason).status, reason === 'egress_bytes_exceeded' ? reason : 'error');
  };

  socket.once('close', () => {
    if (settled || upgraded) return;
    out?.destroy();
    target.destroy();
    settle(0, reg.revoked ? 'revoked' : 'client_closed');
  });

  try {
    // Inside the try with the request itself: whatever throws here must still free the slot.
    const headers = forwardRequestHeaders(req.rawHeaders, { upgrade: true });
    headers.push('Host', hostHeaderFor(a.target));
    out = request({
      method: 'GET',
      path: a.target.path,
      headers,
      setHost: false,
      createConnection: () => {
        target.resume();
        return target;
      },
    });
  } catch {
    // A request node refuses to build must still free its slot, close the target and be answered.
    fail('internal_error');
    return;
  }
  // A target that accepts the connection but never answers the handshake (or trickles a refusal)
  // must not hold a tunnel slot and two sockets forever: the idle timeout applies until upgrade.
  const o = out;
  o.setTimeout(core.settings.idleTimeoutMs, () => {
    if (!upgraded) o.destroy(new Error('websocket handshake timed out'));
  });
  o.on('error', () => {
    fail('upstream_error');
  });
  o.on('upgrade', (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    if (settled) {
      upSocket.destroy();
      return;
    }
    const flat = forwardResponseHeaders(res.rawHeaders, { upgrade: true });
    if (!rawHeadersSafe(flat)) {
      fail('upstream_error');
      return;
    }
    upgraded = true;
    allow(101);
    socket.write(headBlock(101, res.statusMessage ?? 'Switching Protocols', flat));
    if (upHead.length > 0) {
      if (!account(reg, 'in', upHead.length)) {
        // The 101 is out: the cap ends the tunnel before its first byte, recorded as such.
        upSocket.destroy();
        socket.destroy();
        settle(101, 'egress_bytes_exceeded');
        return;
      }
      socket.write(upHead);
    }
    if (head.length > 0) socket.unshift(head);
    splice(socket, upSocket, {
      reg,
      idleTimeoutMs: core.settings.idleTimeoutMs,
      onEnd: (e) => {
        settle(101, e.end, e.bytesIn + upHead.length, e.bytesOut);
      },
    });
  });
  o.on('response', (res: IncomingMessage) => {
    relayRefusal(res, reg, {
      fail,
      answer: (status, bytes) => {
        allow(status);
        socket.end(bytes);
        target.destroy();
        settle(status, 'complete', bytes.length);
      },
    });
  });
  o.end();
}

/**
 * Not upgraded: the target's answer is read (bounded), re-framed with a Content-Length and
 * `Connection: close`, and relayed; the connection never becomes a tunnel.
 */
function relayRefusal(
  res: IncomingMessage,
  reg: Registration,
  to: { fail: (reason: Failure) => void; answer: (status: number, bytes: Buffer) => void },
): void {
  const status = res.statusCode ?? 502;
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_REFUSAL_BODY) chunks.push(chunk);
    // Stop reading instead of discarding forever.
    else to.fail('upstream_error');
  });
  res.on('error', () => {
    to.fail('upstream_error');
  });
  res.on('end', () => {
    if (size > MAX_REFUSAL_BODY) return;
    const body = Buffer.concat(chunks);
    const fixed: string[] = [];
    const flat = forwardResponseHeaders(res.rawHeaders, { upgrade: false });
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i] ?? '';
      if (!/^content-length$/i.test(name)) fixed.push(name, flat[i + 1] ?? '');
    }
    fixed.push('Content-Length', String(body.length), 'Connection', 'close');
    if (!rawHeadersSafe(fixed)) {
      to.fail('upstream_error');
      return;
    }
    if (!account(reg, 'in', body.length)) {
      to.fail('egress_bytes_exceeded');
      return;
    }
    to.answer(
      status,
      Buffer.concat([Buffer.from(headBlock(status, res.statusMessage ?? '', fixed), 'latin1'), body]),
    );
  });
}

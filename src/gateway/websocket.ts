/**
 * Absolute-form WebSocket upgrades (`GET ws://host/path` with `Upgrade: websocket`).
 *
 * The handshake goes through node's HTTP client so the target's answer is parsed, not blindly
 * relayed: only a real `101` turns the connection into a raw tunnel. Any other answer is relayed
 * as a normal response and the connection is closed, so a client cannot smuggle a second,
 * unchecked request over a connection the gateway believes is a WebSocket.
 */
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { isRefusal, type GatewayCore, type ListenerScope } from './core.js';
import { dialTarget } from './dial.js';
import { forwardRequestHeaders, forwardResponseHeaders, rawHeadersSafe } from './headers.js';
import { writeRawRefusal } from './status.js';
import { hostHeaderFor } from './target.js';
import { account, splice } from './tunnel.js';

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
  socket.on('error', () => socket.destroy());
  const upgrade = (req.headers.upgrade ?? '').trim().toLowerCase();
  if (req.httpVersion !== '1.1' || upgrade !== 'websocket' || req.method !== 'GET') {
    core.refuse(null, { method: req.method ?? '', host: '', port: 0, reason: 'bad_request', rule: null });
    writeRawRefusal(socket, 'bad_request');
    return;
  }
  const r = await core.admit(req, 'upgrade', scope, socket);
  if (isRefusal(r)) {
    writeRawRefusal(socket, r.reason);
    return;
  }
  const a = r;
  const reg = a.reg;
  const where = { method: a.method, host: a.target.hostText, port: a.target.port };
  const d = await dialTarget({
    addresses: a.addresses,
    port: a.target.port,
    upstream: reg.upstream,
    timeoutMs: core.settings.connectTimeoutMs,
    abortOnClose: socket,
  });
  if (!d.ok) {
    a.release();
    const reason = socket.destroyed ? 'connect_failed' : d.reason;
    core.refuse(reg, { ...where, reason, rule: null, dnsMs: a.dnsMs, connectMs: d.ms });
    writeRawRefusal(socket, reason);
    return;
  }
  const target = d.socket;
  reg.track(target);
  if (socket.destroyed || reg.revoked) {
    target.destroy();
    a.release();
    return;
  }
  const headers = forwardRequestHeaders(req.rawHeaders, { upgrade: true });
  headers.push('Host', hostHeaderFor(a.target));
  let settled = false;
  const settle = (status: number, end: string, bytes: { bytesIn: number; bytesOut: number }): void => {
    if (settled) return;
    settled = true;
    a.release();
    core.closed(a, { address: d.address, status, connectMs: d.ms, ...bytes, end });
  };
  let upgraded = false;
  const out = request({
    method: 'GET',
    path: a.target.path,
    headers,
    setHost: false,
    createConnection: () => {
      target.resume();
      return target;
    },
  });
  // A target that accepts the connection but never answers the handshake (or trickles a refusal)
  // must not hold a tunnel slot and two sockets forever: the idle timeout applies until upgrade.
  out.setTimeout(core.settings.idleTimeoutMs, () => {
    if (!upgraded) out.destroy(new Error('websocket handshake timed out'));
  });
  out.on('error', () => {
    if (settled) return;
    core.refuse(reg, { ...where, reason: 'upstream_error', rule: null, address: d.address, dnsMs: a.dnsMs });
    writeRawRefusal(socket, 'upstream_error');
    settle(502, 'error', { bytesIn: 0, bytesOut: 0 });
  });
  out.on('upgrade', (res: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    upgraded = true;
    core.allow(a, d.address, 101, d.ms);
    const flat = forwardResponseHeaders(res.rawHeaders, { upgrade: true });
    if (!rawHeadersSafe(flat)) {
      upSocket.destroy();
      socket.destroy();
      settle(502, 'error', { bytesIn: 0, bytesOut: 0 });
      return;
    }
    socket.write(headBlock(101, res.statusMessage ?? 'Switching Protocols', flat));
    if (upHead.length > 0 && account(reg, 'in', upHead.length)) socket.write(upHead);
    if (head.length > 0) socket.unshift(head);
    splice(socket, upSocket, {
      reg,
      idleTimeoutMs: core.settings.idleTimeoutMs,
      onEnd: (e) => {
        settle(101, e.end, e);
      },
    });
  });
  out.on('response', (res: IncomingMessage) => {
    // Not upgraded: relay the answer and close; the connection never becomes a tunnel.
    const status = res.statusCode ?? 502;
    core.allow(a, d.address, status, d.ms);
    const flat = forwardResponseHeaders(res.rawHeaders, { upgrade: false });
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 64 * 1024) {
        chunks.push(c);
        return;
      }
      // A refusal body has no business being this large: stop reading instead of discarding forever.
      res.destroy();
      target.destroy();
      socket.destroy();
      settle(status, 'error', { bytesIn: 0, bytesOut: 0 });
    });
    res.on('end', () => {
      const bodyBuf = Buffer.concat(chunks);
      const fixed: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const name = flat[i] ?? '';
        if (!/^content-length$/i.test(name)) fixed.push(name, flat[i + 1] ?? '');
      }
      fixed.push('Content-Length', String(bodyBuf.length), 'Connection', 'close');
      if (rawHeadersSafe(fixed) && account(reg, 'in', bodyBuf.length)) {
        socket.end(
          Buffer.concat([Buffer.from(headBlock(status, res.statusMessage ?? '', fixed), 'latin1'), bodyBuf]),
        );
      } else socket.destroy();
      target.destroy();
      settle(status, 'complete', { bytesIn: bodyBuf.length, bytesOut: 0 });
    });
    res.on('error', () => {
      socket.destroy();
      settle(status, 'error', { bytesIn: 0, bytesOut: 0 });
    });
  });
  socket.once('close', () => {
    if (!settled && !upgraded) {
      out.destroy();
      settle(0, 'client_closed', { bytesIn: 0, bytesOut: 0 });
    }
  });
  out.end();
}

/**
 * CONNECT tunnels: the gateway decides on `host:port`, dials the checked address (directly or
 * through the upstream proxy, which is asked for the IP, not the name) and then relays raw bytes.
 * TLS inside the tunnel is end to end between the subagent and the target; SNI keeps the name.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isRefusal, type GatewayCore, type ListenerScope } from './core.js';
import { dialTarget } from './dial.js';
import { CONNECT_ESTABLISHED, writeRawRefusal } from './status.js';
import { splice, TunnelReader } from './tunnel.js';

/** Handles one CONNECT request; always answers (200 and a tunnel, or a refusal with a status). */
export async function handleConnect(
  core: GatewayCore,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  scope: ListenerScope,
): Promise<void> {
  socket.on('error', () => socket.destroy());
  if (req.httpVersion !== '1.1' && req.httpVersion !== '1.0') {
    core.refuse(null, { method: 'CONNECT', host: '', port: 0, reason: 'bad_request', rule: null });
    writeRawRefusal(socket, 'bad_request');
    return;
  }
  const r = await core.admit(req, 'connect', scope, socket);
  if (isRefusal(r)) {
    writeRawRefusal(socket, r.reason);
    return;
  }
  const a = r;
  const reg = a.reg;
  const reader = reg.upstream === undefined ? new TunnelReader() : undefined;
  const d = await dialTarget({
    addresses: a.addresses,
    port: a.target.port,
    upstream: reg.upstream,
    timeoutMs: core.settings.connectTimeoutMs,
    abortOnClose: socket,
    onread: reader?.onread,
  });
  if (!d.ok) {
    a.release();
    core.refuse(reg, {
      method: 'CONNECT',
      host: a.target.hostText,
      port: a.target.port,
      reason: d.reason,
      rule: null,
      dnsMs: a.dnsMs,
      connectMs: d.ms,
    });
    writeRawRefusal(socket, d.reason);
    return;
  }
  const target = d.socket;
  reg.track(target);
  if (socket.destroyed || reg.revoked) {
    target.destroy();
    a.release();
    return;
  }
  core.allow(a, d.address, 200, d.ms);
  socket.write(CONNECT_ESTABLISHED);
  // Bytes the client pipelined after the CONNECT head belong to the tunnel (and are counted).
  if (head.length > 0) socket.unshift(head);
  splice(socket, target, {
    reg,
    reader,
    idleTimeoutMs: core.settings.idleTimeoutMs,
    onEnd: (e) => {
      a.release();
      core.closed(a, { address: d.address, status: 200, connectMs: d.ms, ...e });
    },
  });
}

/**
 * CONNECT tunnels: the gateway decides on `host:port`, dials the checked address (directly or
 * through the upstream proxy, which is asked for the IP, not the name) and then relays raw bytes.
 * TLS inside the tunnel is end to end between the subagent and the target; SNI keeps the name.
 */
import type { Duplex } from 'node:stream';
import { admitAndDial } from './admit.js';
import type { AdmitRequest, GatewayCore, ListenerScope } from './admission.js';
import { CONNECT_ESTABLISHED } from './status.js';
import { splice, TunnelReader } from './tunnel.js';

/** Handles one CONNECT request; always answers (200 and a tunnel, or a refusal with a status). */
export async function handleConnect(
  core: GatewayCore,
  req: AdmitRequest,
  socket: Duplex,
  head: Buffer,
  scope: ListenerScope,
): Promise<void> {
  const tunnel: { reader?: TunnelReader } = {};
  const c = await admitAndDial(core, req, socket, 'connect', scope, (reg) => {
    // Only a direct dial reads into a reusable buffer (an upstream handshake reads it as a stream).
    if (reg.upstream !== undefined) return undefined;
    tunnel.reader = new TunnelReader();
    return tunnel.reader.onread;
  });
  if (c === undefined) return;
  const reader = tunnel.reader;
  const a = c.admission;
  core.allow(a, c.address, 200, c.connectMs);
  socket.write(CONNECT_ESTABLISHED);
  // Bytes the client pipelined after the CONNECT head belong to the tunnel (and are counted).
  if (head.length > 0) socket.unshift(head);
  splice(socket, c.target, {
    reg: a.reg,
    reader,
    idleTimeoutMs: core.settings.idleTimeoutMs,
    onEnd: (e) => {
      a.release();
      core.closed(a, { address: c.address, status: 200, connectMs: c.connectMs, ...e });
    },
  });
}

/**
 * The front half shared by CONNECT tunnels and WebSocket upgrades: the protocol check, the
 * decision pipeline, and the dial of a checked address.
 *
 * Both handlers answer on a raw socket that node:http has let go of, so nothing else would answer
 * or audit for them. Every request that enters {@link admitAndDial} therefore leaves it in exactly
 * one of three ways, each recorded exactly once:
 * - refused: audited as a denial and answered with its status line;
 * - abandoned (the client left, or its credential was revoked, before it could be answered):
 *   audited like any other request whose client left (status 0, `client_closed`) or, when
 *   revoked, as the dead credential it now is (`auth_invalid`);
 * - connected: handed to the caller, who from then on owns the slot, the target socket, the
 *   allowed decision and the close record.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  isRefusal,
  type Admission,
  type AdmitRequest,
  type GatewayCore,
  type ListenerScope,
} from './admission.js';
import { dialTarget, type OnRead } from './dial.js';
import type { Registration } from './registration.js';
import { writeRawRefusal } from './status.js';

/** The kind of raw-socket request. */
export type RawKind = 'connect' | 'upgrade';

/** An admitted request whose target connection is open. */
export interface Connected {
  readonly admission: Admission;
  /** The target socket (already tracked by the registration, for revoke). */
  readonly target: Socket;
  /** The checked address that was dialled. */
  readonly address: string;
  readonly connectMs: number;
}

/** Only HTTP/1.x CONNECT, and only `GET` + `Upgrade: websocket` over HTTP/1.1, are raw-socket requests. */
function protocolOk(req: AdmitRequest, kind: RawKind): boolean {
  if (kind === 'connect') return req.httpVersion === '1.1' || req.httpVersion === '1.0';
  const upgrade = req.headers.upgrade;
  return (
    req.httpVersion === '1.1' &&
    req.method === 'GET' &&
    upgrade !== undefined &&
    upgrade.trim().toLowerCase() === 'websocket'
  );
}

function ignoreError(this: Duplex): void {
  this.destroy();
}

/**
 * Records a request whose client is gone before it could be answered: the policy allowed it, the
 * client got nothing (status 0), and it ended because the client left. The same two records a
 * plain HTTP request gets when its client leaves early.
 */
export function abandoned(
  core: GatewayCore,
  a: Admission,
  address: string,
  connectMs: number | undefined,
): void {
  a.release();
  core.allow(a, address, 0, connectMs);
  core.closed(a, { address, status: 0, connectMs, bytesIn: 0, bytesOut: 0, end: 'client_closed' });
}

/**
 * Checks, admits and dials a CONNECT (`kind: 'connect'`) or WebSocket upgrade request. Resolves
 * undefined when the request has been refused or abandoned (already answered and audited), or
 * the connection to a checked address. `onreadFor` may give the direct dial of an admitted
 * registration a reusable read buffer (net's `onread`).
 */
export async function admitAndDial(
  core: GatewayCore,
  req: AdmitRequest,
  client: Duplex,
  kind: RawKind,
  scope: ListenerScope,
  onreadFor?: (reg: Registration) => OnRead | undefined,
): Promise<Connected | undefined> {
  // A socket error must never become an uncaught exception; it ends in 'close', handled below.
  client.on('error', ignoreError);
  if (!protocolOk(req, kind)) {
    const method = kind === 'connect' ? 'CONNECT' : (req.method ?? '');
    writeRawRefusal(
      client,
      core.refuse(scope.owner ?? null, { method, host: '', port: 0, reason: 'bad_request', rule: null })
        .reason,
    );
    return undefined;
  }
  const r = await core.admit(req, kind, scope, client);
  if (isRefusal(r)) {
    writeRawRefusal(client, r.reason);
    return undefined;
  }
  const a = r;
  const reg = a.reg;
  const where = { method: a.method, host: a.target.hostText, port: a.target.port };
  const d = await dialTarget({
    addresses: a.addresses,
    port: a.target.port,
    upstream: reg.upstream,
    timeoutMs: core.settings.connectTimeoutMs,
    abortOnClose: client,
    onread: onreadFor?.(reg),
  });
  if (!d.ok) {
    // Revoke cuts the client, which aborts the dial: that is the dead credential, not a failed
    // dial. A client that left on its own aborts it too: nothing timed out and the target did
    // not fail, so neither connect_timeout nor connect_failed would be true.
    if (reg.revoked) {
      a.release();
      core.refuse(reg, { ...where, reason: 'auth_invalid', rule: null, dnsMs: a.dnsMs, connectMs: d.ms });
      writeRawRefusal(client, 'auth_invalid');
    } else if (client.destroyed) {
      abandoned(core, a, a.addresses[0] ?? '', d.ms);
    } else {
      a.release();
      core.refuse(reg, { ...where, reason: d.reason, rule: null, dnsMs: a.dnsMs, connectMs: d.ms });
      writeRawRefusal(client, d.reason);
    }
    return undefined;
  }
  const target = d.socket;
  reg.track(target);
  if (reg.revoked || client.destroyed) {
    target.destroy();
    if (reg.revoked) {
      a.release();
      core.refuse(reg, {
        ...where,
        reason: 'auth_invalid',
        rule: null,
        address: d.address,
        dnsMs: a.dnsMs,
        connectMs: d.ms,
      });
      writeRawRefusal(client, 'auth_invalid');
    } else abandoned(core, a, d.address, d.ms);
    return undefined;
  }
  return { admission: a, target, address: d.address, connectMs: d.ms };
}

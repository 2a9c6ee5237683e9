/**
 * Absolute-form HTTP forwarding: bodies stream both ways chunk by chunk (never buffered whole),
 * hop-by-hop and proxy headers are stripped, redirects are passed through untouched (a redirect
 * is just a response; following it would be a new request the subagent did not make).
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { isRefusal, type Admission, type GatewayCore, type ListenerScope } from './core.js';
import { DialError, takeDialMs, type PinnedAgent } from './forward-agent.js';
import { forwardRequestHeaders, forwardResponseHeaders } from './headers.js';
import type { Registration } from './registration.js';
import { sendRefusal } from './status.js';
import { hostHeaderFor } from './target.js';
import { relay } from './tunnel.js';

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

/** Handles one absolute-form (non-CONNECT, non-Upgrade) request. */
export async function handleHttp(
  core: GatewayCore,
  req: IncomingMessage,
  res: ServerResponse,
  scope: ListenerScope,
  agentFor: (reg: Registration) => PinnedAgent,
  expectContinue: boolean,
): Promise<void> {
  const body = hasBody(req);
  if (req.httpVersion !== '1.1' && req.httpVersion !== '1.0') {
    core.refuse(null, { method: req.method ?? '', host: '', port: 0, reason: 'bad_request', rule: null });
    sendRefusal(res, 'bad_request', { close: true });
    return;
  }
  const r = await core.admit(req, 'http', scope, req.socket);
  if (isRefusal(r)) {
    // A refused request's body is never read; closing is the only way to keep the framing safe.
    sendRefusal(res, r.reason, { close: body || r.status >= 500 });
    return;
  }
  if (res.destroyed) {
    r.release();
    return;
  }
  forward(core, r, req, res, agentFor(r.reg), expectContinue);
}

function forward(
  core: GatewayCore,
  a: Admission,
  req: IncomingMessage,
  res: ServerResponse,
  agent: PinnedAgent,
  expectContinue: boolean,
): void {
  const reg = a.reg;
  const target = a.target;
  // Plain HTTP dials the first checked address; the pool is keyed by it.
  const address = a.addresses[0] ?? '';
  const headers = forwardRequestHeaders(req.rawHeaders, { upgrade: false });
  headers.push('Host', hostHeaderFor(target));
  if (req.headers['transfer-encoding'] !== undefined) headers.push('Transfer-Encoding', 'chunked');

  const bytesIn = { n: 0 };
  const bytesOut = { n: 0 };
  let connectMs: number | undefined;
  let status = 0;
  let decided = false;
  let done = false;
  const where = { method: a.method, host: target.hostText, port: target.port };

  const finish = (end: string): void => {
    if (done) return;
    done = true;
    if (!decided) {
      decided = true;
      core.allow(a, address, status, connectMs);
    }
    a.release();
    core.closed(a, { address, status, connectMs, bytesIn: bytesIn.n, bytesOut: bytesOut.n, end });
  };

  const upReq = request({
    host: address,
    port: target.port,
    method: req.method ?? 'GET',
    path: target.path,
    headers,
    setHost: false,
    agent,
  });

  const failBeforeResponse = (
    reason: DialError['reason'] | 'upstream_error' | 'egress_bytes_exceeded',
  ): void => {
    if (!decided && !res.headersSent) {
      decided = true;
      core.refuse(reg, { ...where, reason, rule: null, address, dnsMs: a.dnsMs, connectMs });
      sendRefusal(res, reason, { close: true });
    } else {
      res.destroy();
    }
    finish(reason === 'egress_bytes_exceeded' ? reason : 'error');
  };
  const onCap = (): void => {
    upReq.destroy();
    failBeforeResponse('egress_bytes_exceeded');
  };

  upReq.on('socket', (s: Duplex) => {
    connectMs = takeDialMs(s);
    // Sockets that came through an upstream handshake are handed over paused.
    s.resume();
  });
  upReq.on('error', (err) => {
    if (done) return;
    failBeforeResponse(err instanceof DialError ? err.reason : 'upstream_error');
  });
  upReq.on('response', (upRes) => {
    if (done) {
      upRes.destroy();
      return;
    }
    status = upRes.statusCode ?? 502;
    decided = true;
    core.allow(a, address, status, connectMs);
    try {
      res.writeHead(
        status,
        upRes.statusMessage,
        forwardResponseHeaders(upRes.rawHeaders, { upgrade: false }),
      );
    } catch {
      upRes.destroy();
      res.destroy();
      finish('error');
      return;
    }
    relay(upRes, res, reg, 'in', bytesIn, onCap);
    upRes.on('error', () => {
      res.destroy();
      finish('error');
    });
    upRes.on('aborted', () => {
      res.destroy();
      finish('error');
    });
  });
  res.once('finish', () => {
    finish('complete');
  });
  res.once('close', () => {
    if (!res.writableFinished) {
      upReq.destroy();
      finish(reg.revoked ? 'revoked' : 'client_closed');
    }
  });
  if (expectContinue) res.writeContinue();
  if (hasBody(req)) {
    relay(req, upReq, reg, 'out', bytesOut, onCap);
  } else {
    // Nothing to stream: end the upstream request now (its head goes out in one write) and let
    // the empty request end on its own.
    upReq.end();
    req.resume();
  }
}

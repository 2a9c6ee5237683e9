/**
 * The HTTP server side: one node:http server per listener (the TCP listener and each per-subagent
 * Unix listener), wired to the three request handlers.
 *
 * node's strict parser already refuses obs-fold, invalid header tokens, conflicting
 * Content-Length/Transfer-Encoding, bare LF and invalid request targets (they surface as
 * 'clientError' and are answered 400 here). What it lets through but we must not (duplicate Host
 * or Proxy-Authorization, odd Transfer-Encoding, HTTP/0.9) is refused in the pipeline.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AuditEvent } from '../audit/events.js';
import { errorMessage } from '../errors.js';
import { handleConnect } from './connect.js';
import type { AdmitRequest, GatewayCore, ListenerScope } from './admission.js';
import { handleHttp } from './http-forward.js';
import type { RegistrationPools } from './pool.js';
import type { Registration } from './registration.js';
import { sendRefusal, writeRawRefusal } from './status.js';
import { handleUpgrade } from './websocket.js';

/** Settings of a listener. */
export interface ListenerSettings {
  readonly maxHeaderSize: number;
  readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Open client connections across every listener of the gateway (`connections` holds them). */
  readonly maxConnections: number;
}

/**
 * Creates a (not yet listening) server for one listener. `connections` collects every socket of
 * every listener of the gateway; a connection beyond `maxConnections` is closed at once, and on a
 * per-subagent listener one beyond its owner's cap is closed and reported as a violation.
 */
export function createListener(
  core: GatewayCore,
  scope: ListenerScope,
  poolsFor: (reg: Registration) => RegistrationPools,
  settings: ListenerSettings,
  connections: Set<Duplex>,
): Server {
  const server = createServer({
    maxHeaderSize: settings.maxHeaderSize,
    insecureHTTPParser: false,
    requireHostHeader: false,
    joinDuplicateHeaders: false,
    headersTimeout: settings.headersTimeoutMs,
    // node only enforces headersTimeout when it sweeps its connections (every 30 s by default),
    // so a slowloris head would live up to 30 s regardless of the setting.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(settings.headersTimeoutMs / 2))),
    // Large uploads may legitimately take long; stalls are caught by the idle timeout instead.
    requestTimeout: 0,
    keepAliveTimeout: 5_000,
  });
  server.timeout = settings.idleTimeoutMs;

  const internal = (err: unknown, answer: () => void): void => {
    core.audit.event(AuditEvent.GatewayError, { err: errorMessage(err) }, 'handler failed', 'warn');
    try {
      answer();
    } catch {
      // The socket is already gone; nothing else to answer.
    }
  };

  // Sockets whose current request was already handed to a handler (and so decided and audited).
  const inFlight = new WeakSet<Duplex>();
  const onRequest = (expectContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const sock = req.socket;
    inFlight.add(sock);
    res.once('close', () => inFlight.delete(sock));
    handleHttp(core, req, res, scope, poolsFor, expectContinue).catch((err: unknown) => {
      internal(err, () => {
        sendRefusal(res, 'internal_error', { close: true });
      });
    });
  };
  server.on('request', onRequest(false));
  server.on('checkContinue', onRequest(true));
  server.on('connect', (req: AdmitRequest, socket: Duplex, head: Buffer) => {
    handleConnect(core, req, socket, head, scope).catch((err: unknown) => {
      internal(err, () => {
        writeRawRefusal(socket, 'internal_error');
      });
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    handleUpgrade(core, req, socket, head, scope).catch((err: unknown) => {
      internal(err, () => {
        writeRawRefusal(socket, 'internal_error');
      });
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const code = err.code ?? '';
    if (code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (inFlight.has(socket)) {
      // The head parsed and was decided (and audited) already; this is its body failing to parse
      // (e.g. an odd Transfer-Encoding the pipeline refused). Its handler answers and closes; a
      // second decision or a second status line here would be a lie and could corrupt the answer.
      const t = setTimeout(() => socket.destroy(), 2000);
      t.unref();
      socket.once('close', () => {
        clearTimeout(t);
      });
      return;
    }
    core.refuse(scope.owner ?? null, { method: '', host: '', port: 0, reason: 'bad_request', rule: null });
    writeRawRefusal(socket, 'bad_request');
  });
  server.on('connection', (socket: Duplex) => {
    // Counted before node reads a byte: idle connections hold a descriptor just like busy ones.
    if (connections.size >= settings.maxConnections) {
      core.audit.connectionRefused(scope.owner ?? null);
      socket.destroy();
      return;
    }
    const owner = scope.owner;
    if (owner !== undefined && !owner.adoptClient(socket)) {
      socket.destroy();
      owner.violation(
        'connection_limit',
        `more than ${owner.maxClients} open connections to its gateway socket`,
      );
      return;
    }
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  return server;
}

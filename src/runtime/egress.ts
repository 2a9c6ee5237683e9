/**
 * Egress inside the sandbox. Every HTTP client is pointed at the gateway:
 * - undici's `ProxyAgent` becomes the global dispatcher, so `fetch` and `WebSocket` (Node's
 *   bundled undici reads the same global symbol) tunnel through the gateway with this subagent's
 *   credential, over the gateway's Unix socket in namespaced modes;
 * - `HTTP(S)_PROXY` is set for other clients: in namespaced modes it points at a loopback
 *   forwarder inside the namespace that relays bytes to the Unix socket (the namespace has no
 *   route to the gateway's TCP port); in process mode at the gateway's TCP address.
 * The credential is this child's own; it came in the `start` message, never through argv or env.
 */
import net from 'node:net';
import type { StartMessage } from '../ipc/messages.js';

const DISPATCHER_SYMBOLS = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')];

/** What the runtime keeps from egress setup. */
export interface EgressHandle {
  /** URL exported as HTTP(S)_PROXY (contains the credential). */
  readonly httpProxyUrl: string;
  close(): void;
}

/** Relays raw bytes between loopback TCP clients and the gateway's Unix socket. */
function startForwarder(socketPath: string, port: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect({ path: socketPath });
    const destroyBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    client.on('close', destroyBoth);
    upstream.on('close', destroyBoth);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.off('error', reject);
      // The forwarder must never keep a finished subagent alive.
      server.unref();
      resolve(server);
    });
  });
}

/**
 * Installs the gateway as the only egress path of this process.
 *
 * @param log reports setup problems (e.g. no loopback for the forwarder) to the parent.
 */
export async function setupEgress(
  egress: StartMessage['egress'],
  log: (msg: string) => void,
): Promise<EgressHandle> {
  const { ProxyAgent, setGlobalDispatcher } = await import('undici');
  const proxyUrl = new URL(egress.proxyUrl);
  const agent = new ProxyAgent({
    uri: egress.proxyUrl,
    ...(egress.socketPath === undefined ? {} : { proxyTls: { socketPath: egress.socketPath } }),
  });
  setGlobalDispatcher(agent);
  // Seat belt: user code cannot swap in a direct dispatcher with setGlobalDispatcher (in
  // namespaced modes a direct connection would fail anyway; in process mode this is the only hint).
  for (const sym of DISPATCHER_SYMBOLS) {
    if (Object.getOwnPropertyDescriptor(globalThis, sym) !== undefined) {
      Object.defineProperty(globalThis, sym, { writable: false });
    }
  }

  let httpProxyUrl = egress.proxyUrl;
  let server: net.Server | undefined;
  if (egress.socketPath !== undefined) {
    try {
      server = await startForwarder(egress.socketPath, egress.httpProxyPort ?? 0);
      const addr = server.address();
      if (addr !== null && typeof addr === 'object') {
        const u = new URL(`http://127.0.0.1:${addr.port}`);
        u.username = proxyUrl.username;
        u.password = proxyUrl.password;
        httpProxyUrl = u.href.replace(/\/$/, '');
      }
    } catch (err) {
      log(`HTTP_PROXY forwarder unavailable: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) {
    process.env[name] = httpProxyUrl;
  }
  delete process.env.NO_PROXY;
  delete process.env.no_proxy;
  return {
    httpProxyUrl,
    close: () => {
      server?.close();
      void agent.close().catch(() => undefined);
    },
  };
}

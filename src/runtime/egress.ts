/**
 * Egress inside the sandbox. Every HTTP client is pointed at the gateway:
 * - a dispatcher that forwards to undici's `ProxyAgent` is installed in the global dispatcher
 *   slots, so `fetch`, `WebSocket` and `EventSource` (Node's bundled undici reads the same global
 *   symbols) tunnel through the gateway with this subagent's credential, over the gateway's Unix
 *   socket in namespaced modes;
 * - `HTTP(S)_PROXY` is set for other clients: in namespaced modes it points at a loopback
 *   forwarder inside the namespace that relays bytes to the Unix socket (the namespace has no
 *   route to the gateway's TCP port); in process mode at the gateway's TCP address.
 * The credential is this child's own; it came in the `start` message, never through argv or env.
 *
 * Why lazy: loading undici costs more CPU than booting Node itself (~100 ms for the whole
 * package on a small machine). Most subagents use only brokered tools, so the `ProxyAgent` is
 * built on the first request, from the few undici modules it needs. The slot is filled and
 * locked BEFORE any user code runs, so no request can ever go out without the gateway.
 */
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Dispatcher, ProxyAgent } from 'undici';
import type { StartMessage } from '../ipc/messages.js';

/** Both generations of undici's global dispatcher slot (undici 6 reads `.1`, undici 7 writes both). */
const DISPATCHER_SYMBOLS = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')];

type ProxyAgentClass = typeof ProxyAgent;

const require = createRequire(import.meta.url);

function isProxyAgentClass(v: unknown): v is ProxyAgentClass {
  return (
    typeof v === 'function' &&
    typeof (v as { prototype?: { dispatch?: unknown } }).prototype?.dispatch === 'function'
  );
}

/**
 * undici's `ProxyAgent` class. First from its own module plus the request API it tunnels with
 * (`Dispatcher.prototype.connect`, which undici's index installs), about a third of the cost of
 * the whole package; the whole package if that layout ever changes.
 */
export function loadProxyAgentClass(): ProxyAgentClass {
  try {
    const dispatcher: unknown = require('undici/lib/dispatcher/dispatcher.js');
    const api: unknown = require('undici/lib/api/index.js');
    const proxyAgent: unknown = require('undici/lib/dispatcher/proxy-agent.js');
    if (
      typeof dispatcher === 'function' &&
      typeof api === 'object' &&
      api !== null &&
      typeof (api as { connect?: unknown }).connect === 'function' &&
      isProxyAgentClass(proxyAgent)
    ) {
      // Exactly what undici's index.js does on load.
      Object.assign((dispatcher as { prototype: object }).prototype, api);
      return proxyAgent;
    }
  } catch {
    // Another undici layout: fall through to the public entry point.
  }
  const full = require('undici') as { ProxyAgent?: unknown };
  if (!isProxyAgentClass(full.ProxyAgent)) throw new Error('undici ProxyAgent is not available');
  return full.ProxyAgent;
}

/** The object installed in the global dispatcher slots. */
export interface LazyDispatcher {
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  close(): Promise<void>;
  destroy(): Promise<void>;
  /** Whether the real agent was built (a request was made). */
  readonly loaded: boolean;
}

/**
 * A frozen dispatcher that builds the real one on first use. `make` runs synchronously inside the
 * first `dispatch` (undici's modules load synchronously), so requests never queue or reorder.
 */
export function createLazyDispatcher(make: () => Dispatcher): LazyDispatcher {
  let agent: Dispatcher | undefined;
  const get = (): Dispatcher => (agent ??= make());
  return Object.freeze({
    dispatch: (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean =>
      get().dispatch(options, handler),
    close: (): Promise<void> => agent?.close() ?? Promise.resolve(),
    destroy: (): Promise<void> => agent?.destroy() ?? Promise.resolve(),
    get loaded(): boolean {
      return agent !== undefined;
    },
  });
}

/**
 * Puts `dispatcher` in every global dispatcher slot, read-only and non-configurable: user code can
 * neither swap in a direct dispatcher (undici's `setGlobalDispatcher` throws) nor delete it.
 */
export function installGlobalDispatcher(dispatcher: LazyDispatcher): void {
  for (const sym of DISPATCHER_SYMBOLS) {
    Object.defineProperty(globalThis, sym, {
      value: dispatcher,
      writable: false,
      enumerable: false,
      configurable: false,
    });
  }
}

/** What the runtime keeps from egress setup. */
export interface EgressHandle {
  /** URL exported as HTTP(S)_PROXY (contains the credential). */
  readonly httpProxyUrl: string;
  readonly dispatcher: LazyDispatcher;
  close(): void;
}

/**
 * Relays raw bytes between TCP clients inside the namespace and the gateway's Unix socket.
 *
 * Listens without a host on purpose: with a host, `listen()` resolves it through the dns module
 * first (asynchronously, and loading that module costs every spawn); without one it binds at once,
 * so the port is known and accepting before any user code runs. This runs only in namespaced
 * modes, where the network namespace holds nothing but loopback: "every interface" is loopback.
 */
function startForwarder(socketPath: string, port: number, log: (msg: string) => void): net.Server {
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
  server.on('error', (err) => {
    log(`HTTP_PROXY forwarder unavailable: ${err.message}`);
  });
  server.listen({ port, exclusive: true });
  // The forwarder must never keep a finished subagent alive.
  server.unref();
  return server;
}

/**
 * Installs the gateway as the only egress path of this process.
 *
 * @param log reports setup problems (e.g. no loopback for the forwarder) to the parent.
 */
export function setupEgress(egress: StartMessage['egress'], log: (msg: string) => void): EgressHandle {
  const proxyUrl = new URL(egress.proxyUrl);
  const socketPath = egress.socketPath;
  const dispatcher = createLazyDispatcher(() => {
    const ProxyAgentClass = loadProxyAgentClass();
    return new ProxyAgentClass({
      uri: egress.proxyUrl,
      ...(socketPath === undefined ? {} : { proxyTls: { socketPath } }),
    });
  });
  installGlobalDispatcher(dispatcher);

  let httpProxyUrl = egress.proxyUrl;
  let server: net.Server | undefined;
  if (socketPath !== undefined) {
    server = startForwarder(socketPath, egress.httpProxyPort ?? 0, log);
    const addr = server.address();
    if (addr !== null && typeof addr === 'object') {
      const u = new URL(`http://127.0.0.1:${addr.port}`);
      u.username = proxyUrl.username;
      u.password = proxyUrl.password;
      httpProxyUrl = u.href.replace(/\/$/, '');
    }
  }
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) {
    process.env[name] = httpProxyUrl;
  }
  delete process.env.NO_PROXY;
  delete process.env.no_proxy;
  return {
    httpProxyUrl,
    dispatcher,
    close: () => {
      server?.close();
      void dispatcher.close().catch(() => undefined);
    },
  };
}

/**
 * The egress gateway instance: listeners, registrations, revocation and shutdown.
 * No module-level state: two gateways in one process never see each other's credentials.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import { createAuditLogger } from '../audit/logger.js';
import { parseNetworkSection } from '../config/network.js';
import { ConfigError, GatewayError } from '../errors.js';
import { EgressPolicy } from '../policy/index.js';
import { GatewayAudit } from './audit.js';
import { CredentialStore } from './auth.js';
import { GatewayCore } from './admission.js';
import { Slots } from './limits.js';
import { createListener } from './listener.js';
import {
  checkRegisterOptions,
  gatewayAddresses,
  gatewaySettings,
  isLoopbackHost,
  isSelfUpstream,
  toNetworkSection,
  type GatewaySettings,
} from './options.js';
import { RegistrationPools } from './pool.js';
import { Registration } from './registration.js';
import { systemResolver } from './resolve.js';
import type {
  EgressGateway,
  EgressGatewayOptions,
  EgressUsage,
  ProxyCredential,
  RegisterOptions,
} from './types.js';
import { parseUpstream, type Upstream } from './upstream.js';

const MAX_ARCHIVED_USAGE = 10_000;

function listen(server: Server, target: { host: string; port: number } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(err);
    };
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve();
    };
    if ('path' in target) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}

function removeSocketFile(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Already gone.
  }
}

const LISTEN_CAUSES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use',
  EADDRNOTAVAIL: 'no such local address on this machine',
  EACCES: 'permission denied (ports below 1024 need privileges)',
};

/** The errno code of a failed listen and a short explanation (never a stack). */
function listenCause(err: unknown): { code: string; text: string } {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string')
    return { code: 'unknown', text: err instanceof Error ? err.message : String(err) };
  return { code, text: `${code} (${LISTEN_CAUSES[code] ?? (err as Error).message})` };
}

class EgressGatewayImpl implements EgressGateway {
  readonly #settings: GatewaySettings;
  readonly #core: GatewayCore;
  readonly #store = new CredentialStore<Registration>();
  readonly #audit: GatewayAudit;
  readonly #regs = new Map<string, Registration>();
  readonly #archive = new Map<string, EgressUsage>();
  readonly #pools = new WeakMap<Registration, RegistrationPools>();
  readonly #connections = new Set<Duplex>();
  readonly #unix = new Map<string, { server: Server; path: string }>();
  readonly #upstream: Upstream | undefined;
  readonly #closeLogger: (() => Promise<void>) | undefined;
  #server: Server | undefined;
  #address = { host: '127.0.0.1', port: 0 };
  #gatewayAddrs: string[] = [];
  #closed = false;

  constructor(opts: EgressGatewayOptions) {
    this.#settings = gatewaySettings(opts);
    this.#upstream =
      opts.upstream === undefined ? undefined : parseUpstream(opts.upstream, 'createEgressGateway');
    let logger: Logger;
    if (opts.logger === undefined) {
      const l = createAuditLogger();
      logger = l.logger;
      this.#closeLogger = () => l.close();
    } else {
      logger = opts.logger;
      this.#closeLogger = undefined;
    }
    this.#audit = new GatewayAudit(logger);
    const s = this.#settings;
    this.#core = new GatewayCore(
      {
        resolver: opts.resolver ?? systemResolver,
        dnsTimeoutMs: s.dnsTimeoutMs,
        connectTimeoutMs: s.connectTimeoutMs,
        idleTimeoutMs: s.idleTimeoutMs,
        maxTunnelsPerSubagent: s.maxTunnelsPerSubagent,
        exchangeTimeoutMs: s.exchangeTimeoutMs,
      },
      this.#store,
      this.#audit,
      new Slots(s.maxTunnels),
    );
  }

  async start(): Promise<void> {
    const s = this.#settings;
    if (!isLoopbackHost(s.host)) {
      if (!s.allowNonLoopback) {
        throw new GatewayError(
          'SG_GATEWAY_LISTEN',
          `refusing to listen on non-loopback address ${s.host}: subagent credentials would be exposed to the network; pass allowNonLoopback: true to force it`,
          { details: { host: s.host } },
        );
      }
      this.#audit.event(
        AuditEvent.GatewayListen,
        { host: s.host, nonLoopback: true },
        `WARNING: egress gateway listening on NON-LOOPBACK address ${s.host}; anything that can reach it can try credentials`,
        'warn',
      );
    }
    const server = this.#listener(undefined, undefined);
    try {
      await listen(server, { host: s.host, port: s.port });
    } catch (err) {
      // The cause (EADDRINUSE, EADDRNOTAVAIL, EACCES) is what the operator needs to act on.
      const cause = listenCause(err);
      throw new GatewayError(
        'SG_GATEWAY_LISTEN',
        `egress gateway cannot listen on ${s.host}:${s.port}: ${cause.text}`,
        { cause: err, details: { host: s.host, port: s.port, cause: cause.code } },
      );
    }
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : s.port;
    this.#server = server;
    this.#address = { host: s.host, port };
    this.#gatewayAddrs = gatewayAddresses(s.host);
    if (this.#upstream !== undefined) {
      try {
        this.#refuseSelf(this.#upstream, 'createEgressGateway');
      } catch (err) {
        this.#server = undefined;
        await closeServer(server);
        throw err;
      }
    }
    this.#audit.event(AuditEvent.GatewayListen, { host: s.host, port }, 'egress gateway listening');
  }

  /** Throws SG_GATEWAY_UPSTREAM_SELF when `up` is this gateway's own listen address. */
  #refuseSelf(up: Upstream, where: string): void {
    if (!isSelfUpstream(up, this.#address, this.#gatewayAddrs)) return;
    throw new GatewayError(
      'SG_GATEWAY_UPSTREAM_SELF',
      `${where}: upstream proxy ${up.redacted} is this gateway's own listen address ${this.url}; every request would loop through the gateway (OpenClaw's proxy.proxyUrl is the proxy OpenClaw sends through, never our upstream)`,
      { details: { upstream: up.redacted, listen: this.url } },
    );
  }

  #listener(onlyId: string | undefined, owner: Registration | undefined): Server {
    const s = this.#settings;
    return createListener(
      this.#core,
      { onlyId, owner },
      (reg) => this.#poolsFor(reg),
      {
        maxHeaderSize: s.maxHeaderSize,
        headersTimeoutMs: s.headersTimeoutMs,
        idleTimeoutMs: s.idleTimeoutMs,
        maxConnections: s.maxConnections,
      },
      this.#connections,
    );
  }

  #poolsFor(reg: Registration): RegistrationPools {
    let pools = this.#pools.get(reg);
    if (pools === undefined) {
      const p = new RegistrationPools(reg, {
        connectTimeoutMs: this.#settings.connectTimeoutMs,
        idleTimeoutMs: this.#settings.idleTimeoutMs,
        maxConnections: this.#settings.maxTunnelsPerSubagent,
        exchangeTimeoutMs: this.#settings.exchangeTimeoutMs,
      });
      reg.onRevoke(() => {
        p.destroy();
      });
      this.#pools.set(reg, p);
      pools = p;
    }
    return pools;
  }

  get url(): string {
    const h = this.#address.host.includes(':') ? `[${this.#address.host}]` : this.#address.host;
    return `http://${h}:${this.#address.port}`;
  }

  get address(): { host: string; port: number } {
    return { ...this.#address };
  }

  register(s: RegisterOptions): ProxyCredential {
    if (this.#closed) throw new GatewayError('SG_GATEWAY_CLOSED', 'register: the egress gateway is closed');
    checkRegisterOptions(s);
    const id = s.id;
    if (this.#regs.has(id)) {
      throw new GatewayError('SG_GATEWAY_DUPLICATE_ID', `register: subagent id ${id} is already registered`, {
        details: { id },
      });
    }
    let network;
    try {
      network = parseNetworkSection(toNetworkSection(s.network, id), { path: '/network' });
    } catch (err) {
      if (err instanceof ConfigError) {
        const lines = err.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
        throw new GatewayError(
          'SG_GATEWAY_INVALID_OPTIONS',
          `register(${id}): invalid network section: ${lines}`,
          {
            cause: err,
            details: { id },
          },
        );
      }
      throw err;
    }
    const upstream = s.upstream === undefined ? this.#upstream : parseUpstream(s.upstream, `register(${id})`);
    if (upstream !== undefined) this.#refuseSelf(upstream, `register(${id})`);
    const reg = new Registration({
      opts: s,
      policy: new EgressPolicy(network, { gatewayAddresses: this.#gatewayAddrs }),
      logAllTraffic: network.logAllTraffic,
      upstream,
      maxEgressBytes:
        s.limits?.maxEgressBytes === null ? undefined : (s.limits?.maxEgressBytes ?? network.maxEgressBytes),
      ratePerSecond: this.#settings.maxRequestsPerSecond,
      logger: this.#audit.logger,
      maxClients: this.#settings.maxConnectionsPerSubagent,
      maxAuditRecords: this.#settings.maxAuditRecordsPerSubagent,
    });
    const password = this.#store.mint(id, reg, s.password);
    // '+' is outside ID_PATTERN, so this username can never be another registration's id.
    const prepaidUser = `${id}+prepaid`;
    const prepaid =
      s.prepaidCredential === true ? this.#store.mint(prepaidUser, reg, undefined, true) : undefined;
    this.#regs.set(id, reg);
    this.#archive.delete(id);
    this.#audit.event(
      AuditEvent.GatewayRegister,
      {
        subagentId: id,
        agent: s.agent,
        parent: s.parent,
        allowedDomains: network.allowedDomains.length,
        upstream: upstream?.redacted,
        // Report-only egress is said on the registration itself, at warn level.
        enforcing: network.mode !== 'report',
      },
      network.mode === 'report'
        ? 'subagent registered, egress NOT ENFORCING (report-only)'
        : 'subagent registered',
      network.mode === 'report' ? 'warn' : 'info',
    );
    const h = this.#address.host.includes(':') ? `[${this.#address.host}]` : this.#address.host;
    const base = `${h}:${this.#address.port}`;
    return {
      username: id,
      password,
      proxyUrl: `http://${id}:${password}@${base}`,
      ...(prepaid === undefined ? {} : { prepaidProxyUrl: `http://${prepaidUser}:${prepaid}@${base}` }),
    };
  }

  revoke(id: string): void {
    const reg = this.#regs.get(id);
    if (reg === undefined) return;
    reg.revoked = true;
    this.#store.delete(id);
    this.#store.delete(`${id}+prepaid`);
    this.#regs.delete(id);
    const unix = this.#unix.get(id);
    if (unix !== undefined) {
      this.#unix.delete(id);
      void closeServer(unix.server);
      removeSocketFile(unix.path);
    }
    reg.destroyAll();
    this.#archive.set(id, reg.usage);
    if (this.#archive.size > MAX_ARCHIVED_USAGE) {
      const oldest = this.#archive.keys().next();
      if (oldest.done !== true) this.#archive.delete(oldest.value);
    }
    this.#audit.flushSuppressed(reg);
    this.#audit.event(AuditEvent.GatewayRevoke, { subagentId: id, ...reg.snapshot() }, 'subagent revoked');
  }

  usage(id: string): EgressUsage {
    const live = this.#regs.get(id)?.usage ?? this.#archive.get(id);
    return live === undefined ? { requests: 0, bytesIn: 0, bytesOut: 0 } : { ...live };
  }

  async listenUnix(id: string, socketPath: string): Promise<void> {
    if (this.#closed) throw new GatewayError('SG_GATEWAY_CLOSED', 'listenUnix: the egress gateway is closed');
    const owner = this.#regs.get(id);
    if (owner === undefined) {
      throw new GatewayError(
        'SG_GATEWAY_INVALID_OPTIONS',
        `listenUnix: subagent id ${id} is not registered`,
        {
          details: { id },
        },
      );
    }
    if (this.#unix.has(id)) {
      throw new GatewayError('SG_GATEWAY_LISTEN', `listenUnix: subagent ${id} already has a Unix listener`, {
        details: { id },
      });
    }
    const server = this.#listener(id, owner);
    removeSocketFile(socketPath);
    try {
      await listen(server, { path: socketPath });
    } catch (err) {
      const cause = listenCause(err);
      throw new GatewayError(
        'SG_GATEWAY_LISTEN',
        `listenUnix: cannot listen on ${socketPath} for ${id}: ${cause.text}`,
        { cause: err, details: { id, path: socketPath, cause: cause.code } },
      );
    }
    if (!this.#regs.has(id)) {
      // Revoked while we were starting to listen.
      await closeServer(server);
      removeSocketFile(socketPath);
      return;
    }
    this.#unix.set(id, { server, path: socketPath });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#regs.keys()]) this.revoke(id);
    this.#store.clear();
    const servers: Promise<void>[] = [];
    if (this.#server !== undefined) servers.push(closeServer(this.#server));
    for (const { server, path } of this.#unix.values()) {
      servers.push(closeServer(server));
      removeSocketFile(path);
    }
    this.#unix.clear();
    for (const s of this.#connections) s.destroy();
    await Promise.all(servers);
    this.#audit.flushSuppressed(null);
    this.#audit.event(AuditEvent.GatewayClose, { ...this.#address }, 'egress gateway closed');
    this.#audit.dispose();
    await this.#closeLogger?.();
  }
}

/**
 * Starts an egress gateway listening on loopback.
 *
 * @example
 * const gw = await createEgressGateway({ resolver });
 * const { proxyUrl } = gw.register({ id: 'sub-1', network: { allowed_domains: ['api.example.com'] } });
 */
export async function createEgressGateway(opts: EgressGatewayOptions = {}): Promise<EgressGateway> {
  const gw = new EgressGatewayImpl(opts);
  await gw.start();
  return gw;
}

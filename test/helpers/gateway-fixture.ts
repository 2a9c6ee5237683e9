/**
 * A complete gateway test bench on loopback: an allowed origin on 127.0.0.2 (reachable through
 * `allowed_cidrs: ['127.0.0.2/32']`), a trap on 127.0.0.9 that must never be reached, a table
 * resolver mapping test names to loopback, and a collected audit log.
 */
import {
  createEgressGateway,
  type EgressDecision,
  type EgressGateway,
  type EgressGatewayOptions,
} from '../../src/gateway/index.js';
import {
  basic,
  closeServer,
  collectingLogger,
  startOrigin,
  startTrap,
  tableResolver,
  type OriginSeen,
} from './gateway.js';

export const ORIGIN_HOST = '127.0.0.2';
export const TRAP_HOST = '127.0.0.9';

export interface Bench {
  gw: EgressGateway;
  /** Gateway TCP port. */
  port: number;
  id: string;
  password: string;
  auth: string;
  originPort: number;
  trapPort: number;
  seen: OriginSeen[];
  trapHits(): number;
  resolverCalls: string[];
  denies: EgressDecision[];
  log: ReturnType<typeof collectingLogger>;
  close(): Promise<void>;
}

/** Starts the bench. `network` overrides/extends the default network section. */
export async function startBench(
  opts: { network?: Record<string, unknown>; gateway?: EgressGatewayOptions; id?: string } = {},
): Promise<Bench> {
  const origin = await startOrigin(ORIGIN_HOST);
  const trap = await startTrap(TRAP_HOST);
  const { resolver, calls } = tableResolver({
    'api.allowed.test': [ORIGIN_HOST],
    'www.wild.test': [ORIGIN_HOST],
    'trap.allowed.test': [TRAP_HOST],
    'mixed.allowed.test': [ORIGIN_HOST, TRAP_HOST],
    'mixed6.allowed.test': [ORIGIN_HOST, `::ffff:${TRAP_HOST}`],
    'meta.allowed.test': ['169.254.169.254'],
    'gw.allowed.test': ['127.0.0.1'],
    'zone.allowed.test': ['fe80::1%lo'],
    'slow.allowed.test': 'hang',
    'fail.allowed.test': 'fail',
  });
  const log = collectingLogger();
  const gw = await createEgressGateway({ resolver, logger: log.logger, dnsTimeoutMs: 300, ...opts.gateway });
  const denies: EgressDecision[] = [];
  const id = opts.id ?? 'sub-1';
  const cred = gw.register({
    id,
    agent: 'untrusted',
    parent: 'main',
    network: {
      allowed_domains: [
        'api.allowed.test',
        '*.wild.test',
        'trap.allowed.test',
        'mixed.allowed.test',
        'mixed6.allowed.test',
        'meta.allowed.test',
        'gw.allowed.test',
        'zone.allowed.test',
        'slow.allowed.test',
        'fail.allowed.test',
        '127.0.0.9',
        '127.0.0.2',
        '169.254.169.254',
      ],
      allowed_ports: [80, origin.port, trap.port],
      blocked_ports: [22],
      allowed_cidrs: ['127.0.0.2/32', '127.0.0.1/32'],
      max_egress_bytes: 1024 * 1024 * 1024,
      ...opts.network,
    },
    onDeny: (d) => denies.push(d),
  });
  return {
    gw,
    port: gw.address.port,
    id,
    password: cred.password,
    auth: basic(cred.username, cred.password),
    originPort: origin.port,
    trapPort: trap.port,
    seen: origin.seen,
    trapHits: trap.hits,
    resolverCalls: calls,
    denies,
    log,
    close: async () => {
      await gw.close();
      await closeServer(origin.server);
      await closeServer(trap.server);
    },
  };
}

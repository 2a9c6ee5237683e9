#!/usr/bin/env node
// Our egress gateway in its own process so its CPU time is separable from the load generator and
// the origin. Filtering and audit are ON, as in production: the audit log goes to a file through
// pino's asynchronous destination.
// Usage: node gateway-server.mjs '{"ports":[P1,P2],"audit":"/tmp/x/audit.log","target":"127.0.0.2","name":"origin.bench.test"}'
// Prints {"url","proxyUrl","username","password","authorization"} on one line. On SIGTERM it closes
// the gateway, flushes the audit log, prints {"stopped":true} and exits; the benchmark then counts
// the audit records to check that a clean stop loses no event.
import { createEgressGateway } from '../../dist/gateway/index.js';
import { createAuditLogger } from '../../dist/audit/logger.js';

const opts = JSON.parse(process.argv[2] ?? '{}');
const target = opts.target ?? '127.0.0.2';
const name = opts.name ?? 'origin.bench.test';
const { logger, close: closeAudit } = createAuditLogger({ path: opts.audit });

// Only the benchmark's own name resolves, and only to the loopback origin: no system DNS.
const resolver = async (host) => {
  if (host === name) return [{ address: target, family: 4 }];
  throw Object.assign(new Error(`no such host ${host}`), { code: 'ENOTFOUND' });
};

const gateway = await createEgressGateway({
  host: '127.0.0.1',
  port: 0,
  resolver,
  logger,
  // A benchmark drives one credential far past production pacing; lift the per-credential
  // throttles so they do not become the thing measured.
  maxRequestsPerSecond: 10_000_000,
  maxTunnels: 100_000,
  maxTunnelsPerSubagent: 100_000,
  // The per-subagent audit budget (10,000 records, then one summary) protects the log from a
  // hostile child; here every decision must be written, since the audit cost is what is measured.
  maxAuditRecordsPerSubagent: 1_000_000_000,
  idleTimeoutMs: 120_000,
});

const cred = gateway.register({
  id: 'bench',
  agent: 'bench_agent',
  parent: 'bench_parent',
  network: {
    egress_only: true,
    allowed_domains: [target, name],
    allowed_cidrs: [`${target}/32`],
    allowed_ports: opts.ports,
    log_all_traffic: true,
    max_egress_bytes: Number.MAX_SAFE_INTEGER,
  },
});

process.stdout.write(
  `${JSON.stringify({
    url: gateway.url,
    proxyUrl: cred.proxyUrl,
    username: cred.username,
    password: cred.password,
    authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`,
  })}\n`,
);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await gateway.close();
  await closeAudit();
  process.stdout.write(`${JSON.stringify({ stopped: true })}\n`, () => process.exit(0));
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

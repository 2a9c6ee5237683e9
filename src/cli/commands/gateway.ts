/**
 * `subagent-guard gateway <serve|validate>`.
 *
 * serve:    runs the egress gateway standalone with static per-agent credentials, so an existing
 *           deployment (e.g. OpenClaw's `proxy.proxyUrl`) can point at it.
 * validate: black-box checks of ANY forward proxy (canary, metadata, private ranges).
 * Exit codes: 0 ok, 1 a check failed, 2 usage or I/O error.
 */
import { resolve } from 'node:path';
import { createAuditLogger } from '../../audit/logger.js';
import { loadConfig } from '../../config/index.js';
import type { AgentConfig } from '../../config/types.js';
import { UsageError } from '../../errors.js';
import { createEgressGateway, validateProxy } from '../../gateway/index.js';
import { redactProxyUrl } from '../../gateway/upstream.js';
import { ExitCode, type CliIo, type Command } from '../io.js';

const USAGE = `usage: subagent-guard gateway serve --config FILE [--agent NAME] [--listen HOST:PORT]
       subagent-guard gateway validate --proxy-url URL [--allowed-url URL] [--json]

serve     run the egress gateway standalone. Each subagent of the config (or only NAME) gets a
          credential: from the environment variable SUBAGENT_GUARD_CRED_<AGENT> (upper case,
          non-alphanumerics as _) when set, else a fresh one printed once as a proxy URL.
          Audit records go to the config's audit.path (default stderr). Stops on SIGINT/SIGTERM.
validate  check that a forward proxy refuses a loopback canary, cloud metadata and private
          ranges, and (with --allowed-url) reaches an allowed URL. Credentials in URLs are
          redacted in all output.

exit codes: 0 ok, 1 a check failed, 2 usage or I/O error
`;

type Flags = Map<string, string | true>;

function parseFlags(argv: readonly string[], withValue: readonly string[], bare: readonly string[]): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (withValue.includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${name} needs a value\n\n${USAGE}`);
      flags.set(name, value);
    } else if (bare.includes(arg)) flags.set(arg, true);
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)}\n\n${USAGE}`);
  }
  return flags;
}

function str(flags: Flags, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** Environment variable holding an agent's static credential. */
export function credentialEnvName(agent: string): string {
  return `SUBAGENT_GUARD_CRED_${agent.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(`--listen must be HOST:PORT (e.g. 127.0.0.1:3128), got ${JSON.stringify(text)}`);
  }
  return { host, port };
}

async function serve(argv: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(argv, ['--config', '--agent', '--listen'], ['-h', '--help']);
  if (flags.has('-h') || flags.has('--help')) {
    io.stdout.write(USAGE);
    return ExitCode.Ok;
  }
  const configPath = str(flags, '--config');
  if (configPath === undefined) throw new UsageError(`gateway serve needs --config FILE\n\n${USAGE}`);
  const config = await loadConfig(resolve(io.cwd, configPath));
  const only = str(flags, '--agent');
  const agents: AgentConfig[] = Object.values(config.agents).filter((a) =>
    only === undefined ? a.role === 'subagent' : a.name === only,
  );
  if (only !== undefined && agents.length === 0) {
    throw new UsageError(`agent ${JSON.stringify(only)} is not defined in ${configPath}`);
  }
  const listenText = str(flags, '--listen');
  const listen = listenText === undefined ? config.gateway.listen : parseListen(listenText);
  const audit = createAuditLogger({ path: config.audit.path, level: config.audit.level });
  const g = config.gateway;
  const gw = await createEgressGateway({
    host: listen.host,
    port: listen.port,
    logger: audit.logger,
    connectTimeoutMs: g.connectTimeoutMs,
    dnsTimeoutMs: g.dnsTimeoutMs,
    idleTimeoutMs: g.idleTimeoutMs,
    maxTunnels: g.maxTunnels,
    maxTunnelsPerSubagent: g.maxTunnelsPerSubagent,
    maxRequestsPerSecond: g.maxRequestsPerSecond,
    maxConnectionsPerSubagent: g.maxConnectionsPerSubagent,
    maxConnections: g.maxConnections,
    maxAuditRecordsPerSubagent: g.maxAuditRecordsPerSubagent,
    exchangeTimeoutMs: g.exchangeTimeoutMs,
    ...(g.upstream === undefined ? {} : { upstream: g.upstream }),
  });
  try {
    io.stdout.write(`egress gateway listening on ${gw.url}\n`);
    for (const agent of agents) {
      const envName = credentialEnvName(agent.name);
      const fixed = io.env[envName];
      const cred = gw.register({
        id: agent.name,
        agent: agent.name,
        network: agent.network,
        ...(agent.proxy === undefined ? {} : { upstream: agent.proxy }),
        ...(fixed === undefined || fixed === '' ? {} : { password: fixed }),
      });
      // A minted credential exists nowhere else: print it once so it can be configured.
      const shown =
        fixed === undefined || fixed === ''
          ? cred.proxyUrl
          : `${redactProxyUrl(cred.proxyUrl)} (password from ${envName})`;
      io.stdout.write(`proxy for ${agent.name}: ${shown}\n`);
    }
    await io.stopSignal;
    return ExitCode.Ok;
  } finally {
    await gw.close();
    await audit.close();
  }
}

async function validate(argv: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(
    argv,
    ['--proxy-url', '--allowed-url', '--timeout-ms'],
    ['--json', '-h', '--help'],
  );
  if (flags.has('-h') || flags.has('--help')) {
    io.stdout.write(USAGE);
    return ExitCode.Ok;
  }
  const proxyUrl = str(flags, '--proxy-url');
  if (proxyUrl === undefined) throw new UsageError(`gateway validate needs --proxy-url URL\n\n${USAGE}`);
  let parsed: URL;
  try {
    parsed = new URL(proxyUrl);
  } catch {
    throw new UsageError(`--proxy-url is not a URL: ${redactProxyUrl(proxyUrl)}`);
  }
  if (parsed.protocol !== 'http:')
    throw new UsageError(`--proxy-url must be http://, got ${redactProxyUrl(proxyUrl)}`);
  const allowedUrl = str(flags, '--allowed-url');
  const timeoutText = str(flags, '--timeout-ms');
  const timeoutMs = timeoutText === undefined ? 5000 : Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
    throw new UsageError('--timeout-ms must be a positive integer');
  const checks = await validateProxy({
    proxyUrl,
    timeoutMs,
    ...(allowedUrl === undefined ? {} : { allowedUrl }),
  });
  const ok = checks.every((c) => c.ok);
  const redacted = redactProxyUrl(proxyUrl);
  if (flags.has('--json')) {
    io.stdout.write(`${JSON.stringify({ proxy: redacted, ok, checks }, null, 2)}\n`);
  } else {
    io.stdout.write(`validating forward proxy ${redacted}\n`);
    for (const c of checks) io.stdout.write(`${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}\n`);
    io.stdout.write(ok ? 'all checks passed\n' : `${checks.filter((c) => !c.ok).length} check(s) FAILED\n`);
  }
  return ok ? ExitCode.Ok : ExitCode.Failed;
}

/** The `gateway` subcommand: `serve` or `validate`. */
export const gateway: Command = async (argv, io) => {
  const [first, ...rest] = argv;
  const sub = first ?? '';
  switch (sub) {
    case 'serve':
      return serve(rest, io);
    case 'validate':
      return validate(rest, io);
    case '-h':
    case '--help':
      io.stdout.write(USAGE);
      return ExitCode.Ok;
    default:
      io.stderr.write(`subagent-guard gateway: expected serve or validate\n\n${USAGE}`);
      return ExitCode.Usage;
  }
};

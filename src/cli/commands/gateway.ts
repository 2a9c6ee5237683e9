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
import { notEnforcingLine } from '../../config/report-only.js';
import { GatewayError, GuardError, UsageError } from '../../errors.js';
import { STATIC_PASSWORD_PATTERN } from '../../gateway/auth.js';
import { gatewayOptionsFromConfig, serveLimits } from '../../gateway/from-config.js';
import { createEgressGateway, validateProxy } from '../../gateway/index.js';
import { redactProxyUrl } from '../../gateway/upstream.js';
import { ExitCode, progressWriter, type CliIo, type Command } from '../io.js';
import { serveMetrics } from '../../observability/metrics.js';

const USAGE = `usage: subagent-guard gateway serve --config FILE [--agent NAME] [--listen HOST:PORT]
                                     [--quota-window DURATION] [--metrics HOST:PORT] [--json]
       subagent-guard gateway validate --proxy-url URL [--allowed-url URL] [--timeout DURATION] [--json]
                                        [--progress]

serve     run the egress gateway standalone, e.g. as OpenClaw's proxy.proxyUrl. Each subagent of
          the config (or only NAME; a parent agent gets no credential) gets a credential: from
          the environment variable SUBAGENT_GUARD_CRED_<AGENT> (upper case, non-alphanumerics as
          _) when set, else a fresh one printed once as a proxy URL. Everything sent with one
          credential is held to that agent's network policy. --quota-window 1h enforces
          max_api_calls and max_egress_bytes per window (30s, 15m, 1h, 1d); without it serve
          enforces no api-call or byte quota. Audit records go to the config's audit.path
          (default stderr). --metrics 127.0.0.1:9464 serves Prometheus metrics at /metrics
          (loopback only). --json prints one JSON line per lifecycle event on stdout:
          {"event":"listening","url","address","agents":[{agent,proxyUrl,...}],...} once every
          credential is registered, {"event":"closed"} after a clean stop. An agent whose
          network policy is in report-only mode is named on a "!! NOT ENFORCING" line.
          Stops on SIGINT (exit 130) or SIGTERM (exit 143) after closing the gateway.
validate  check that a forward proxy itself refuses a loopback canary, cloud metadata and
          private ranges, and (with --allowed-url) reaches an allowed URL. A check passes only
          on the proxy's own refusal; address checks use the port of --allowed-url (without it
          they are reported as not exercised). --timeout (default 5s) bounds each request.
          Credentials in URLs are redacted in all output. Progress lines (each check as it is
          judged) go to stderr when it is a terminal and without --json, or with --progress.

exit codes: 0 ok, 1 a check failed or none passed, 2 usage or I/O error, proxy unreachable,
            silent or asking for credentials (407)
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

function parseListen(
  text: string,
  flag = '--listen',
  example = '127.0.0.1:3128',
): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(`${flag} must be HOST:PORT (e.g. ${example}), got ${JSON.stringify(text)}`);
  }
  return { host, port };
}

/** `30s`, `15m`, `1h`, `1d` to milliseconds. */
export function parseQuotaWindow(text: string): number {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  const ms =
    m?.[1] === undefined || m[2] === undefined ? NaN : Number(m[1]) * unit[m[2] as keyof typeof unit];
  if (!Number.isInteger(ms) || ms < 1000 || ms > 31 * 86_400_000) {
    throw new UsageError(
      `--quota-window must be a duration from 1s to 31d such as 30m, 1h or 1d, got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

/** A static credential from the environment, checked before anything listens (never printed). */
function staticPassword(io: CliIo, agent: string): string | undefined {
  const envName = credentialEnvName(agent);
  const fixed = io.env[envName];
  if (fixed === undefined || fixed === '') return undefined;
  if (!STATIC_PASSWORD_PATTERN.test(fixed)) {
    throw new GatewayError(
      'SG_GATEWAY_INVALID_OPTIONS',
      `${envName}, the credential of agent ${JSON.stringify(agent)}, must be 22-256 characters of A-Z a-z 0-9 _ - (at least 128 bits); its value is not shown`,
      { details: { agent, env: envName } },
    );
  }
  return fixed;
}

/** One lifecycle event of `serve --json`: a JSON line on stdout. */
function emit(io: CliIo, event: Record<string, unknown>): void {
  io.stdout.write(`${JSON.stringify(event)}\n`);
}

async function serve(argv: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(
    argv,
    ['--config', '--agent', '--listen', '--quota-window', '--metrics'],
    ['-h', '--help', '--json'],
  );
  if (flags.has('-h') || flags.has('--help')) {
    io.stdout.write(USAGE);
    return ExitCode.Ok;
  }
  const json = flags.has('--json');
  const configPath = str(flags, '--config');
  if (configPath === undefined) throw new UsageError(`gateway serve needs --config FILE\n\n${USAGE}`);
  const windowText = str(flags, '--quota-window');
  const windowMs = windowText === undefined ? undefined : parseQuotaWindow(windowText);
  const config = await loadConfig(resolve(io.cwd, configPath));
  const only = str(flags, '--agent');
  const agents: AgentConfig[] = Object.values(config.agents).filter((a) =>
    only === undefined ? a.role === 'subagent' : a.name === only,
  );
  if (only !== undefined && agents.length === 0) {
    throw new UsageError(`agent ${JSON.stringify(only)} is not defined in ${configPath}`);
  }
  const parent = agents.find((a) => a.role === 'parent');
  if (parent !== undefined) {
    // A parent is the caller's own code (OpenClaw's main agent): it is not confined by a
    // subagent's policy, so a credential for it would be a policy nobody wrote.
    throw new GatewayError(
      'SG_GATEWAY_PARENT_AGENT',
      `agent ${JSON.stringify(parent.name)} in ${configPath} is a parent agent; parents get no credential (name a subagent, or omit --agent)`,
      { details: { agent: parent.name } },
    );
  }
  // Every credential is checked before anything listens or is printed.
  const passwords = new Map(agents.map((a) => [a.name, staticPassword(io, a.name)]));
  const listenText = str(flags, '--listen');
  const listenAt = listenText === undefined ? undefined : parseListen(listenText);
  const metricsText = str(flags, '--metrics');
  const metricsAt =
    metricsText === undefined ? undefined : parseListen(metricsText, '--metrics', '127.0.0.1:9464');
  // First: a metrics address that cannot be used fails before anything is printed or opened.
  const metrics = metricsAt === undefined ? undefined : await serveMetrics(metricsAt);
  const audit = createAuditLogger({ path: config.audit.path, level: config.audit.level });
  let gw;
  try {
    gw = await createEgressGateway(
      gatewayOptionsFromConfig(config, {
        logger: audit.logger,
        ...(listenAt === undefined ? {} : { listen: listenAt }),
      }),
    );
  } catch (err) {
    await audit.close();
    await metrics?.close();
    throw err;
  }
  try {
    // Register everyone before saying "listening": a refused agent stops serve with nothing printed.
    const creds = agents.map((agent) => {
      const fixed = passwords.get(agent.name);
      try {
        const cred = gw.register({
          id: agent.name,
          agent: agent.name,
          network: agent.network,
          limits: serveLimits(agent, windowMs),
          ...(agent.proxy === undefined ? {} : { upstream: agent.proxy }),
          ...(fixed === undefined ? {} : { password: fixed }),
        });
        return { agent: agent.name, cred, fixed: fixed !== undefined };
      } catch (err) {
        if (!(err instanceof GuardError)) throw err;
        // The library's message names its own call (`register(id): ...`); say which agent instead.
        throw new GatewayError(
          err.code,
          `agent ${JSON.stringify(agent.name)} in ${configPath}: ${err.message.replace(/^register(?:\([^)]*\))?: /, '')}`,
          { cause: err, ...(err.details === undefined ? {} : { details: { ...err.details } }) },
        );
      }
    });
    // serve enforces only the network policy: that is the part whose report mode matters here.
    const reporting = new Set(agents.filter((a) => a.network.mode === 'report').map((a) => a.name));
    const notEnforcing = [...reporting].map((name) => notEnforcingLine(name, ['network']));
    // A minted credential exists nowhere else: print it once so it can be configured.
    const proxyFor = (c: (typeof creds)[number]): string =>
      c.fixed ? redactProxyUrl(c.cred.proxyUrl) : c.cred.proxyUrl;
    const addr = gw.address;
    if (json) {
      for (const line of notEnforcing) io.stderr.write(`${line}\n`);
      emit(io, {
        event: 'listening',
        url: gw.url,
        address: { host: addr.host, port: addr.port },
        ...(metrics === undefined ? {} : { metrics: metrics.url }),
        quotaWindowMs: windowMs ?? null,
        agents: creds.map((c) => ({
          agent: c.agent,
          proxyUrl: proxyFor(c),
          ...(c.fixed ? { passwordFrom: credentialEnvName(c.agent) } : {}),
          enforcing: !reporting.has(c.agent),
        })),
      });
    } else {
      io.stdout.write(`egress gateway listening on ${gw.url}\n`);
      if (metrics !== undefined) io.stdout.write(`metrics: ${metrics.url}\n`);
      io.stdout.write(
        windowMs === undefined
          ? 'quotas: none (max_api_calls and max_egress_bytes are per-run quotas; pass --quota-window 1h to enforce them per window)\n'
          : `quotas: max_api_calls and max_egress_bytes per ${windowText ?? ''} window\n`,
      );
      for (const c of creds) {
        const agent = config.agents[c.agent];
        io.stdout.write(
          `proxy for ${c.agent}: ${proxyFor(c)}${c.fixed ? ` (password from ${credentialEnvName(c.agent)})` : ''}\n`,
        );
        if (windowMs !== undefined && agent !== undefined) {
          io.stdout.write(
            `  quota for ${c.agent}: ${agent.constraints.maxApiCalls} requests and ${agent.network.maxEgressBytes} bytes per ${windowText ?? ''}\n`,
          );
        }
      }
      for (const line of notEnforcing) io.stdout.write(`${line}\n`);
    }
    await io.stopSignal;
  } finally {
    await gw.close();
    await audit.close();
    await metrics?.close();
  }
  if (json) emit(io, { event: 'closed', url: gw.url });
  return ExitCode.Ok;
}

/** `500ms`, `5s`, `1m` (or a bare number of seconds) to milliseconds. */
export function parseTimeout(text: string): number {
  const m = /^(\d{1,7})(ms|s|m)?$/.exec(text);
  const unit = m?.[2] === 'ms' ? 1 : m?.[2] === 'm' ? 60_000 : 1000;
  const ms = m?.[1] === undefined ? NaN : Number(m[1]) * unit;
  if (!Number.isInteger(ms) || ms < 1 || ms > 600_000) {
    throw new UsageError(
      `--timeout must be a duration up to 10m such as 500ms, 5s or 1m, got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

async function validate(argv: readonly string[], io: CliIo): Promise<number> {
  const flags = parseFlags(
    argv,
    ['--proxy-url', '--allowed-url', '--timeout', '--timeout-ms'],
    ['--json', '--progress', '-h', '--help'],
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
  if (allowedUrl !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(allowedUrl);
    } catch {
      u = undefined;
    }
    if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:'))
      throw new UsageError(
        `--allowed-url must be an http:// or https:// URL, got ${redactProxyUrl(allowedUrl)}`,
      );
  }
  const timeoutText = str(flags, '--timeout');
  const timeoutMsText = str(flags, '--timeout-ms');
  let timeoutMs = timeoutText === undefined ? 5000 : parseTimeout(timeoutText);
  if (timeoutMsText !== undefined) timeoutMs = parseTimeout(`${timeoutMsText}ms`);
  const progress = progressWriter(io, { json: flags.has('--json'), forced: flags.has('--progress') });
  progress(`validating ${redactProxyUrl(proxyUrl)} (each request bounded by ${timeoutMs} ms)`);
  const checks = await validateProxy({
    proxyUrl,
    timeoutMs,
    onCheck: (c) => {
      progress(`${c.result} ${c.name}`);
    },
    ...(allowedUrl === undefined ? {} : { allowedUrl }),
  });
  const passed = checks.filter((c) => c.result === 'pass').length;
  const failed = checks.filter((c) => c.result === 'fail').length;
  const notExercised = checks.length - passed - failed;
  // Nothing passed = nothing was shown to be refused: never a success.
  const ok = failed === 0 && passed > 0;
  const redacted = redactProxyUrl(proxyUrl);
  if (flags.has('--json')) {
    io.stdout.write(
      `${JSON.stringify({ proxy: redacted, ok, passed, failed, notExercised, checks }, null, 2)}\n`,
    );
  } else {
    io.stdout.write(`validating forward proxy ${redacted}\n`);
    const label = { pass: 'PASS', fail: 'FAIL', not_exercised: 'SKIP' } as const;
    for (const c of checks) io.stdout.write(`${label[c.result]}  ${c.name}: ${c.detail}\n`);
    io.stdout.write(
      `${passed} passed, ${failed} failed, ${notExercised} not exercised: ${ok ? 'ok' : failed > 0 ? 'FAILED' : 'nothing passed'}\n`,
    );
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

/**
 * Prometheus metrics without an SDK: a registry fed by the diagnostics channels, rendered in the
 * Prometheus text exposition format (0.0.4), and `serveMetrics` to serve it on loopback.
 *
 * Label values come from the config (agent names) and from enumerations (reasons, decisions),
 * except `tool`, which a subagent names: every metric keeps at most {@link MAX_SERIES} label sets,
 * and a new set beyond that is counted under `other`, so a hostile child cannot grow memory.
 */
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { GuardError } from '../errors.js';
import { DiagnosticsChannels, subscribeTo } from './channels.js';

/** Label sets kept per metric; later new ones are folded into one `other` set. */
export const MAX_SERIES = 1000;

/** Histogram buckets, ms (spawn and kill latency). */
const BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

type Labels = Readonly<Record<string, string>>;

function escapeLabel(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One counter or gauge: a value per label set. */
class Series {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}

  add(labels: Labels, by: number): void {
    let key = labelText(labels);
    let entry = this.#values.get(key);
    if (entry === undefined) {
      if (this.#values.size >= MAX_SERIES) {
        const other = Object.fromEntries(Object.keys(labels).map((k) => [k, 'other']));
        key = labelText(other);
        entry = this.#values.get(key) ?? { labels: other, value: 0 };
      } else entry = { labels, value: 0 };
      this.#values.set(key, entry);
    }
    entry.value += by;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`);
    for (const { labels, value } of this.#values.values())
      out.push(`${this.name}${labelText(labels)} ${num(value)}`);
  }
}

/** A histogram without labels. */
class Histogram {
  readonly #counts = BUCKETS_MS.map(() => 0);
  #sum = 0;
  #count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  observe(v: number): void {
    this.#sum += v;
    this.#count += 1;
    for (let i = 0; i < BUCKETS_MS.length; i++)
      if (v <= (BUCKETS_MS[i] ?? Infinity)) this.#counts[i] = (this.#counts[i] ?? 0) + 1;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    BUCKETS_MS.forEach((le, i) => out.push(`${this.name}_bucket{le="${num(le)}"} ${this.#counts[i] ?? 0}`));
    out.push(
      `${this.name}_bucket{le="+Inf"} ${this.#count}`,
      `${this.name}_sum ${num(this.#sum)}`,
      `${this.name}_count ${this.#count}`,
    );
  }
}

/** The metrics this process has seen since the registry was created, in Prometheus text format. */
export interface MetricsRegistry {
  /** The Prometheus text exposition (format 0.0.4). */
  render(): string;
  /** Stops counting (unsubscribes from the channels). */
  close(): void;
}

/**
 * Starts counting every subagent-guard decision of this process.
 *
 * | metric                                   | type      | labels                       |
 * | ---------------------------------------- | --------- | ---------------------------- |
 * | `subagent_guard_spawns_total`            | counter   | `agent`, `outcome`, `reason` |
 * | `subagent_guard_violations_total`        | counter   | `agent`, `reason`            |
 * | `subagent_guard_egress_decisions_total`  | counter   | `decision`, `reason`         |
 * | `subagent_guard_tool_calls_total`        | counter   | `tool`, `decision`, `reason` |
 * | `subagent_guard_quota_used_total`        | counter   | `agent`, `quota`             |
 * | `subagent_guard_quota_refused_total`     | counter   | `agent`, `quota`             |
 * | `subagent_guard_quota_refunded_total`    | counter   | `agent`, `quota`             |
 * | `subagent_guard_subagents_live`          | gauge     | `agent`                      |
 * | `subagent_guard_spawn_duration_ms`       | histogram |                              |
 * | `subagent_guard_kill_duration_ms`        | histogram |                              |
 */
export function createMetricsRegistry(): MetricsRegistry {
  const spawns = new Series('subagent_guard_spawns_total', 'Spawn requests, accepted or denied.', 'counter');
  const violations = new Series('subagent_guard_violations_total', 'Violations by reason.', 'counter');
  const egress = new Series(
    'subagent_guard_egress_decisions_total',
    'Egress decisions by reason.',
    'counter',
  );
  const tools = new Series('subagent_guard_tool_calls_total', 'Tool call decisions.', 'counter');
  const quotaUsed = new Series(
    'subagent_guard_quota_used_total',
    'Quota charged: api_calls in units, cost_usd in USD.',
    'counter',
  );
  const quotaRefused = new Series('subagent_guard_quota_refused_total', 'Quota charges refused.', 'counter');
  const quotaRefunded = new Series(
    'subagent_guard_quota_refunded_total',
    'Cost reservations given back when a call settled below its maximum, USD (net use = used - refunded).',
    'counter',
  );
  const live = new Series('subagent_guard_subagents_live', 'Subagents spawned and not yet exited.', 'gauge');
  const spawnMs = new Histogram(
    'subagent_guard_spawn_duration_ms',
    'Run start to the subagent process running, ms.',
  );
  const killMs = new Histogram(
    'subagent_guard_kill_duration_ms',
    'Termination decision to every process of the sandbox gone, ms.',
  );
  const offs = [
    subscribeTo(DiagnosticsChannels.Spawn, (m) => {
      spawns.add({ agent: m.agent, outcome: 'accepted', reason: '' }, 1);
      live.add({ agent: m.agent }, 1);
    }),
    subscribeTo(DiagnosticsChannels.SpawnDenied, (m) => {
      spawns.add({ agent: m.agent, outcome: 'denied', reason: m.reason }, 1);
    }),
    subscribeTo(DiagnosticsChannels.Running, (m) => {
      spawnMs.observe(m.spawnMs);
    }),
    subscribeTo(DiagnosticsChannels.Violation, (m) => {
      violations.add({ agent: m.agent, reason: m.reason }, 1);
    }),
    subscribeTo(DiagnosticsChannels.EgressDecision, (m) => {
      egress.add({ decision: m.allow ? 'allow' : 'deny', reason: m.reason }, 1);
    }),
    subscribeTo(DiagnosticsChannels.ToolDecision, (m) => {
      tools.add({ tool: m.tool, decision: m.allow ? 'allow' : 'deny', reason: m.reason }, 1);
    }),
    subscribeTo(DiagnosticsChannels.QuotaCharge, (m) => {
      if (m.allowed) quotaUsed.add({ agent: m.agent, quota: m.quota }, m.amount);
      else quotaRefused.add({ agent: m.agent, quota: m.quota }, 1);
    }),
    subscribeTo(DiagnosticsChannels.QuotaRefund, (m) => {
      quotaRefunded.add({ agent: m.agent, quota: m.quota }, m.amount);
    }),
    subscribeTo(DiagnosticsChannels.Exit, (m) => {
      live.add({ agent: m.agent }, -1);
      if (m.killMs !== undefined) killMs.observe(m.killMs);
    }),
  ];
  const all = [
    spawns,
    violations,
    egress,
    tools,
    quotaUsed,
    quotaRefused,
    quotaRefunded,
    live,
    spawnMs,
    killMs,
  ];
  return {
    render: () => {
      const out: string[] = [];
      for (const m of all) m.render(out);
      return `${out.join('\n')}\n`;
    },
    close: () => {
      for (const off of offs.splice(0)) off();
    },
  };
}

/** Options of {@link serveMetrics}. */
export interface ServeMetricsOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 9464 */
  readonly port?: number;
  /** Metrics name agents and tools: listening beyond loopback needs this. @default false */
  readonly allowNonLoopback?: boolean;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `http://host:port/metrics` */
  readonly url: string;
  readonly port: number;
  readonly registry: MetricsRegistry;
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * Serves this process's metrics in the Prometheus text format at `GET /metrics`.
 * Throws SG_METRICS_LISTEN when it cannot listen (busy port, non-loopback host without
 * `allowNonLoopback`).
 *
 * @example
 * const m = await serveMetrics({ port: 9464 }); // scrape http://127.0.0.1:9464/metrics
 */
export async function serveMetrics(opts: ServeMetricsOptions = {}): Promise<MetricsServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 9464;
  if (!isLoopback(host) && opts.allowNonLoopback !== true) {
    throw new GuardError(
      'SG_METRICS_LISTEN',
      `refusing to serve metrics on non-loopback address ${host}: they name agents and tools; pass allowNonLoopback: true to force it`,
      { details: { host, port } },
    );
  }
  const registry = createMetricsRegistry();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(registry.render());
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    registry.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new GuardError(
      'SG_METRICS_LISTEN',
      `metrics endpoint cannot listen on ${host}:${port}${code === undefined ? '' : ` (${code})`}`,
      { cause: err, details: { host, port } },
    );
  }
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr.port : port;
  const h = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${h}:${bound}/metrics`,
    port: bound,
    registry,
    close: () =>
      new Promise<void>((resolve) => {
        registry.close();
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

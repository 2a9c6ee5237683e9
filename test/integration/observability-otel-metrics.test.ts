/**
 * OpenTelemetry (with the real SDK, in memory) and the Prometheus endpoint (scraped over HTTP and
 * read with a real Prometheus text-format parser) both see a real orchestrator run: a completed
 * subagent (a tool call, an egress request) and one terminated for a denied tool.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { GuardError } from '../../src/errors.js';
import { serveMetrics, type MetricsServer } from '../../src/observability/metrics.js';
import { instrumentOpenTelemetry, type OpenTelemetryInstrumentation } from '../../src/observability/otel.js';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { meteredTool, paidTool } from '../helpers/cost-tools.js';
import { collectAudit } from '../helpers/spawner-audit.js';
import { makeConfig } from '../helpers/spawner-config.js';
import {
  removeDir,
  startLoopbackServer,
  testResolver,
  writeAgents,
  type LoopbackServer,
} from '../helpers/spawner-harness.js';

const ALLOWED = 'api.allowed.test';
const ALLOWED_IP = '127.0.0.2';

/** A reader the test pulls from. */
class PullReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

interface Parsed {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
  }[];
}

let agentsDir = '';
let api: LoopbackServer;
let metrics: MetricsServer;
let otel: OpenTelemetryInstrumentation;
const spans = new InMemorySpanExporter();
const reader = new PullReader();
const meterProvider = new MeterProvider({ readers: [reader] });
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
let runIds: { ok: string; denied: string } = { ok: '', denied: '' };

const paid = paidTool;
const metered = meteredTool;

before(async () => {
  agentsDir = writeAgents();
  api = await startLoopbackServer(ALLOWED_IP);
  metrics = await serveMetrics({ port: 0 });
  otel = await instrumentOpenTelemetry({ meterProvider, tracerProvider });
  const config = makeConfig(
    {
      main: { role: 'parent', subagents: { allowAgents: '*', maxConcurrent: 2, maxChildren: 8 } },
      tools: {
        entry: join(agentsDir, 'tools.mjs'),
        tools: { allowed: ['web_fetch', 'paid', 'metered'], denied: ['exec'] },
        constraints: { maxMemoryMb: 160, maxApiCalls: 8, maxCostUsd: 0.25, timeoutSeconds: 10 },
        network: { allowedDomains: [ALLOWED], allowedPorts: [api.port], allowedCidrs: [`${ALLOWED_IP}/32`] },
      },
    },
    { baseDir: agentsDir },
  );
  const { resolver } = testResolver({ [ALLOWED]: ALLOWED_IP });
  const orch = await createOrchestrator({
    config,
    tools: { paid, metered },
    resolver,
    logger: collectAudit().logger,
  });
  try {
    const ok = orch.spawn({
      parent: 'main',
      agent: 'tools',
      task: {
        calls: [
          { name: 'web_fetch', args: { url: `http://${ALLOWED}:${api.port}/small` } },
          { name: 'paid', args: {} },
          { name: 'metered', args: {} },
        ],
      },
    });
    const denied = orch.spawn({
      parent: 'main',
      agent: 'tools',
      task: { calls: [{ name: 'exec', args: {} }] },
    });
    runIds = { ok: ok.id, denied: denied.id };
    const [a, b] = await Promise.all([ok.result, denied.result]);
    assert.equal(a.status, 'completed', JSON.stringify(a));
    assert.equal(b.status, 'terminated');
    assert.throws(() => orch.spawn({ parent: 'main', agent: 'nobody', task: {} }));
  } finally {
    await orch.close();
  }
});

after(async () => {
  otel.close();
  await metrics.close();
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  await api.close();
  removeDir(agentsDir);
});

function metricPoints(
  rm: ResourceMetrics,
  name: string,
): { attributes: Record<string, unknown>; value: unknown }[] {
  const out: { attributes: Record<string, unknown>; value: unknown }[] = [];
  for (const sm of rm.scopeMetrics)
    for (const m of sm.metrics) if (m.descriptor.name === name) for (const p of m.dataPoints) out.push(p);
  return out;
}

void describe('OpenTelemetry instrumentation', () => {
  void test('a span per subagent run, with child spans per tool call and egress request', () => {
    const finished = spans.getFinishedSpans();
    const runs = finished.filter((s) => s.name === 'subagent_guard.run');
    assert.equal(runs.length, 2);
    const ok = runs.find((s) => s.attributes['subagent_guard.subagent_id'] === runIds.ok);
    const denied = runs.find((s) => s.attributes['subagent_guard.subagent_id'] === runIds.denied);
    assert.ok(ok !== undefined && denied !== undefined);
    assert.equal(denied.status.code, 2, 'a terminated run is an error span');
    const childrenOf = (id: string): string[] =>
      finished.filter((s) => s.parentSpanContext?.spanId === id).map((s) => s.name);
    assert.deepEqual(childrenOf(ok.spanContext().spanId).sort(), [
      'subagent_guard.egress_request',
      'subagent_guard.tool_call',
      'subagent_guard.tool_call',
      'subagent_guard.tool_call',
    ]);
    assert.deepEqual(childrenOf(denied.spanContext().spanId), ['subagent_guard.tool_call']);
    for (const s of finished.filter((x) => x.name !== 'subagent_guard.run'))
      assert.equal(
        s.spanContext().traceId,
        runs.find((r) => r.spanContext().spanId === s.parentSpanContext?.spanId)?.spanContext().traceId,
      );
  });

  void test('metrics: spawns, violations, egress decisions, quota, live subagents, latency histograms', async () => {
    const { resourceMetrics: rm, errors } = await reader.collect();
    assert.deepEqual(errors, []);
    const sum = (name: string, where: (a: Record<string, unknown>) => boolean = () => true): number =>
      metricPoints(rm, name)
        .filter((p) => where(p.attributes))
        .reduce((n, p) => n + (typeof p.value === 'number' ? p.value : 0), 0);
    assert.equal(
      sum('subagent_guard.spawns', (a) => a.outcome === 'accepted'),
      2,
    );
    assert.equal(
      sum('subagent_guard.spawns', (a) => a.reason === 'unknown_agent'),
      1,
    );
    assert.equal(
      sum('subagent_guard.violations', (a) => a.reason === 'tool_denied'),
      1,
    );
    assert.ok(sum('subagent_guard.egress.decisions', (a) => a.decision === 'allow') >= 1);
    // paid (0.1) + metered's reservation (0.1); metered settled to 0.04, so 0.06 came back.
    assert.ok(Math.abs(sum('subagent_guard.quota.used', (a) => a.quota === 'cost_usd') - 0.2) < 1e-9);
    assert.ok(Math.abs(sum('subagent_guard.quota.refunded', (a) => a.quota === 'cost_usd') - 0.06) < 1e-9);
    assert.equal(sum('subagent_guard.subagents.live'), 0, 'every spawned subagent exited');
    const hist = (name: string): number =>
      metricPoints(rm, name).reduce((n, p) => n + ((p.value as { count?: number }).count ?? 0), 0);
    assert.equal(hist('subagent_guard.spawn.duration'), 2);
    assert.ok(hist('subagent_guard.kill.duration') >= 1);
  });
});

void describe('Prometheus endpoint', () => {
  void test('serves the same figures in the text format, read by a Prometheus parser', async () => {
    const res = await fetch(metrics.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const parsed = parsePrometheusTextFormat(await res.text()) as Parsed[];
    const family = (name: string): Parsed => {
      const f = parsed.find((p) => p.name === name);
      assert.ok(f !== undefined, `no ${name}`);
      return f;
    };
    const value = (name: string, labels: Record<string, string>): number =>
      family(name)
        .metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
        .reduce((n, m) => n + Number(m.value), 0);
    assert.equal(family('subagent_guard_spawns_total').type, 'COUNTER');
    assert.equal(value('subagent_guard_spawns_total', { outcome: 'accepted', agent: 'tools' }), 2);
    assert.equal(value('subagent_guard_spawns_total', { outcome: 'denied', reason: 'unknown_agent' }), 1);
    assert.equal(value('subagent_guard_violations_total', { reason: 'tool_denied' }), 1);
    assert.ok(value('subagent_guard_egress_decisions_total', { decision: 'allow', reason: 'allowed' }) >= 1);
    assert.equal(value('subagent_guard_tool_calls_total', { tool: 'exec', decision: 'deny' }), 1);
    assert.ok(Math.abs(value('subagent_guard_quota_used_total', { quota: 'cost_usd' }) - 0.2) < 1e-9);
    assert.equal(family('subagent_guard_quota_refunded_total').type, 'COUNTER');
    assert.ok(Math.abs(value('subagent_guard_quota_refunded_total', { quota: 'cost_usd' }) - 0.06) < 1e-9);
    assert.equal(family('subagent_guard_subagents_live').type, 'GAUGE');
    assert.equal(value('subagent_guard_subagents_live', { agent: 'tools' }), 0);
    const spawn = family('subagent_guard_spawn_duration_ms');
    assert.equal(spawn.type, 'HISTOGRAM');
    const first = spawn.metrics[0];
    assert.ok(first !== undefined);
    assert.equal(first.count, '2');
    assert.equal(first.buckets === undefined ? undefined : first.buckets['+Inf'], '2');
    assert.equal(family('subagent_guard_kill_duration_ms').type, 'HISTOGRAM');
    assert.equal((await fetch(metrics.url.replace('/metrics', '/other'))).status, 404);
  });

  void test('a busy port fails with SG_METRICS_LISTEN, naming the address and the cause', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const addr = busy.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    try {
      await assert.rejects(serveMetrics({ port }), (err: unknown) => {
        assert.ok(err instanceof GuardError);
        assert.equal(err.code, 'SG_METRICS_LISTEN');
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`));
        return true;
      });
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  void test('a non-loopback host is refused unless allowed', async () => {
    await assert.rejects(serveMetrics({ host: '0.0.0.0', port: 0 }), { code: 'SG_METRICS_LISTEN' });
  });
});

// Observability cost: what a tool call and an egress request cost the parent (CPU and wall time
// per operation) with nobody subscribed to the diagnostics channels, with one no-op subscriber on
// every channel, with the Prometheus registry (`createMetricsRegistry`: a real subscriber), and
// with OpenTelemetry on (the real SDK: a tracer provider whose spans go to a discarding exporter,
// a meter provider with a reader). One subagent per run (isolation 'process': the gateway and the
// broker are the same at every level) makes `n` tool calls, or `n` GETs through the gateway to a
// loopback origin in this process; the parent's CPU is measured between the subagent's first and
// last tool call. Modes are interleaved within each repetition; medians across repetitions.
import { createServer } from 'node:http';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { benchConfig, createAuditRecorder, loadGuard, withTimeout } from '../lib/guard.mjs';
import { median } from '../lib/stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOMAIN = 'origin.bench.test';
const ORIGIN_IP = '127.0.0.2';
const MODES = ['none', 'diagnostics', 'prometheus', 'otel'];

const range = (v) => [Math.min(...v), Math.max(...v)];

function cpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function startOrigin() {
  const body = Buffer.alloc(100, 'x');
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, ORIGIN_IP);
  await once(server, 'listening');
  return { server, port: server.address().port };
}

/** What each mode turns on; returns its `off()`. */
async function enable(mode, guard) {
  if (mode === 'none') return () => {};
  if (mode === 'diagnostics') {
    const noop = () => {};
    const names = Object.values(guard.DiagnosticsChannels);
    for (const n of names) subscribe(n, noop);
    return () => {
      for (const n of names) unsubscribe(n, noop);
    };
  }
  if (mode === 'prometheus') {
    const reg = guard.createMetricsRegistry();
    return () => reg.close();
  }
  const { MeterProvider, MetricReader } = await import('@opentelemetry/sdk-metrics');
  const { BasicTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  class PullReader extends MetricReader {
    onShutdown() {
      return Promise.resolve();
    }
    onForceFlush() {
      return Promise.resolve();
    }
  }
  // Every span is ended, processed and handed to an exporter that drops it (export cost excluded).
  const discard = {
    export: (_spans, done) => done({ code: 0 }),
    shutdown: () => Promise.resolve(),
  };
  const meterProvider = new MeterProvider({ readers: [new PullReader()] });
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(discard)] });
  const otel = await guard.instrumentOpenTelemetry({ meterProvider, tracerProvider });
  return () => otel.close();
}

async function loadObservability() {
  const m = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
  for (const k of ['DiagnosticsChannels', 'createMetricsRegistry', 'instrumentOpenTelemetry'])
    if (m[k] === undefined) throw new Error(`dist/index.js does not export ${k}`);
  return m;
}

/** One subagent doing `n` operations of `kind` ('calls' | 'fetch'); parent CPU and wall per op. */
async function measure(orch, marks, kind, n, url) {
  const h = orch.spawn({
    parent: 'bench_parent',
    agent: kind === 'fetch' ? 'bench_net' : 'bench_child',
    task: { mode: kind, n, url },
  });
  const out = await withTimeout(h.result, 300_000, `${kind} subagent`);
  if (out.status !== 'completed')
    throw new Error(`${kind} subagent ended ${out.status}: ${JSON.stringify(out.error ?? out.reason)}`);
  const m = marks.get(h.id);
  marks.delete(h.id);
  if (m?.end === undefined) throw new Error(`${kind}: no end mark`);
  return {
    cpuUsPerOp: (m.end.cpu - m.start.cpu) / n,
    wallUsPerOp: ((m.end.t - m.start.t) * 1000) / n,
  };
}

/** @param {{ quick: boolean, reps: number, log: (m: string) => void }} ctx */
export async function run(ctx) {
  const guard = await loadGuard();
  if (!guard.ok) return { skipped: guard.reason };
  let obs;
  try {
    obs = await loadObservability();
    await import('@opentelemetry/sdk-trace-base');
    await import('@opentelemetry/sdk-metrics');
  } catch (e) {
    return { skipped: `observability exports or the OpenTelemetry SDK missing: ${String(e?.message ?? e)}` };
  }
  const nCalls = ctx.quick ? 300 : 2000;
  const nFetch = ctx.quick ? 200 : 1000;
  const reps = ctx.reps;
  const origin = await startOrigin();
  const marks = new Map();
  const tools = {
    ping: {
      description: 'benchmark marker: the first and the last tool call mark the measured window',
      inputSchema: { type: 'object', properties: { mode: { type: 'string' } }, additionalProperties: false },
      handler: async (args, c) => {
        if (args.mode === 'call') return { ok: true };
        const at = { cpu: cpuUs(), t: performance.now() };
        const m = marks.get(c.subagentId) ?? {};
        if (args.mode === 'end') m.end = at;
        else m.start = at;
        marks.set(c.subagentId, m);
        return { ok: true };
      },
    },
  };
  const audit = createAuditRecorder(guard.pino);
  const orch = await guard.createOrchestrator({
    config: benchConfig(guard.parseConfig, {
      network: { domain: DOMAIN, port: origin.port, cidr: `${ORIGIN_IP}/32` },
    }),
    tools,
    logger: audit.logger,
    isolation: 'process',
    resolver: (name) =>
      name === DOMAIN
        ? Promise.resolve([{ address: ORIGIN_IP, family: 4 }])
        : Promise.reject(Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' })),
  });
  const url = `http://${DOMAIN}:${origin.port}/`;
  const samples = Object.fromEntries(MODES.map((m) => [m, { calls: [], fetch: [] }]));
  try {
    // One untimed run of each kind first: JIT and connection pools warm.
    await measure(orch, marks, 'calls', Math.min(200, nCalls), url);
    await measure(orch, marks, 'fetch', Math.min(100, nFetch), url);
    for (let r = 0; r < reps; r++) {
      for (const mode of MODES) {
        const off = await enable(mode, obs);
        try {
          audit.clear();
          samples[mode].calls.push(await measure(orch, marks, 'calls', nCalls, url));
          samples[mode].fetch.push(await measure(orch, marks, 'fetch', nFetch, url));
        } finally {
          off();
        }
      }
    }
  } finally {
    await withTimeout(orch.close(), 60_000, 'orchestrator close').catch(() => {});
    origin.server.close();
  }
  const modes = {};
  for (const mode of MODES) {
    const s = samples[mode];
    modes[mode] = {
      toolCall: {
        cpuUs: median(s.calls.map((x) => x.cpuUsPerOp)),
        cpuUsRange: range(s.calls.map((x) => x.cpuUsPerOp)),
        wallUs: median(s.calls.map((x) => x.wallUsPerOp)),
      },
      egress: {
        cpuUs: median(s.fetch.map((x) => x.cpuUsPerOp)),
        cpuUsRange: range(s.fetch.map((x) => x.cpuUsPerOp)),
        wallUs: median(s.fetch.map((x) => x.wallUsPerOp)),
      },
    };
    ctx.log(
      `  ${mode.padEnd(11)} tool call: ${modes[mode].toolCall.cpuUs.toFixed(1)} µs CPU, ${modes[mode].toolCall.wallUs.toFixed(0)} µs wall; egress request: ${modes[mode].egress.cpuUs.toFixed(1)} µs CPU, ${modes[mode].egress.wallUs.toFixed(0)} µs wall (parent)`,
    );
  }
  // The publishers' own guard, isolated: what an unobserved decision adds (one `hasSubscribers` read).
  const { channel } = await import('node:diagnostics_channel');
  const ch = channel(obs.DiagnosticsChannels.EgressDecision);
  let hits = 0;
  const iters = 20_000_000;
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) if (ch.hasSubscribers) hits++;
  const hasSubscribersNs = ((performance.now() - t0) * 1e6) / iters;
  // One egress.decision message published (built + delivered) per iteration, per subscriber kind.
  const msg = () => ({
    subagentId: 'bench',
    agent: 'bench_net',
    method: 'GET',
    host: DOMAIN,
    port: 443,
    allow: true,
    reason: 'allowed',
    status: 200,
  });
  const publishNs = {};
  for (const mode of ['diagnostics', 'prometheus']) {
    const off = await enable(mode, obs);
    try {
      const k = 1_000_000;
      const t1 = performance.now();
      for (let i = 0; i < k; i++) if (ch.hasSubscribers) ch.publish(msg());
      publishNs[mode] = ((performance.now() - t1) * 1e6) / k;
    } finally {
      off();
    }
  }
  ctx.log(
    `  unobserved decision: ${hasSubscribersNs.toFixed(2)} ns (hasSubscribers); one egress.decision published: ${publishNs.diagnostics.toFixed(0)} ns to a no-op subscriber, ${publishNs.prometheus.toFixed(0)} ns to the Prometheus registry`,
  );
  return {
    publishNs,
    isolation: 'process',
    reps,
    toolCalls: nCalls,
    egressRequests: nFetch,
    modes,
    hasSubscribersNs,
    hits,
  };
}

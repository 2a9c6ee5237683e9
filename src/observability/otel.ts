/**
 * OpenTelemetry instrumentation, fed by the diagnostics channels. `@opentelemetry/api` is an
 * optional peer dependency: without it `instrumentOpenTelemetry` fails with SG_OTEL_MISSING, and
 * with it but without an SDK registered every instrument is the API's no-op.
 *
 * Traces: one `subagent_guard.run` span per subagent (spawn to exit), with a child span per tool call
 * (`subagent_guard.tool_call`) and per egress request (`subagent_guard.egress_request`; a refused request is a zero-length span
 * with an error status). Metrics (meter `subagent-guard`):
 *
 * | instrument                               | kind            | attributes                   |
 * | ---------------------------------------- | --------------- | ---------------------------- |
 * | `subagent_guard.spawns`                  | counter         | `agent`, `outcome`, `reason` |
 * | `subagent_guard.violations`              | counter         | `agent`, `reason`            |
 * | `subagent_guard.egress.decisions`        | counter         | `decision`, `reason`         |
 * | `subagent_guard.tool.calls`              | counter         | `tool`, `decision`, `reason` |
 * | `subagent_guard.quota.used`              | counter         | `agent`, `quota`             |
 * | `subagent_guard.quota.refused`           | counter         | `agent`, `quota`             |
 * | `subagent_guard.quota.refunded`          | counter         | `agent`, `quota`             |
 * | `subagent_guard.subagents.live`          | up-down counter | `agent`                      |
 * | `subagent_guard.spawn.duration`          | histogram (ms)  | `agent`                      |
 * | `subagent_guard.kill.duration`           | histogram (ms)  | `agent`, `reason`            |
 */
import { GuardError } from '../errors.js';
import { DiagnosticsChannels, subscribeTo } from './channels.js';

// Types only: erased at build time, so the module loads without the optional peer installed.
import type * as OtelApiModule from '@opentelemetry/api';
import type { Context, MeterProvider, Span, TracerProvider } from '@opentelemetry/api';

type OtelApi = typeof OtelApiModule;

/** Options of {@link instrumentOpenTelemetry}. */
export interface OpenTelemetryOptions {
  /** @default the global meter provider (`metrics.getMeterProvider()`) */
  readonly meterProvider?: MeterProvider;
  /** @default the global tracer provider (`trace.getTracerProvider()`) */
  readonly tracerProvider?: TracerProvider;
  /** Record spans. @default true */
  readonly traces?: boolean;
  /** Record metrics. @default true */
  readonly metrics?: boolean;
}

/** A running instrumentation; `close()` unsubscribes from every channel and ends open run spans. */
export interface OpenTelemetryInstrumentation {
  close(): void;
}

const SCOPE = 'subagent-guard';

async function loadApi(): Promise<OtelApi> {
  try {
    return await import('@opentelemetry/api');
  } catch (err) {
    throw new GuardError(
      'SG_OTEL_MISSING',
      'instrumentOpenTelemetry needs the optional peer dependency @opentelemetry/api: npm install @opentelemetry/api (and an SDK to export anything)',
      { cause: err },
    );
  }
}

/**
 * Subscribes OpenTelemetry spans and metrics to every subagent-guard decision in this process.
 * Call once per process (a second call records everything twice); `close()` stops it.
 *
 * @example
 * const otel = await instrumentOpenTelemetry(); // after registering an SDK
 * // ... orchestrators run ...
 * otel.close();
 */
export async function instrumentOpenTelemetry(
  opts: OpenTelemetryOptions = {},
): Promise<OpenTelemetryInstrumentation> {
  const api = await loadApi();
  const offs: (() => void)[] = [];
  const runs = new Map<string, Span>();
  const version = '1';

  if (opts.metrics !== false) {
    const meter = (opts.meterProvider ?? api.metrics.getMeterProvider()).getMeter(SCOPE, version);
    const spawns = meter.createCounter('subagent_guard.spawns', {
      description: 'Spawn requests, accepted or denied',
    });
    const violations = meter.createCounter('subagent_guard.violations', {
      description: 'Violations by reason',
    });
    const egress = meter.createCounter('subagent_guard.egress.decisions', {
      description: 'Egress decisions by decision and reason',
    });
    const tools = meter.createCounter('subagent_guard.tool.calls', { description: 'Tool call decisions' });
    const quotaUsed = meter.createCounter('subagent_guard.quota.used', {
      description: 'Quota charged: api_calls in units, cost_usd in USD',
    });
    const quotaRefused = meter.createCounter('subagent_guard.quota.refused', {
      description: 'Quota charges refused because they would exceed the limit',
    });
    const quotaRefunded = meter.createCounter('subagent_guard.quota.refunded', {
      description:
        'Cost reservations given back when a call settled below its maximum, USD (net use = used - refunded)',
    });
    const live = meter.createUpDownCounter('subagent_guard.subagents.live', {
      description: 'Subagents spawned, not yet exited',
    });
    const spawnMs = meter.createHistogram('subagent_guard.spawn.duration', {
      description: 'Run start to the subagent process running',
      unit: 'ms',
    });
    const killMs = meter.createHistogram('subagent_guard.kill.duration', {
      description: 'Termination decision to every process of the sandbox gone',
      unit: 'ms',
    });
    offs.push(
      subscribeTo(DiagnosticsChannels.Spawn, (m) => {
        spawns.add(1, { agent: m.agent, outcome: 'accepted' });
        live.add(1, { agent: m.agent });
      }),
      subscribeTo(DiagnosticsChannels.SpawnDenied, (m) => {
        spawns.add(1, { agent: m.agent, outcome: 'denied', reason: m.reason });
      }),
      subscribeTo(DiagnosticsChannels.Running, (m) => {
        spawnMs.record(m.spawnMs, { agent: m.agent });
      }),
      subscribeTo(DiagnosticsChannels.Violation, (m) => {
        violations.add(1, { agent: m.agent, reason: m.reason });
      }),
      subscribeTo(DiagnosticsChannels.EgressDecision, (m) => {
        egress.add(1, { decision: m.allow ? 'allow' : 'deny', reason: m.reason });
      }),
      subscribeTo(DiagnosticsChannels.ToolDecision, (m) => {
        tools.add(1, { tool: m.tool, decision: m.allow ? 'allow' : 'deny', reason: m.reason });
      }),
      subscribeTo(DiagnosticsChannels.QuotaCharge, (m) => {
        if (m.allowed) quotaUsed.add(m.amount, { agent: m.agent, quota: m.quota });
        else quotaRefused.add(1, { agent: m.agent, quota: m.quota });
      }),
      subscribeTo(DiagnosticsChannels.QuotaRefund, (m) => {
        quotaRefunded.add(m.amount, { agent: m.agent, quota: m.quota });
      }),
      subscribeTo(DiagnosticsChannels.Exit, (m) => {
        live.add(-1, { agent: m.agent });
        if (m.killMs !== undefined) killMs.record(m.killMs, { agent: m.agent, reason: m.reason ?? m.status });
      }),
    );
  }

  if (opts.traces !== false) {
    const tracer = (opts.tracerProvider ?? api.trace.getTracerProvider()).getTracer(SCOPE, version);
    const { SpanKind, SpanStatusCode } = api;
    const parentOf = (subagentId: string | null): Context => {
      const run = subagentId === null ? undefined : runs.get(subagentId);
      return run === undefined ? api.ROOT_CONTEXT : api.trace.setSpan(api.ROOT_CONTEXT, run);
    };
    offs.push(
      subscribeTo(DiagnosticsChannels.Spawn, (m) => {
        runs.set(
          m.subagentId,
          tracer.startSpan(
            'subagent_guard.run',
            {
              kind: SpanKind.INTERNAL,
              attributes: {
                'subagent_guard.subagent_id': m.subagentId,
                'subagent_guard.agent': m.agent,
                'subagent_guard.parent': m.parent,
                'subagent_guard.depth': m.depth,
                'subagent_guard.isolation': m.isolation,
              },
            },
            api.ROOT_CONTEXT,
          ),
        );
      }),
      subscribeTo(DiagnosticsChannels.Violation, (m) => {
        runs.get(m.subagentId)?.addEvent('violation', { 'subagent_guard.reason': m.reason });
      }),
      subscribeTo(DiagnosticsChannels.ToolDecision, (m) => {
        if (m.allow) return; // an allowed call gets its span when it finishes (tool.result)
        const span = tracer.startSpan(
          'subagent_guard.tool_call',
          { attributes: { 'subagent_guard.tool': m.tool, 'subagent_guard.reason': m.reason } },
          parentOf(m.subagentId),
        );
        span.setStatus({ code: SpanStatusCode.ERROR, message: m.reason });
        span.end();
      }),
      subscribeTo(DiagnosticsChannels.ToolResult, (m) => {
        const now = Date.now();
        const span = tracer.startSpan(
          'subagent_guard.tool_call',
          {
            startTime: now - m.durationMs,
            attributes: { 'subagent_guard.tool': m.tool, 'subagent_guard.cost_usd': m.costUsd },
          },
          parentOf(m.subagentId),
        );
        if (!m.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: m.code ?? 'error' });
        span.end(now);
      }),
      subscribeTo(DiagnosticsChannels.EgressDecision, (m) => {
        if (m.allow) return; // an allowed request gets its span when it closes (egress.close)
        const span = tracer.startSpan(
          'subagent_guard.egress_request',
          {
            kind: SpanKind.CLIENT,
            attributes: {
              'http.request.method': m.method,
              'server.address': m.host,
              'server.port': m.port,
              'http.response.status_code': m.status,
              'subagent_guard.reason': m.reason,
            },
          },
          parentOf(m.subagentId),
        );
        span.setStatus({ code: SpanStatusCode.ERROR, message: m.reason });
        span.end();
      }),
      subscribeTo(DiagnosticsChannels.EgressClose, (m) => {
        const now = Date.now();
        const span = tracer.startSpan(
          'subagent_guard.egress_request',
          {
            kind: SpanKind.CLIENT,
            startTime: now - m.durationMs,
            attributes: {
              'http.request.method': m.method,
              'server.address': m.host,
              'server.port': m.port,
              'subagent_guard.bytes_in': m.bytesIn,
              'subagent_guard.bytes_out': m.bytesOut,
              'subagent_guard.end': m.end,
            },
          },
          parentOf(m.subagentId),
        );
        span.end(now);
      }),
      subscribeTo(DiagnosticsChannels.Exit, (m) => {
        const span = runs.get(m.subagentId);
        if (span === undefined) return;
        runs.delete(m.subagentId);
        span.setAttributes({
          'subagent_guard.status': m.status,
          'subagent_guard.tool_calls': m.usage.toolCalls,
          'subagent_guard.egress_requests': m.usage.egressRequests,
          'subagent_guard.cost_usd': m.usage.costUsd,
        });
        if (m.status !== 'completed')
          span.setStatus({ code: SpanStatusCode.ERROR, message: m.reason ?? m.status });
        span.end();
      }),
    );
  }

  return {
    close: () => {
      for (const off of offs.splice(0)) off();
      for (const span of runs.values()) span.end();
      runs.clear();
    },
  };
}

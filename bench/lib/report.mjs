// bench/REPORT.md and bench/charts/*.svg from one results object. Everything in the report is
// derived from the JSON, so `node bench/run.mjs --report-only` reproduces it exactly.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart } from './svg.mjs';
import { evaluateTargets } from './targets.mjs';
import { PEER_DOCS, REFERENCE } from './docs.mjs';

function n(v, digits = 0) {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const NUMERIC = /^[+\-−]?[\d,.]+( ?(%|ms|×|MB|s))?( \([\d.,]+×\))?$|^n\/a$|^$/;

function table(head, rows) {
  // Right-align the columns whose cells are all numbers; text columns stay left-aligned.
  const align = head.map((_, i) => i > 0 && rows.every((r) => NUMERIC.test(String(r[i] ?? '').trim())));
  return [
    `| ${head.join(' | ')} |`,
    `|${align.map((a) => (a ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function chart(dir, file, spec, out) {
  writeFileSync(join(dir, file), barChart(spec));
  out.push(`![${spec.title}](charts/${file})`);
}

function httpSection(h, charts, out) {
  const names = Object.keys(h.targets);
  const cs = h.connections;
  out.push(`## Gateway: HTTP forward\n`);
  out.push(
    `wrk (Lua script: absolute-form GET with Proxy-Authorization), keep-alive, 100-byte responses, ${h.seconds} s per run, ${h.reps} interleaved repetition(s), medians. Origin: Node http server on 127.0.0.2 in its own process; proxies on 127.0.0.1. CPU is the proxy's process tree (/proc/PID/stat utime+stime) over the run; for \`direct\` it is the origin's.\n`,
  );
  const squid = h.targets.squid?.byConnections;
  const rows = [];
  for (const name of names) {
    const t = h.targets[name].byConnections;
    for (const c of cs) {
      const r = t[c];
      const ratio = squid && name !== 'squid' && name !== 'direct' ? ` (${n(r.rps / squid[c].rps, 2)}×)` : '';
      rows.push([
        name,
        String(c),
        `${n(r.rps)}${ratio}`,
        n(r.p50Ms, 2),
        n(r.p99Ms, 2),
        n(r.cpuUsPerReq, 1),
        `${n(r.cpuUtil * 100)} %`,
        String(r.errors),
      ]);
    }
  }
  out.push(
    table(
      ['target', 'conns', 'req/s (vs squid)', 'p50 ms', 'p99 ms', 'CPU µs/req', 'CPU util', 'errors'],
      rows,
    ),
    '',
  );
  if (h.audit) {
    out.push(
      `Audit check (ours, after a clean stop): ${n(h.audit.decisions)} \`egress.decision\` and ${n(h.audit.closes)} \`egress.close\` records for ${n(h.audit.requestsCompleted)} requests wrk counted (+ at most ${h.audit.inFlightBound} cut in flight at the ends of runs): **${h.audit.complete ? 'nothing lost' : 'MISMATCH'}**.\n`,
    );
  }
  const groups = cs.map((c) => `${c} connection${c === 1 ? '' : 's'}`);
  const series = (key) =>
    names.map((name) => ({ name, values: cs.map((c) => h.targets[name].byConnections[c][key]) }));
  chart(
    charts,
    'http-rps.svg',
    { title: 'HTTP forward: requests/s (higher is better)', unit: 'req/s', groups, series: series('rps') },
    out,
  );
  chart(
    charts,
    'http-p99.svg',
    { title: 'HTTP forward: p99 latency (lower is better)', unit: 'ms', groups, series: series('p99Ms') },
    out,
  );
  const proxiesOnly = names.filter((x) => x !== 'direct');
  chart(
    charts,
    'http-cpu.svg',
    {
      title: 'HTTP forward: proxy CPU per request (lower is better)',
      unit: 'µs/request',
      groups,
      series: proxiesOnly.map((name) => ({
        name,
        values: cs.map((c) => h.targets[name].byConnections[c].cpuUsPerReq),
      })),
    },
    out,
  );
  out.push('');
  for (const note of h.notes ?? []) out.push(`- ${note}`);
}

function connectSection(c, charts, out) {
  const names = Object.keys(c.targets);
  out.push(`## Gateway: CONNECT tunnels\n`);
  out.push(
    `Bulk: one tunnel, ${n(c.bulkBytes / 1048576)} MiB from the origin's TCP server on 127.0.0.2 to the client. Setups: ${c.concurrency} concurrent clients for ${c.setupSeconds} s, each loop = TCP connect, CONNECT, 200, one byte echoed end to end, close. ${c.reps} interleaved repetition(s), medians.\n`,
  );
  const rows = names.map((name) => {
    const t = c.targets[name];
    return [
      name,
      n(t.mbPerSec),
      n(t.cpuMsPerGb),
      n(t.setupsPerSec),
      n(t.setupP50Ms, 2),
      n(t.setupP99Ms, 2),
      n(t.cpuUsPerSetup),
      String(t.errors),
    ];
  });
  out.push(
    table(
      [
        'target',
        'bulk MB/s',
        'CPU ms/GB',
        'setups/s',
        'setup p50 ms',
        'setup p99 ms',
        'CPU µs/setup',
        'errors',
      ],
      rows,
    ),
    '',
  );
  if (c.audit)
    out.push(
      `Audit (ours): ${n(c.audit.decisions)} decisions, ${n(c.audit.closes)} closes after a clean stop.\n`,
    );
  chart(
    charts,
    'connect-bulk.svg',
    {
      title: 'CONNECT bulk throughput (higher is better)',
      unit: 'MB/s',
      groups: ['bulk'],
      series: names.map((name) => ({ name, values: [c.targets[name].mbPerSec] })),
    },
    out,
  );
  chart(
    charts,
    'connect-setups.svg',
    {
      title: 'CONNECT tunnel setups/s, 8 clients (higher is better)',
      unit: 'setups/s',
      groups: ['setups'],
      series: names.map((name) => ({ name, values: [c.targets[name].setupsPerSec] })),
    },
    out,
  );
  out.push('');
  for (const note of c.notes ?? []) out.push(`- ${note}`);
}

/** Violation → reaped + sockets cut; results from before `killMs` existed only have the full teardown. */
const reapedOf = (r) => r.kill.violationToReaped ?? r.kill.violationToExit;

function spawnerSection(s, charts, out) {
  out.push(`## Spawner\n`);
  if (s.skipped) {
    out.push(`Skipped: ${s.skipped}\n`);
    return;
  }
  out.push(
    `${s.samples} sequential spawns per level. *First tool call*: \`spawn()\` to the parent's handler of the subagent's first \`ctx.tools.call\`. *Violation → reaped* (the target's definition): the subagent calls a denied tool; from the decision to every process of the sandbox reaped and its credential revoked with its sockets (\`killMs\` of the \`subagent.exit\` record). *Full teardown*: audit \`subagent.violation\` to \`subagent.exit\`, which also covers draining the output pipes, removing the cgroup and deleting the scratch dir (the outcome resolves only after it). *terminate()*: call to resolved outcome.\n`,
  );
  const rows = [
    ['bare fork (limit)', 'process', n(s.fork.p50, 1), n(s.fork.p99, 1), '', '', '', '', '', '', ''],
  ];
  for (const [req, r] of Object.entries(s.levels)) {
    if (r.skipped || r.error) {
      rows.push([
        `isolation: '${req}'`,
        r.level ?? '',
        r.skipped ?? `error: ${r.error}`,
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
      ]);
      continue;
    }
    rows.push([
      `isolation: '${req}'`,
      r.level,
      n(r.firstCall.p50, 1),
      n(r.firstCall.p99, 1),
      `+${n(r.firstCall.p50 - s.fork.p50, 1)}`,
      n(reapedOf(r).p50, 1),
      n(reapedOf(r).p99, 1),
      `${n(r.kill.violationToExit.p50, 1)} / ${n(r.kill.violationToExit.p99, 1)}`,
      `${n(r.kill.terminate.p50, 1)} / ${n(r.kill.terminate.p99, 1)}`,
      n(r.idle.rssMbPerSubagent, 1),
      n(r.idle.pssMbPerSubagent, 1),
    ]);
  }
  out.push(
    table(
      [
        '',
        'level',
        'first call p50 ms',
        'p99 ms',
        'vs fork p50',
        'violation→reaped p50 ms',
        'p99 ms',
        'full teardown p50/p99 ms',
        'terminate() p50/p99 ms',
        'idle RSS MB',
        'idle PSS MB',
      ],
      rows,
    ),
    '',
  );
  const levels = Object.entries(s.levels).filter(([, r]) => r.firstCall);
  chart(
    charts,
    'spawn.svg',
    {
      title: 'Spawn → first tool call (lower is better)',
      unit: 'ms',
      groups: ['p50', 'p99'],
      series: [
        { name: 'bare fork', values: [s.fork.p50, s.fork.p99] },
        ...levels.map(([req, r]) => ({
          name: `${req} (${r.level})`,
          values: [r.firstCall.p50, r.firstCall.p99],
        })),
      ],
    },
    out,
  );
  chart(
    charts,
    'kill.svg',
    {
      title: 'Violation → process reaped, sockets cut (lower is better)',
      unit: 'ms',
      groups: ['p50', 'p99'],
      series: levels.map(([req, r]) => ({
        name: `${req} (${r.level})`,
        values: [reapedOf(r).p50, reapedOf(r).p99],
      })),
    },
    out,
  );
  out.push('');
  const cc = s.concurrency;
  if (cc) {
    out.push(`### Concurrent subagents (${cc.level ?? ''})\n`);
    if (cc.error) out.push(`Error: ${cc.error}\n`);
    else {
      out.push(
        table(
          ['subagents', 'ramp s', 'held s', 'stable', 'ended early', 'total RSS MB', 'total PSS MB'],
          cc.steps.map((st) =>
            st.skipped
              ? [String(st.level), st.skipped, '', '', '', '', '']
              : [
                  String(st.level),
                  n(st.rampMs / 1000, 1),
                  String(st.heldSeconds),
                  st.stable ? 'yes' : 'NO',
                  String(st.ended),
                  n(st.rssMb),
                  n(st.pssMb),
                ],
          ),
        ),
        '',
        `Largest number held stable: **${cc.maxStable}** for ${cc.holdSeconds} s (the run stops at the first level that is not stable, or the last level tried).\n`,
      );
    }
  }
}

const ms1 = (s) => (s ? [n(s.p50, 1), n(s.p99, 1)] : ['', '']);

function startupSection(s, charts, out) {
  out.push(`## Start-up: cold, warm pool, bursts\n`);
  if (s.skipped) {
    out.push(`Skipped: ${s.skipped}\n`);
    return;
  }
  out.push(
    `Spawn → first tool call, ${s.samples} sequential spawns per row (${s.samplesGvisor} at gVisor). *Cold*: no pool. *Warm*: the agent has \`pool: { warm: ${Object.values(s.levels).find((r) => r.pool)?.pool.warm ?? 'N'} }\`; before each (timed) spawn the bench waits, untimed, until the pool is full again, so every spawn claims a pre-started sandbox (*from pool* counts the \`subagent.exit\` records with \`warm: true\`). *Idle pooled sandbox*: the orchestrator's process tree with a full pool minus the same orchestrator without one, per sandbox (PSS counts shared pages once; RSS counts node's text in every process), and the pooled sandboxes' own memory cgroups (\`memory.usage_in_bytes\` / \`memory.current\`: what their limit is charged with, page cache included).\n`,
  );
  const rows = [['bare fork (limit)', 'process', ...ms1(s.fork), '', '', '', '', '', '', '']];
  for (const [req, r] of Object.entries(s.levels)) {
    if (r.skipped) {
      rows.push([`isolation: '${req}'`, '', r.skipped, '', '', '', '', '', '', '', '']);
      continue;
    }
    const warmCells = r.warm
      ? [...ms1(r.warm), `${r.warm.warmSpawns}/${r.warm.n}`]
      : [r.warmError ? `not measured: ${r.warmError}` : '', '', ''];
    const p = r.pool;
    rows.push([
      `isolation: '${req}'`,
      r.level ?? '',
      ...(r.cold ? ms1(r.cold) : [`error: ${r.error ?? '?'}`, '']),
      ...warmCells,
      p ? n(p.pssMbPerSandbox, 1) : '',
      p ? n(p.rssMbPerSandbox, 1) : '',
      p ? n(p.cgroupMbPerSandbox, 1) : '',
      p ? n(p.processesPerSandbox, 0) : '',
    ]);
  }
  out.push(
    table(
      [
        '',
        'level',
        'cold p50 ms',
        'cold p99 ms',
        'warm p50 ms',
        'warm p99 ms',
        'from pool',
        'idle pooled PSS MB',
        'RSS MB',
        'cgroup MB',
        'processes',
      ],
      rows,
    ),
    '',
  );
  const measured = Object.entries(s.levels).filter(([, r]) => r.cold);
  chart(
    charts,
    'startup.svg',
    {
      title: 'Spawn → first tool call, cold vs warm pool (lower is better)',
      unit: 'ms',
      groups: ['p50', 'p99'],
      series: [
        { name: 'bare fork', values: [s.fork.p50, s.fork.p99] },
        ...measured.flatMap(([req, r]) => [
          { name: `${req} cold`, values: [r.cold.p50, r.cold.p99] },
          ...(r.warm ? [{ name: `${req} warm`, values: [r.warm.p50, r.warm.p99] }] : []),
        ]),
      ],
    },
    out,
  );
  out.push('');
  const bursts = [s.burst, ...(s.bursts ?? [])].filter(Boolean);
  if (bursts.length > 0) {
    out.push(`### Burst: the parent's event loop while it launches\n`);
    out.push(
      `All spawns issued at once; the spawner queues what exceeds \`maxConcurrent\`. *Event-loop delay*: \`perf_hooks.monitorEventLoopDelay\` (5 ms resolution) in the parent over the whole burst — the gateway, the broker and every timer share that loop. *Child CPU*: each subagent's own \`process.cpuUsage()\` at its first tool call (its start-up); *floor*: cores ÷ that, the spawns/s the machine could not exceed even with a free parent. *Parent CPU*: the parent's own CPU over the burst ÷ spawns.\n`,
    );
    out.push(
      table(
        [
          'level',
          'spawns',
          'maxConcurrent',
          'warm',
          'completed',
          'spawns/s',
          'child CPU ms/spawn',
          'floor spawns/s',
          'parent CPU ms/spawn',
          'loop delay p50 ms',
          'p99 ms',
          'max ms',
        ],
        bursts.map((b) =>
          b.error
            ? [`error: ${b.error}`, '', '', '', '', '', '', '', '', '', '', '']
            : [
                b.level,
                String(b.count),
                String(b.maxConcurrent),
                String(b.warm),
                String(b.completed),
                n(b.spawnsPerSec, 1),
                n(b.childCpuMsPerSpawn, 1),
                n(b.floorSpawnsPerSec, 0),
                n(b.parentCpuMsPerSpawn, 1),
                n(b.loopDelayMs.p50, 1),
                n(b.loopDelayMs.p99, 1),
                n(b.loopDelayMs.max, 1),
              ],
        ),
      ),
      '',
    );
  }
  for (const note of s.notes ?? []) out.push(`- ${note}`);
}

const OBS_MODES = {
  none: 'no subscriber',
  diagnostics: 'one no-op diagnostics_channel subscriber (every channel)',
  prometheus: 'Prometheus registry (`createMetricsRegistry`)',
  otel: 'OpenTelemetry SDK on (traces + metrics)',
};

function observabilitySection(o, out) {
  out.push(`## Observability cost\n`);
  if (o.skipped) {
    out.push(`Skipped: ${o.skipped}\n`);
    return;
  }
  out.push(
    `The parent's CPU and wall time per operation of one subagent (isolation \`${o.isolation}\`; the broker and the gateway are the same at every level): ${n(o.toolCalls)} sequential tool calls, or ${n(o.egressRequests)} sequential GETs through the gateway to a loopback origin served in the parent's process (its CPU included, the same in every mode). Measured between the subagent's first and last tool call; modes interleaved, median of ${o.reps} repetition(s). OpenTelemetry: the real SDK (\`BasicTracerProvider\` + \`SimpleSpanProcessor\` handing every span to an exporter that drops it, \`MeterProvider\` with a reader), so span and metric recording are counted, exporting is not.\n`,
  );
  const base = o.modes.none;
  const rangeOf = (x) =>
    o.reps > 1 && x.cpuUsRange ? ` (${n(x.cpuUsRange[0], 0)}–${n(x.cpuUsRange[1], 0)})` : '';
  const delta = (v, b) =>
    Number.isFinite(v) && Number.isFinite(b) ? `${v - b >= 0 ? '+' : '−'}${n(Math.abs(v - b), 1)}` : 'n/a';
  out.push(
    table(
      [
        '',
        'tool call CPU µs (range)',
        'vs none',
        'wall µs',
        'egress request CPU µs (range)',
        'vs none',
        'wall µs',
      ],
      Object.entries(o.modes).map(([mode, m]) => [
        OBS_MODES[mode] ?? mode,
        `${n(m.toolCall.cpuUs, 1)}${rangeOf(m.toolCall)}`,
        mode === 'none' ? '' : delta(m.toolCall.cpuUs, base.toolCall.cpuUs),
        n(m.toolCall.wallUs, 0),
        `${n(m.egress.cpuUs, 1)}${rangeOf(m.egress)}`,
        mode === 'none' ? '' : delta(m.egress.cpuUs, base.egress.cpuUs),
        n(m.egress.wallUs, 0),
      ]),
    ),
    '',
  );
  out.push(
    `In isolation: an unobserved decision costs the publisher's \`hasSubscribers\` read, ${n(o.hasSubscribersNs, 2)} ns; publishing one \`egress.decision\` (building the message and delivering it) costs ${n(o.publishNs?.diagnostics, 0)} ns with a no-op subscriber and ${n(o.publishNs?.prometheus, 0)} ns into the Prometheus registry. Differences in the table smaller than the spread between repetitions are noise.\n`,
  );
}

function policySection(p, out) {
  out.push(`## Policy engine\n`);
  out.push(
    `From \`bench/policy.mjs\` (${p.secondsPerRow} s per row, ${p.reps} repetition(s), medians; single thread, pure functions).\n`,
  );
  out.push(
    table(
      ['operation', 'ops/s', 'rule-set build ms'],
      p.rows.map((r) => [r.name, n(r.opsPerSec), r.buildMs === undefined ? '' : n(r.buildMs)]),
    ),
    '',
  );
}

function quotaSection(q, out) {
  out.push(`## Quota precision\n`);
  if (q.skipped) {
    out.push(`Skipped: ${q.skipped}\n`);
    return;
  }
  out.push(
    `Memory limit ${q.limitMb} MB, ${q.reps} runs per hog. *heap*: ~8 MB of small objects per step with a 1 ms yield; *buffer*: 8 MB Buffers every 2 ms; *buffer-burst*: 64 MB Buffers back to back without yielding. Peak RSS is the parent's own measurement reported in the outcome.\n`,
  );
  const rows = [];
  for (const [req, lvl] of Object.entries(q.memory)) {
    if (lvl.skipped || lvl.error) {
      rows.push([req, lvl.level ?? '', lvl.skipped ?? lvl.error, '', '', '', '']);
      continue;
    }
    for (const [hog, h] of Object.entries(lvl.hogs)) {
      rows.push([
        req,
        lvl.level,
        hog,
        h.outcomes.join(', '),
        n(h.peakRssMbMedian),
        n(h.peakRssMbMax),
        h.enforcement ? `\`${JSON.stringify(h.enforcement)}\`` : 'n/a',
      ]);
    }
  }
  out.push(
    table(
      ['isolation', 'level', 'hog', 'outcome', 'peak RSS MB (median)', 'max', 'enforcement (spawn audit)'],
      rows,
    ),
    '',
  );
  const t = q.timeout;
  if (t && t.sleep) {
    out.push(
      table(
        ['timeout_seconds = 1', 'outcome', 'late p50 ms', 'late max ms'],
        ['sleep', 'spin'].map((m) => [
          `${m} (${t.level})`,
          t[m].outcomes.join(', '),
          n(t[m].lateMs.p50, 1),
          n(t[m].lateMs.max, 1),
        ]),
      ),
      '',
    );
  }
}

function profileSection(results, out) {
  for (const suite of ['http', 'connect']) {
    const p = results.suites[suite]?.profile;
    if (!p) continue;
    out.push(`### Where our gateway's CPU goes (${suite} suite, \`--cpu-prof\`)\n`);
    out.push(`Profile: \`${p.file}\` (${n(p.totalMs)} ms of samples, idle excluded). Self time by file:\n`);
    out.push(
      table(
        ['file', 'self ms', '%'],
        p.byFile.slice(0, 12).map((f) => [f.file, n(f.selfMs), n(f.pct, 1)]),
      ),
      '',
    );
    out.push('Hottest functions (self time):\n');
    out.push(
      table(
        ['function', 'where', 'self ms', '%'],
        p.top.slice(0, 15).map((f) => [`\`${f.fn}\``, f.where, n(f.selfMs), n(f.pct, 1)]),
      ),
      '',
    );
  }
}

/**
 * Writes bench/REPORT.md and bench/charts/*.svg for `results`; returns a short text summary.
 * @param {object} results the object saved in bench/results/<date>.json
 * @param {string} benchDir absolute path of bench/
 */
export function writeReport(results, benchDir) {
  const charts = join(benchDir, 'charts');
  mkdirSync(charts, { recursive: true });
  const out = [];
  const m = results.machine;
  out.push('# subagent-guard benchmarks\n');
  out.push(
    'Generated by `npm run bench` (this file, `bench/charts/*.svg` and `bench/results/<date>.json` are rewritten by every run; do not edit by hand).\n',
  );
  out.push(
    table(
      ['', ''],
      [
        ['run', `${results.startedAt} (${results.mode}, ${results.elapsedSec ?? '?'} s)`],
        [
          'machine',
          `${m.cpuModel}, ${m.cores} cores, ${n(m.memTotalMb)} MB RAM, ${m.platform}, kernel ${m.kernel}`,
        ],
        [
          'load average',
          `${m.loadavgStart.join(' / ')} at start, ${(m.loadavgEnd ?? []).join(' / ')} at end`,
        ],
        ['Node', results.node],
        ...(results.merged?.suites.length
          ? [
              [
                'merged',
                `${results.merged.suites.join(', ')} from \`bench/results/${results.merged.file}\` (\`--merge\`); the machine and load above are this run's`,
              ],
            ]
          : []),
        [
          'peers',
          Object.entries(results.peers)
            .map(([k, v]) => `${k} ${v.ok ? v.version : '(not installed)'}`)
            .join(', '),
        ],
        [
          'tools',
          Object.entries(results.tools)
            .map(([k, v]) => `${k}: ${v ?? 'not installed'}`)
            .join(', '),
        ],
      ],
    ),
    '',
  );
  if (m.loadavgStart[0] > m.cores * 0.5) {
    out.push(
      `> The machine was busy when this run started (load ${m.loadavgStart[0]} on ${m.cores} cores): absolute throughput is depressed; the ratios between peers measured in the same interleaved run, and CPU per request, are the figures to compare.\n`,
    );
  }
  if (results.skipped.length > 0) out.push(`Skipped: ${results.skipped.map((s) => `\`${s}\``).join('; ')}\n`);
  const targets = evaluateTargets(results);
  out.push('## Targets\n');
  out.push(
    table(
      ['target', 'measured', 'status'],
      targets.map((t) => [t.target, t.measured, t.status]),
    ),
    '',
  );
  // The developers' reading of the figures (what remains and why), maintained by hand.
  const analysis = join(benchDir, 'ANALYSIS.md');
  if (existsSync(analysis)) out.push(readFileSync(analysis, 'utf8').trim(), '');
  const s = results.suites;
  for (const [name, r] of Object.entries(s))
    if (r.error) out.push(`**Suite ${name} failed:** \`${r.error.split('\n')[0]}\`\n`);
  // A section merged from an earlier run (`--merge`) says so under its heading.
  const section = (r, fn) => {
    if (!r || r.error) return;
    const part = [];
    fn(r, part);
    if (r.fromRun) part.splice(1, 0, `*Figures from the run of ${r.fromRun} (merged into this report).*\n`);
    out.push(...part);
  };
  section(s.http, (r, o) => httpSection(r, charts, o));
  section(s.connect, (r, o) => connectSection(r, charts, o));
  profileSection(results, out);
  section(s.spawner, (r, o) => spawnerSection(r, charts, o));
  section(s.startup, (r, o) => startupSection(r, charts, o));
  section(s.observability, observabilitySection);
  section(s.policy, policySection);
  section(s.quota, quotaSection);
  out.push('## Reference figures (from the benchmark issue, same machine kind, Node 20, medians)\n');
  out.push(REFERENCE, '');
  out.push(PEER_DOCS);
  writeFileSync(
    join(benchDir, 'REPORT.md'),
    `${out
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim()}\n`,
  );
  return ['Targets:', ...targets.map((t) => `  [${t.status}] ${t.target}: ${t.measured}`)].join('\n');
}

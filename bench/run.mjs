#!/usr/bin/env node
// Benchmark driver: `npm run bench` (full) or `npm run bench -- --quick` (< 3 minutes).
// Flags:
//   --quick            short runs, 1 repetition (the full run: 3 repetitions, 5 s per HTTP run, 1 GB tunnels)
//   --only=a,b         suites to run: policy, http, connect, spawner, startup, observability, quota (default: all)
//   --reps=N           repetitions of the interleaved peer runs (default 3; quick 1)
//   --seconds=N        duration of each wrk run (default 5; quick 2)
//   --profile          run our gateway with --cpu-prof and summarise where its CPU goes
//   --report-only      regenerate bench/REPORT.md and charts from the newest bench/results/*.json
//   --merge            with --only: keep the other suites' figures from the newest full results file
//                      (the report names the run each section comes from)
// Writes bench/results/<YYYY-MM-DD>.json, bench/REPORT.md and bench/charts/*.svg.
// Peers that are not installed are skipped (and the report says so). Only loopback is used.
import {
  mkdtempSync,
  rmSync,
  mkdirSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  statSync,
  chmodSync,
} from 'node:fs';
import { tmpdir, cpus, release, totalmem, loadavg, platform, arch } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { PEERS } from './lib/peers.mjs';
import { runCommand, which, killAll } from './lib/procs.mjs';
import { writeReport } from './lib/report.mjs';
import { summarizeProfile, newestProfile } from './lib/profile.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const SUITES = ['policy', 'http', 'connect', 'spawner', 'startup', 'observability', 'quota'];

function parseArgs(argv) {
  const o = {
    quick: false,
    only: SUITES,
    reps: undefined,
    seconds: undefined,
    profile: false,
    reportOnly: false,
    merge: false,
  };
  for (const a of argv) {
    if (a === '--quick') o.quick = true;
    else if (a === '--profile') o.profile = true;
    else if (a === '--report-only') o.reportOnly = true;
    else if (a === '--merge') o.merge = true;
    else if (a.startsWith('--only=')) o.only = a.slice(7).split(',').filter(Boolean);
    else if (a.startsWith('--reps=')) o.reps = Math.max(1, Math.min(20, Number(a.slice(7)) || 1));
    else if (a.startsWith('--seconds=')) o.seconds = Math.max(1, Math.min(60, Number(a.slice(10)) || 1));
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        readFileSync(fileURLToPath(import.meta.url), 'utf8')
          .split('\n')
          .slice(1, 14)
          .map((l) => l.replace(/^\/\/ ?/, ''))
          .join('\n') + '\n',
      );
      process.exit(0);
    } else throw new Error(`unknown flag ${a} (see --help)`);
  }
  for (const s of o.only)
    if (!SUITES.includes(s)) throw new Error(`unknown suite ${s}; suites: ${SUITES.join(', ')}`);
  o.reps ??= o.quick ? 1 : 3;
  o.seconds ??= o.quick ? 2 : 5;
  return o;
}

function localDate() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

async function machine() {
  const c = cpus();
  let memAvailableMb = null;
  try {
    memAvailableMb = Math.round(
      Number(/MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]) / 1024,
    );
  } catch {
    // not Linux
  }
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cores: c.length,
    platform: `${platform()} ${arch()}`,
    kernel: release(),
    memTotalMb: Math.round(totalmem() / 1048576),
    memAvailableMb,
    loadavgStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

async function toolVersions() {
  const out = {};
  if (await which('wrk')) {
    const r = await runCommand('wrk', ['-v'], { timeoutMs: 5000 });
    out.wrk = /wrk (\S+)/.exec(r.stdout + r.stderr)?.[1] ?? 'installed';
  } else out.wrk = null;
  for (const tool of ['bwrap', 'unshare']) {
    const p = await which(tool);
    if (p === null) out[tool] = null;
    else {
      const r = await runCommand(p, ['--version'], { timeoutMs: 5000 });
      out[tool] = (r.stdout + r.stderr).split('\n')[0].trim();
    }
  }
  return out;
}

/** Results files, oldest first (by modification time); `full` keeps only full runs. */
function resultFiles(resultsDir, { full = false } = {}) {
  return readdirSync(resultsDir)
    .filter((f) => (full ? /^\d{4}-\d{2}-\d{2}\.json$/ : /^\d{4}-\d{2}-\d{2}.*\.json$/).test(f))
    .sort((a, b) => statSync(join(resultsDir, a)).mtimeMs - statSync(join(resultsDir, b)).mtimeMs);
}

/**
 * --merge: the suites this run did not measure, taken from the newest full results file, each
 * marked with the run it comes from (a suite merged earlier keeps its original run).
 */
function mergeFrom(resultsDir, results) {
  const files = resultFiles(resultsDir, { full: true });
  if (files.length === 0) throw new Error('--merge: no full results in bench/results to merge with');
  const file = files[files.length - 1];
  const prev = JSON.parse(readFileSync(join(resultsDir, file), 'utf8'));
  const merged = [];
  for (const [name, r] of Object.entries(prev.suites)) {
    if (name in results.suites) continue;
    results.suites[name] = { ...r, fromRun: r.fromRun ?? prev.startedAt };
    merged.push(name);
  }
  results.merged = { file, suites: merged };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const resultsDir = join(here, 'results');
  if (opts.reportOnly) {
    const files = resultFiles(resultsDir);
    if (files.length === 0) throw new Error('no results in bench/results; run the benchmark first');
    const results = JSON.parse(readFileSync(join(resultsDir, files[files.length - 1]), 'utf8'));
    writeReport(results, here);
    console.log(`bench/REPORT.md regenerated from bench/results/${files[files.length - 1]}`);
    return;
  }
  const t0 = performance.now();
  const log = (m) => console.log(m);
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-'));
  // squid and tinyproxy drop privileges (to proxy / nobody) and must reach their files in here.
  chmodSync(dir, 0o755);
  // Also on an interrupted run (SIGINT/SIGTERM end in process.exit after the peers are killed).
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const profDir = join(dir, 'profiles');
  const results = {
    date: localDate(),
    startedAt: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    options: { reps: opts.reps, seconds: opts.seconds, suites: opts.only, profile: opts.profile },
    machine: await machine(),
    node: process.version,
    tools: await toolVersions(),
    peers: {},
    skipped: [],
    suites: {},
  };
  log(
    `subagent-guard benchmarks (${results.mode}): ${results.machine.cpuModel}, ${results.machine.cores} cores, Linux ${results.machine.kernel}, Node ${process.version}`,
  );
  if (results.machine.loadavgStart[0] > results.machine.cores * 0.5) {
    log(
      `! load average ${results.machine.loadavgStart[0]} on ${results.machine.cores} cores: absolute figures will be low; compare ratios and CPU per request`,
    );
  }
  const proxies = [];
  for (const peer of PEERS) {
    const p = await peer.probe();
    results.peers[peer.name] = { ok: p.ok, version: p.version ?? null, reason: p.reason ?? null };
    if (p.ok) proxies.push(peer);
    else {
      results.skipped.push(`${peer.name}: ${p.reason}`);
      log(`- skipping ${peer.name}: ${p.reason}`);
    }
  }
  const nodeArgsFor = (suite) => (name) =>
    opts.profile && name === 'subagent-guard' ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, suite)}`] : [];
  try {
    for (const suite of SUITES.filter((s) => opts.only.includes(s))) {
      if (suite === 'http' && results.tools.wrk === null) {
        results.skipped.push('http: wrk not installed (apt-get install -y wrk)');
        log('- skipping http: wrk not installed (apt-get install -y wrk)');
        continue;
      }
      const s0 = performance.now();
      log(`\n== ${suite}`);
      try {
        const mod = await import(`./suites/${suite}.mjs`);
        const r = await mod.run({
          quick: opts.quick,
          reps: opts.reps,
          seconds: opts.seconds,
          dir,
          log,
          proxies,
          nodeArgsFor: nodeArgsFor(suite),
        });
        r.elapsedSec = Math.round((performance.now() - s0) / 100) / 10;
        if (r.skipped) {
          results.skipped.push(`${suite}: ${r.skipped}`);
          log(`- skipped: ${r.skipped}`);
        }
        if (opts.profile && (suite === 'http' || suite === 'connect')) {
          const f = newestProfile(join(profDir, suite));
          if (f !== null) {
            r.profile = summarizeProfile(f, root);
            // Raw profiles are megabytes: kept outside the repository, summarised in the results.
            const keepDir = join(tmpdir(), 'subagent-guard-bench-profiles');
            mkdirSync(keepDir, { recursive: true });
            const keep = join(keepDir, `profile-${suite}-${results.date}.cpuprofile`);
            writeFileSync(keep, readFileSync(f));
            r.profile.file = keep;
          }
        }
        results.suites[suite] = r;
      } catch (e) {
        results.suites[suite] = { error: String(e?.stack ?? e).slice(0, 2000) };
        log(`! ${suite} failed: ${String(e?.message ?? e)}`);
      }
      killAll();
    }
  } finally {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
  results.machine.loadavgEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  results.elapsedSec = Math.round((performance.now() - t0) / 100) / 10;
  mkdirSync(resultsDir, { recursive: true });
  if (opts.merge) mergeFrom(resultsDir, results);
  const file = join(resultsDir, `${results.date}${opts.quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const summary = writeReport(results, here);
  log(`\n${summary}`);
  log(
    `\nwrote ${file.slice(root.length + 1)}, bench/REPORT.md, bench/charts/*.svg in ${results.elapsedSec} s`,
  );
}

main().catch((e) => {
  killAll();
  console.error(e?.stack ?? e);
  process.exitCode = 1;
});

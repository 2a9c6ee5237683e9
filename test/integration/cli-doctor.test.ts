/**
 * `subagent-guard doctor` as a real CLI process on this host, with the real probes: the report's
 * shape and exit code, secret-looking files in reach of an agent's sandbox (named, never read),
 * and a host that cannot give what is asked (runsc or the cgroup memory controller hidden in a
 * private mount namespace, so nothing is uninstalled) exiting 1 with SG_DOCTOR_UNSATISFIED.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, detectIsolation } from '../../src/sandbox/detect.js';
import type { DoctorReport } from '../../src/cli/doctor/report.js';
import { repoRoot } from '../helpers/paths.js';

const cli = join(repoRoot, 'build', 'src', 'cli', 'main.js');
const CANARY = 'sk-doctor-canary-3f9a1c';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI (optionally under a wrapper argv such as `unshare -m sh -c ...`). */
function runCli(args: readonly string[], wrap?: (cmd: string[]) => string[]): Promise<Result> {
  const cmd = [process.execPath, cli, 'doctor', ...args];
  const [file, ...rest] = wrap === undefined ? cmd : wrap(cmd);
  return new Promise((resolve) => {
    execFile(file ?? '', rest, { timeout: 60_000, cwd: dir }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `unshare -m` with a shell prelude, when this process may create a mount namespace (root). */
function inMountNamespace(prelude: string): ((cmd: string[]) => string[]) | string {
  if (process.getuid?.() !== 0) return 'needs root for a private mount namespace';
  const unshare = findExecutable('unshare');
  if (unshare === null) return 'unshare is not installed';
  const probe = spawnSync(unshare, ['-m', 'true'], { timeout: 10_000 });
  if (probe.status !== 0) return `unshare -m does not work here: ${String(probe.stderr).trim()}`;
  return (cmd) => [unshare, '-m', 'sh', '-c', `${prelude} && exec ${cmd.map(shellQuote).join(' ')}`];
}

let dir = '';
let leaky = '';
let clean = '';

before(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sgtest-doctor-')));
  const agent = 'export default async () => ({ ok: true });\n';
  // An agent whose entry sits next to an .env (and a key two levels down): all in reach.
  leaky = join(dir, 'leaky');
  mkdirSync(join(leaky, 'deploy', 'keys'), { recursive: true });
  writeFileSync(join(leaky, 'agent.mjs'), agent);
  writeFileSync(join(leaky, '.env'), `OPENAI_API_KEY=${CANARY}\n`);
  writeFileSync(join(leaky, 'deploy', 'keys', 'server.pem'), `-----BEGIN ${CANARY}-----\n`);
  clean = join(dir, 'clean');
  mkdirSync(join(clean, 'agents'), { recursive: true });
  writeFileSync(join(clean, 'agents', 'agent.mjs'), agent);
  const config = (entry: string) =>
    JSON.stringify({
      agents: {
        main: { role: 'parent', subagents: { allowAgents: ['worker'] } },
        worker: { entry, constraints: { max_memory_mb: 128 } },
      },
    });
  writeFileSync(join(leaky, 'openclaw.json'), config('./agent.mjs'));
  writeFileSync(join(clean, 'openclaw.json'), config('./agents/agent.mjs'));
  writeFileSync(join(dir, 'typo.json'), JSON.stringify({ agents: { w: { tools_alowed: [] } } }));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function parseReport(r: Result): DoctorReport {
  return JSON.parse(r.stdout) as DoctorReport;
}

void describe('subagent-guard doctor', () => {
  void test('--json reports Node, every level with a reason, and what auto picks, as the probes find them', async () => {
    const r = await runCli(['--json']);
    const report = parseReport(r);
    const probed = await detectIsolation({ gvisor: true });
    assert.equal(report.node.version, process.version);
    assert.equal(report.node.required, '>=20.18');
    assert.equal(report.node.supported, true);
    assert.deepEqual(
      report.isolation.levels.map((l) => l.level),
      ['gvisor', 'bubblewrap', 'unshare', 'process'],
    );
    for (const l of report.isolation.levels) {
      assert.equal(l.available, probed.available.includes(l.level), l.level);
      assert.ok(l.detail.length > 0, `${l.level} has a reason`);
    }
    assert.equal(report.isolation.auto, probed.best);
    assert.equal(report.isolation.autoGvisor, probed.available.includes('gvisor') ? 'gvisor' : probed.best);
    assert.equal(report.isolation.chosen, probed.best);
    assert.equal(report.memory.cgroup, probed.cgroup);
    assert.equal(report.config, null);
    assert.equal(r.code, report.ok ? 0 : 1);
  });

  void test('the text report names each level and what auto picks', async () => {
    const r = await runCli([]);
    for (const level of ['gvisor', 'bubblewrap', 'unshare', 'process']) {
      assert.match(r.stdout, new RegExp(`^  (yes|no ) {2}${level}`, 'm'));
    }
    assert.match(r.stdout, /^auto picks \w+; auto\+gvisor picks \w+/m);
    assert.match(r.stdout, /^(OK|NOT OK)/m);
  });

  void test('an .env and a key file in reach of an agent are reported by name, never by content: exit 1', async () => {
    const r = await runCli(['--config', join(leaky, 'openclaw.json'), '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = parseReport(r);
    const worker = report.config?.agents.find((a) => a.name === 'worker');
    assert.ok(worker !== undefined);
    assert.deepEqual(
      [...worker.secrets].sort(),
      [join(leaky, '.env'), join(leaky, 'deploy', 'keys', 'server.pem')].sort(),
    );
    // The spawner would refuse this grant too: doctor says so instead of a spawn failing later.
    assert.equal(worker.refused?.code, 'SG_SANDBOX_READ_GRANT');
    assert.ok(
      report.problems.some(
        (p) =>
          p.code === 'SG_DOCTOR_UNSATISFIED' &&
          p.where === 'agents/worker/reads' &&
          p.message.includes('.env'),
      ),
    );
    const text = await runCli(['--config', join(leaky, 'openclaw.json')]);
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      new RegExp(`SECRETS +${join(leaky, '.env').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    assert.match(text.stdout, /NOT OK: \d+ problems? \[SG_DOCTOR_UNSATISFIED\]/);
    for (const out of [r.stdout, r.stderr, text.stdout, text.stderr]) assert.ok(!out.includes(CANARY));
  });

  void test('an agent in a directory of its own: what it reads, no secrets, its level', async () => {
    const r = await runCli(['--config', join(clean, 'openclaw.json'), '--json']);
    const report = parseReport(r);
    const worker = report.config?.agents.find((a) => a.name === 'worker');
    assert.ok(worker !== undefined);
    assert.equal(report.config?.agents.length, 1, 'the parent agent is not a sandbox');
    assert.equal(worker.refused, null);
    assert.deepEqual(worker.secrets, []);
    assert.equal(worker.reads[0], report.node.path);
    assert.ok(worker.reads.includes(join(clean, 'agents')));
    assert.ok(!worker.reads.includes(clean), 'never the app root');
    assert.equal(worker.isolation, report.isolation.chosen);
    assert.equal(worker.maxMemoryMb, 128);
    assert.ok(!report.problems.some((p) => p.where.startsWith('agents/')), JSON.stringify(report.problems));
    assert.equal(r.code, report.ok ? 0 : 1);
  });

  void test('--isolation gvisor where runsc is not available exits 1 with SG_DOCTOR_UNSATISFIED', async (t) => {
    // Without root runsc never works here; as root, hide every runsc the probe would find.
    let wrap: ((cmd: string[]) => string[]) | undefined;
    if (process.getuid?.() === 0) {
      const runsc = findExecutable('runsc');
      const hidden = runsc === null ? 'true' : `mount --bind /dev/null ${shellQuote(runsc)}`;
      const w = inMountNamespace(hidden);
      if (typeof w === 'string') {
        t.skip(w);
        return;
      }
      wrap = w;
    }
    const r = await runCli(['--isolation', 'gvisor', '--json'], wrap);
    assert.equal(r.code, 1, r.stderr);
    const report = parseReport(r);
    assert.equal(report.ok, false);
    assert.equal(report.isolation.chosen, null);
    assert.equal(report.isolation.levels.find((l) => l.level === 'gvisor')?.available, false);
    const p = report.problems.find((x) => x.where === 'isolation');
    assert.equal(p?.code, 'SG_DOCTOR_UNSATISFIED');
    assert.match(p.message, /gvisor/);
  });

  void test('memory limits without a cgroup memory controller exit 1 with SG_DOCTOR_UNSATISFIED', async (t) => {
    // The cgroup mounts are detached in a private mount namespace only.
    const wrap = inMountNamespace('umount -R -l /sys/fs/cgroup');
    if (typeof wrap === 'string') {
      t.skip(wrap);
      return;
    }
    const r = await runCli(['--config', join(clean, 'openclaw.json'), '--json'], wrap);
    assert.equal(r.code, 1, r.stderr);
    const report = parseReport(r);
    assert.equal(report.memory.cgroup, null);
    assert.equal(report.config?.agents[0]?.memoryEnforcement, 'polling');
    const p = report.problems.find((x) => x.where === 'memory');
    assert.equal(p?.code, 'SG_DOCTOR_UNSATISFIED');
    assert.match(p.message, /worker/);
  });

  void test('an invalid config with --json is a JSON error document: exit 1', async () => {
    const r = await runCli(['--config', join(dir, 'typo.json'), '--json']);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string } };
    assert.equal(doc.ok, false);
    assert.equal(doc.error.code, 'SG_CONFIG_INVALID');
  });

  void test('usage errors exit 2', async () => {
    for (const args of [['--bogus'], ['--isolation', 'sideways'], ['--config']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /SG_USAGE|usage: subagent-guard doctor/);
    }
  });
});

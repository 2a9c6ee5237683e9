/**
 * Runs the demo (`examples/orchestrator.mjs`) the way `npm run demo` does, against the built
 * package, and checks its table and exit code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { detectIsolation } from '../../src/sandbox/index.js';
import { repoRoot } from '../helpers/paths.js';

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'examples', 'orchestrator.mjs')], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the demo did not finish within 90 s\n${stdout}\n${stderr}`));
    }, 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

void test(
  'the demo prints one row per run, all as expected, and exits 0',
  { timeout: 120_000 },
  async (t) => {
    if (
      !existsSync(join(repoRoot, 'dist', 'index.js')) ||
      !existsSync(join(repoRoot, 'dist', 'runtime', 'index.js'))
    ) {
      t.skip('the package is not built (npm run build)');
      return;
    }
    const { best } = await detectIsolation();
    if (best === 'process') {
      // The demo's metadata attack targets 169.254.169.254 through the gateway; without a network
      // namespace a broken egress setup could send it off the machine, which tests never risk.
      t.skip('needs bubblewrap or unshare (a network namespace) on this machine');
      return;
    }
    const { code, stdout, stderr } = await runDemo();
    assert.equal(code, 0, `demo output:\n${stdout}\n${stderr}`);
    const lines = stdout.split('\n');
    const header = lines.findIndex(
      (l) => l.startsWith('agent') && l.includes('status') && l.includes('reason'),
    );
    assert.ok(header >= 0, `no table header in:\n${stdout}`);
    // The usage column says what its two numbers are, and a legend says what a unit is.
    assert.match(lines[header] ?? '', / tool\/api calls /);
    assert.match(stdout, /^tool\/api calls: tool calls made \/ units of max_api_calls spent/m);
    const rows = lines.slice(header + 2).filter((l) => l.startsWith('security_proxy_'));
    assert.equal(rows.length, 9);
    for (const attack of [
      'denied_tool',
      'blocked_domain',
      'metadata_ip',
      'file_write',
      'child_process',
      'memory_bomb',
      'infinite_loop',
      'spawn_loop',
    ]) {
      const row = rows.find((r) => r.includes(` ${attack} `));
      assert.ok(
        row?.includes('terminated') === true && row.trimEnd().endsWith('yes'),
        `row for ${attack}: ${row ?? 'missing'}`,
      );
    }
    // Each egress attack is refused for the reason its name states, not for its port (issue 11).
    for (const [attack, why] of [
      ['blocked_domain', 'host_not_allowed'],
      ['metadata_ip', 'metadata_prohibited'],
    ]) {
      const row = rows.find((r) => r.includes(` ${attack} `)) ?? '';
      assert.match(row, new RegExp(` egress_denied +${why} `), `row for ${attack}: ${row}`);
    }
    assert.match(stdout, /all 9 outcomes as expected/);
    const audit = /audit log: (.+)$/m.exec(stdout)?.[1];
    assert.ok(audit !== undefined && existsSync(audit), 'the audit log path is printed and exists');
    rmSync(dirname(audit), { recursive: true, force: true });
  },
);

void test(
  'the model_call example summarises a fetched page against a local OpenAI-compatible server',
  { timeout: 90_000 },
  async (t) => {
    if (!existsSync(join(repoRoot, 'dist', 'index.js'))) {
      t.skip('the package is not built (npm run build)');
      return;
    }
    const env = { ...process.env };
    for (const k of ['MODEL_BASE_URL', 'MODEL_NAME', 'MODEL_API_KEY']) Reflect.deleteProperty(env, k);
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(repoRoot, 'examples', 'summarise.mjs')], {
        cwd: repoRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
      }, 60_000);
      child.on('error', reject);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve({ code: c, stdout: out, stderr: err });
      });
    });
    assert.equal(code, 0, `example output:\n${stdout}\n${stderr}`);
    const outcome = JSON.parse(stdout) as {
      status: string;
      output: { summary: string; usage: { outputTokens: number } };
      usage: { costUsd: number };
    };
    assert.equal(outcome.status, 'completed');
    assert.match(outcome.output.summary, /anemones/);
    assert.ok(outcome.output.usage.outputTokens > 0);
    assert.ok(outcome.usage.costUsd > 0 && outcome.usage.costUsd < 0.05, `cost ${outcome.usage.costUsd}`);
  },
);

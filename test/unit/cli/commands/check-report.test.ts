import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { check } from '../../../../src/cli/commands/check.js';
import type { CliIo } from '../../../../src/cli/io.js';
import { fixturesDir } from '../../../helpers/paths.js';

const NOOP = join(fixturesDir, 'config', 'agents', 'noop.mjs');

async function run(argv: string[], cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (c: string) => out.push(c) },
    stderr: { write: (c: string) => err.push(c) },
    env: {},
    cwd,
    stopSignal: new Promise<void>(() => undefined),
  };
  const code = await check(argv, io);
  return { code, out: out.join(''), err: err.join('') };
}

void describe('subagent-guard check with report-only agents', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-check-report-'));
    writeFileSync(
      join(dir, 'openclaw.json'),
      JSON.stringify({
        agents: {
          main: { role: 'parent', subagents: { allowAgents: ['learner', 'tools_only', 'strict'] } },
          learner: { entry: NOOP, tools_mode: 'report', network: { mode: 'report' } },
          tools_only: { entry: NOOP, tools_allowed: ['web_fetch'], tools_mode: 'report' },
          strict: { entry: NOOP, network: { allowed_domains: ['api.example.com'] } },
        },
      }),
    );
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  void test('prints one loud !! NOT ENFORCING line per report-only agent and still exits 0', async () => {
    const r = await run(['openclaw.json'], dir);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n').filter((l) => l.includes('!! NOT ENFORCING'));
    assert.equal(lines.length, 2, r.out);
    assert.match(lines[0] ?? '', /agent learner runs its network and tools policy in report-only mode/);
    assert.match(lines[1] ?? '', /agent tools_only runs its tools policy in report-only mode/);
    assert.match(
      r.out,
      /network: no allowed domains \(report-only: every host is let through and recorded\)/,
    );
  });

  void test('--json says enforcing and reportOnly per agent', async () => {
    const r = await run(['openclaw.json', '--json'], dir);
    assert.equal(r.code, 0, r.err);
    const agents = (
      JSON.parse(r.out) as { agents: Record<string, { enforcing: boolean; reportOnly: string[] }> }
    ).agents;
    assert.deepEqual(agents['learner']?.reportOnly, ['network', 'tools']);
    assert.equal(agents['learner'].enforcing, false);
    assert.equal(agents['strict']?.enforcing, true);
    assert.deepEqual(agents['strict'].reportOnly, []);
  });
});

/**
 * Progress lines of `run` and `gateway validate`: on stderr when it is a terminal and the output
 * is not JSON, or with --progress; stdout keeps only the result.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { createEgressGateway } from '../../src/gateway/index.js';
import type { EgressGateway } from '../../src/gateway/types.js';
import { detectIsolation } from '../../src/sandbox/detect.js';
import { fixturesDir } from '../helpers/paths.js';

let dir = '';
let isolation = 'process';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgtest-cli-progress-'));
  writeFileSync(
    join(dir, 'openclaw.json'),
    JSON.stringify({
      audit: { path: './audit.log' },
      agents: {
        main: { role: 'parent', subagents: { allowAgents: ['echo'] } },
        echo: { entry: join(fixturesDir, 'agents', 'echo.mjs'), constraints: { timeout_seconds: 20 } },
      },
    }),
  );
  isolation = (await detectIsolation()).best;
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function cli(argv: string[], tty: boolean): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (c: string) => out.push(c) },
    stderr: { write: (c: string) => err.push(c) },
    env: {},
    cwd: dir,
    stopSignal: new Promise<void>(() => undefined),
    stderrIsTTY: tty,
  };
  const code = await main(argv, io);
  return { code, out: out.join(''), err: err.join('') };
}

const runArgs = (): string[] => [
  'run',
  '--config',
  'openclaw.json',
  '--parent',
  'main',
  '--agent',
  'echo',
  '--task',
  '{"q":1}',
  '--isolation',
  isolation,
];

void describe('progress output', () => {
  void test(
    'run on a terminal: progress on stderr, the outcome alone on stdout',
    { timeout: 30_000 },
    async () => {
      const r = await cli(runArgs(), true);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /^subagent-guard: orchestrator ready \(isolation \w+\)$/m);
      assert.match(r.err, /^subagent-guard: subagent \S+ \(echo\) started; waiting for its outcome$/m);
      assert.match(r.err, /^subagent-guard: subagent \S+ completed after \d+ ms$/m);
      assert.doesNotMatch(r.out, /subagent-guard:/);
      assert.match(r.out, /^status +completed$/m);
    },
  );

  void test(
    'run with stderr not a terminal, or with --json: no progress; --progress forces it',
    { timeout: 60_000 },
    async () => {
      const piped = await cli(runArgs(), false);
      assert.equal(piped.code, 0);
      assert.equal(piped.err, '');
      const json = await cli([...runArgs(), '--json'], true);
      assert.equal(json.err, '');
      const forced = await cli([...runArgs(), '--json', '--progress'], false);
      assert.equal(forced.code, 0);
      assert.match(forced.err, /orchestrator ready/);
      assert.equal((JSON.parse(forced.out) as { status: string }).status, 'completed');
    },
  );

  void describe('gateway validate', () => {
    let gw: EgressGateway;
    let proxyUrl = '';
    before(async () => {
      gw = await createEgressGateway({});
      ({ proxyUrl } = gw.register({ id: 'v', network: { allowed_domains: ['example.com'] } }));
    });
    after(async () => {
      await gw.close();
    });

    void test(
      '--progress prints each check on stderr as it is judged, one line per check',
      { timeout: 60_000 },
      async () => {
        const r = await cli(
          ['gateway', 'validate', '--proxy-url', proxyUrl, '--timeout', '2s', '--json', '--progress'],
          false,
        );
        const report = JSON.parse(r.out) as { checks: { name: string; result: string }[] };
        const lines = r.err.trim().split('\n');
        assert.match(lines[0] ?? '', /^subagent-guard: validating http:\/\/v:\*\*\*@127\.0\.0\.1:\d+/);
        assert.deepEqual(
          lines.slice(1),
          report.checks.map((c) => `subagent-guard: ${c.result} ${c.name}`),
        );
        assert.ok(
          !r.err.includes(proxyUrl.split('@')[0]?.split(':')[2] ?? 'x'),
          'the credential is redacted',
        );
        const quiet = await cli(['gateway', 'validate', '--proxy-url', proxyUrl, '--timeout', '2s'], false);
        assert.equal(quiet.err, '');
      },
    );
  });
});

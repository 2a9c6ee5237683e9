/**
 * A subagent reads only its own code, the runtime and explicit grants. Built exactly as README
 * and docs/config.md lay an app out (package.json, .env, openclaw.json and audit.log at the app
 * root, `entry: ./agents/worker.mjs`): the worker must not read the `.env` canary, the config or
 * the audit log at any level. Regression guard: the read grant used to be the entry's nearest
 * package directory, i.e. the app root. Variants: entry next to `.env`, a symlink into the app
 * root, a `.git` directory next to the entry: each refused at spawn and by `check`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { check } from '../../src/cli/commands/check.js';
import type { CliIo } from '../../src/cli/io.js';
import { loadConfig } from '../../src/config/index.js';
import { createOrchestrator } from '../../src/spawner/index.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { IsolationLevel } from '../../src/sandbox/index.js';

const LEVELS: IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];
const CANARY = 'sk-canary-0f1e2d3c4b5a';

const WORKER = `import { readFileSync } from 'node:fs';
const read = (rel) => {
  try { return readFileSync(new URL(rel, import.meta.url), 'utf8'); }
  catch (e) { return 'denied:' + (e.code ?? 'error'); }
};
export default async () => ({
  env: read('../.env'),
  config: read('../openclaw.json'),
  audit: read('../audit.log'),
  data: read('../data/info.txt'),
  self: read('./worker.mjs').length > 0,
});
`;

type Variant = 'readme' | 'entry-next-to-env' | 'symlink' | 'git' | 'grant-data' | 'grant-root';

/** The README layout in a fresh temp dir (world-readable, so only the grants decide). */
function buildApp(variant: Variant): { app: string; config: string } {
  const app = mkdtempSync(join(tmpdir(), 'sgtest-app-'));
  chmodSync(app, 0o755);
  const file = (rel: string, text: string): void => {
    writeFileSync(join(app, rel), text, { mode: 0o644 });
  };
  file('package.json', JSON.stringify({ name: 'my-app', private: true, type: 'module' }));
  file('.env', `OPENAI_API_KEY=${CANARY}\n`);
  file('audit.log', `{"event":"subagent.log","msg":"${CANARY} from another subagent"}\n`);
  mkdirSync(join(app, 'agents'), { mode: 0o755 });
  file('agents/worker.mjs', WORKER);
  mkdirSync(join(app, 'data'), { mode: 0o755 });
  file('data/info.txt', 'shared reference data');
  let entry = './agents/worker.mjs';
  let grants: string[] | undefined;
  if (variant === 'entry-next-to-env') {
    file('worker.mjs', WORKER);
    entry = './worker.mjs';
  } else if (variant === 'symlink') {
    symlinkSync('../.env', join(app, 'agents', 'settings.txt'));
  } else if (variant === 'grant-data') {
    grants = ['./data'];
  } else if (variant === 'grant-root') {
    grants = ['.'];
  } else if (variant === 'git') {
    mkdirSync(join(app, 'agents', '.git'), { mode: 0o755 });
    file('agents/.git/config', `[credential] token = ${CANARY}\n`);
  }
  file(
    'openclaw.json',
    JSON.stringify({
      audit: { path: './audit.log' },
      agents: {
        main_orchestrator: { role: 'parent', subagents: { allowAgents: ['worker'], maxConcurrent: 1 } },
        worker: {
          entry,
          ...(grants === undefined ? {} : { read_paths: grants }),
          constraints: { timeout_seconds: 20 },
          note: CANARY,
        },
      },
    }).replace(',"note":', ',"description":'),
  );
  return { app, config: join(app, 'openclaw.json') };
}

function io(cwd: string): CliIo & { out: () => string } {
  const out: string[] = [];
  return {
    stdout: { write: (c: string) => out.push(c) },
    stderr: { write: (c: string) => out.push(c) },
    env: {},
    cwd,
    stopSignal: new Promise<void>(() => undefined),
    out: () => out.join(''),
  };
}

const report = await detectIsolation();

async function runWorker(level: IsolationLevel, configPath: string) {
  const orchestrator = await createOrchestrator({
    config: await loadConfig(configPath),
    logger: pino({ level: 'silent' }),
    isolation: level,
  });
  try {
    return await orchestrator.run({ parent: 'main_orchestrator', agent: 'worker', task: null });
  } finally {
    await orchestrator.close();
  }
}

for (const level of LEVELS) {
  void test(`${level}: a worker laid out as in the README reads neither .env nor the config nor the audit log`, async (t) => {
    if (!report.available.includes(level)) {
      t.skip(`${level} is not available here`);
      return;
    }
    const { app, config } = buildApp('readme');
    try {
      const outcome = await runWorker(level, config);
      assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
      const out = (outcome as { output?: Record<string, unknown> }).output ?? {};
      assert.equal(out.self, true, 'the worker reads its own code');
      assert.ok(String(out.data).startsWith('denied:'), 'a directory the config did not grant');
      for (const key of ['env', 'config', 'audit']) {
        const got = String(out[key]);
        assert.ok(got.startsWith('denied:'), `${key} was readable: ${got.slice(0, 80)}`);
      }
      assert.ok(!JSON.stringify(out).includes(CANARY));
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  void test(`${level}: read_paths grants exactly the listed directory, nothing else of the app`, async (t) => {
    if (!report.available.includes(level)) {
      t.skip(`${level} is not available here`);
      return;
    }
    const { app, config } = buildApp('grant-data');
    try {
      const outcome = await runWorker(level, config);
      assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
      const out = (outcome as { output?: Record<string, unknown> }).output ?? {};
      assert.equal(out.data, 'shared reference data');
      assert.ok(String(out.env).startsWith('denied:'), `env: ${String(out.env).slice(0, 60)}`);
      assert.ok(!JSON.stringify(out).includes(CANARY));
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  for (const variant of ['entry-next-to-env', 'symlink', 'git', 'grant-root'] as const) {
    void test(`${level}: ${variant}: the spawn fails with SG_SANDBOX_READ_GRANT before any code runs`, async (t) => {
      if (!report.available.includes(level)) {
        t.skip(`${level} is not available here`);
        return;
      }
      const { app, config } = buildApp(variant);
      try {
        const outcome = await runWorker(level, config);
        assert.equal(outcome.status, 'failed', JSON.stringify(outcome));
        const err = (outcome as { error?: { code: string } }).error;
        assert.equal(err?.code, 'SG_SANDBOX_READ_GRANT', JSON.stringify(outcome));
        assert.ok(!JSON.stringify(outcome).includes(CANARY));
      } finally {
        rmSync(app, { recursive: true, force: true });
      }
    });
  }
}

void test('check prints what the README worker may read (its own directory, not the app root) and exits 0', async () => {
  const { app } = buildApp('readme');
  try {
    const cli = io(app);
    const code = await check(['openclaw.json'], cli);
    assert.equal(code, 0, cli.out());
    const line = cli
      .out()
      .split('\n')
      .find((l) => l.trim().startsWith('reads'));
    assert.ok(line !== undefined, cli.out());
    assert.ok(line.includes(join(app, 'agents')), line);
    assert.ok(line.includes(join(app, 'package.json')), line);
    const grants = line
      .slice(line.indexOf(':') + 1)
      .split(',')
      .map((s) => s.trim());
    assert.ok(!grants.includes(app), `the app root is granted: ${line}`);
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});

for (const variant of ['entry-next-to-env', 'symlink', 'git', 'grant-root'] as const) {
  void test(`check refuses the ${variant} layout with SG_SANDBOX_READ_GRANT and exits 1`, async () => {
    const { app } = buildApp(variant);
    try {
      const cli = io(app);
      const code = await check(['openclaw.json'], cli);
      assert.equal(code, 1, cli.out());
      assert.match(cli.out(), /REFUSED SG_SANDBOX_READ_GRANT/);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
}

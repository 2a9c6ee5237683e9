/**
 * `subagent-guard suggest` on an audit log written by a real run: a real subagent in report-only
 * mode reaches hosts and calls a tool its allowlist does not name (and tries cloud metadata, a
 * loopback address and a denied tool, which stay refused); the orchestrator writes the audit file
 * the config names. `suggest` must then name exactly what was needed, list the refusals apart,
 * and the learned allowlist must be enough for the same task to complete with the agent enforcing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { loadConfig, parseConfig } from '../../src/config/index.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import type { IsolationLevel } from '../../src/sandbox/index.js';
import type { Outcome, ToolDefinition } from '../../src/spawner/types.js';
import { startLoopbackServer, testResolver, type LoopbackServer } from '../helpers/spawner-harness.js';

const ORIGIN_IP = '127.0.0.3';
const LISTED = 'api.listed.test';
const UNLISTED = 'unlisted.example.test';
const TO_METADATA = 'meta.example.test';
const TO_LOOPBACK = 'internal.example.test';

/** Calls every tool, then fetches every URL; failures are returned, not thrown. */
const WORKER = `export default async (task, ctx) => {
  const out = [];
  for (const c of task.calls ?? []) out.push(await ctx.tools.call(c.name, c.args).then(() => 'ok', (e) => e?.code ?? 'error'));
  for (const u of task.urls ?? []) {
    try { const r = await fetch(u); await r.text(); out.push(r.status); } catch (e) { out.push(String(e?.message ?? e)); }
  }
  return out;
};`;

let dir = '';
let configPath = '';
let origin: LoopbackServer;
let isolation: IsolationLevel = 'process';
const lookup: ToolDefinition = {
  description: 'a tool the agent does not list',
  inputSchema: { type: 'object' },
  handler: () => Promise.resolve({ found: true }),
};
const exec: ToolDefinition = {
  description: 'a tool the agent denies',
  inputSchema: { type: 'object' },
  handler: () => Promise.reject(new Error('must never run')),
};
const resolver = () =>
  testResolver({
    [LISTED]: ORIGIN_IP,
    [UNLISTED]: ORIGIN_IP,
    [TO_METADATA]: '169.254.169.254',
    [TO_LOOPBACK]: '127.0.0.9',
  }).resolver;

function rawConfig(learner: Record<string, unknown>): Record<string, unknown> {
  return {
    audit: { path: './audit.log' },
    agents: {
      main: { role: 'parent', subagents: { allowAgents: ['learner'], maxConcurrent: 1, maxChildren: 2 } },
      learner: {
        entry: './agent/worker.mjs',
        constraints: { max_memory_mb: 160, max_api_calls: 20, timeout_seconds: 15 },
        ...learner,
      },
    },
  };
}

const REPORT = {
  tools_allowed: ['sanitized_parse'],
  tools_denied: ['exec'],
  tools_mode: 'report',
  network: {
    allowed_domains: [LISTED],
    allowed_ports: [443],
    // The origin listens on loopback: only this exception makes it reachable at all.
    allowed_cidrs: [`${ORIGIN_IP}/32`],
    mode: 'report',
  },
};

let task: { calls: { name: string; args: unknown }[]; urls: string[] };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgtest-suggest-'));
  chmodSync(dir, 0o755);
  // The agent's directory is what its sandbox may read: keep the config and the log out of it.
  mkdirSync(join(dir, 'agent'), { mode: 0o755 });
  writeFileSync(join(dir, 'agent', 'worker.mjs'), WORKER);
  configPath = join(dir, 'openclaw.json');
  writeFileSync(configPath, JSON.stringify(rawConfig(REPORT)));
  origin = await startLoopbackServer(ORIGIN_IP);
  isolation = (await detectIsolation()).best;
  task = {
    calls: [{ name: 'lookup', args: {} }],
    urls: [`http://${UNLISTED}:${origin.port}/small`, `http://${LISTED}:${origin.port}/small`],
  };
  // The recorded run: the orchestrator writes the audit file the config names (no logger passed).
  const orchestrator = await createOrchestrator({
    config: await loadConfig(configPath),
    resolver: resolver(),
    tools: { lookup, exec },
    isolation,
  });
  try {
    const runs: Outcome[] = [];
    runs.push(await orchestrator.run({ parent: 'main', agent: 'learner', task }));
    runs.push(
      await orchestrator.run({
        parent: 'main',
        agent: 'learner',
        task: { urls: [`http://${TO_METADATA}/latest/meta-data/`] },
      }),
    );
    runs.push(
      await orchestrator.run({
        parent: 'main',
        agent: 'learner',
        task: { urls: [`http://${TO_LOOPBACK}:${origin.port}/`] },
      }),
    );
    runs.push(
      await orchestrator.run({
        parent: 'main',
        agent: 'learner',
        task: { calls: [{ name: 'exec', args: {} }] },
      }),
    );
    assert.deepEqual(
      runs.map((o) => (o.status === 'terminated' ? o.reason : o.status)),
      ['completed', 'egress_denied', 'egress_denied', 'tool_denied'],
      JSON.stringify(runs),
    );
  } finally {
    await orchestrator.close();
  }
});

after(async () => {
  await origin.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (c: string) => out.push(c) },
    stderr: { write: (c: string) => err.push(c) },
    env: {},
    cwd: dir,
    stopSignal: new Promise<void>(() => undefined),
  };
  const code = await main(argv, io);
  return { code, out: out.join(''), err: err.join('') };
}

interface SuggestJson {
  suggestion: { tools_allowed: string[]; allowed_domains: string[]; allowed_ports: number[] };
  reportOnly: { hosts: string[]; tools: string[] };
  prohibited: { kind: string; target: string; reason: string; address?: string }[];
  malformed: { count: number };
  diff: Record<string, { add: unknown[]; keep: unknown[]; unused: unknown[] }>;
}

void describe('suggest from a real report-mode run', () => {
  void test('names exactly the hosts, port and tool the run needed, and lists what stays refused', async () => {
    const r = await cli([
      'suggest',
      '--from',
      'audit.log',
      '--agent',
      'learner',
      '--config',
      'openclaw.json',
      '--json',
    ]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as SuggestJson;
    assert.deepEqual(j.suggestion, {
      tools_allowed: ['lookup'],
      allowed_domains: [LISTED, UNLISTED],
      allowed_ports: [origin.port],
    });
    assert.deepEqual(j.reportOnly, { hosts: [LISTED, UNLISTED], tools: ['lookup'] });
    assert.deepEqual(
      j.prohibited.map((p) => [p.kind, p.target, p.reason, p.address]),
      [
        ['egress', `${TO_METADATA}:80`, 'metadata_prohibited', '169.254.169.254'],
        ['egress', `${TO_LOOPBACK}:${origin.port}`, 'address_prohibited', '127.0.0.9'],
        ['tool', 'exec', 'denied_by_rule', undefined],
      ],
    );
    assert.equal(j.malformed.count, 0);
    assert.deepEqual(j.diff['allowedDomains'], { add: [UNLISTED], keep: [LISTED], unused: [] });
    assert.deepEqual(j.diff['allowedPorts'], { add: [origin.port], keep: [], unused: [443] });
    assert.deepEqual(j.diff['toolsAllowed'], { add: ['lookup'], keep: [], unused: ['sanitized_parse'] });
  });

  void test('the learned allowlist is enough: the same task completes with the agent enforcing', async () => {
    const r = await cli(['suggest', '--from', 'audit.log', '--agent', 'learner', '--json']);
    const j = JSON.parse(r.out) as SuggestJson;
    const enforcing = parseConfig(
      rawConfig({
        tools_allowed: j.suggestion.tools_allowed,
        tools_denied: ['exec'],
        network: {
          allowed_domains: j.suggestion.allowed_domains,
          allowed_ports: j.suggestion.allowed_ports,
          allowed_cidrs: [`${ORIGIN_IP}/32`],
        },
      }),
      { source: configPath, baseDir: dir },
    );
    const learner = enforcing.agents['learner'];
    assert.ok(learner !== undefined && learner.network.mode !== 'report' && learner.tools.mode !== 'report');
    const orchestrator = await createOrchestrator({
      config: { ...enforcing, audit: { ...enforcing.audit, path: join(dir, 'enforce.log') } },
      resolver: resolver(),
      tools: { lookup, exec },
      isolation,
    });
    try {
      const o = await orchestrator.run({ parent: 'main', agent: 'learner', task });
      assert.equal(o.status, 'completed', JSON.stringify(o));
      assert.deepEqual(o.output, ['ok', 200, 200]);
    } finally {
      await orchestrator.close();
    }
  });
});

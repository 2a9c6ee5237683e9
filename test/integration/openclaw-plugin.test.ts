/**
 * The OpenClaw plugin in a real Gateway: the pinned `openclaw gateway run` (Node 24) loads
 * subagent-guard from unpacked `npm pack` output through `plugins.load.paths` (its node_modules a
 * symlink, as pnpm and linked installs have it), inside `unshare -Urnpfm` so only loopback exists
 * and every process dies with the runner. Tools are invoked through the Gateway's tool-invoke
 * HTTP API as two agents:
 *  - an allowed tool runs; OpenClaw's host-side web_fetch and a tool the ACL denies are blocked
 *    with our reason;
 *  - guarded_fetch reaches the allowed origin on 127.0.0.2 through our gateway, and is refused
 *    (403, audited) for 127.0.0.3, which is never reached; the second agent, without network,
 *    reaches nothing;
 *  - 10 concurrent sessions_spawn calls never hold more than maxConcurrent (2) reservations;
 *  - every record the plugin writes fits the published audit schema.
 * OpenClaw's own startup dominates the run time (tens of seconds on a loaded machine).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AuditEvent } from '../../src/audit/events.js';
import { validateAuditRecord } from '../../src/audit/record-schema.js';
import { findOpenclaw } from '../helpers/openclaw.js';
import { repoRoot } from '../helpers/paths.js';

const RUNNER = join(repoRoot, 'build', 'test', 'helpers', 'openclaw-plugin-runner.js');
const GATEWAY_PORT = 18789;
const ORIGIN_PORT = 18812;
const TOKEN = 'plugin_test_token_0123456789abcdef';

interface Answer {
  status: number;
  body: Record<string, unknown> | null;
}
interface RunResult {
  startupMs: number;
  ready: Answer;
  allowed?: Answer;
  hostNetwork?: Answer;
  helperDenied?: Answer;
  fetchAllowed?: Answer;
  fetchRefused?: Answer;
  helperFetch?: Answer;
  spawns?: Answer[];
  allowedHits: number;
  forbiddenHits: number;
  gatewayExited: boolean;
  gatewayOut: string;
  audit: Record<string, unknown>[];
}

function namespaceUnavailable(): string | null {
  const r = spawnSync('unshare', ['-Urnpfm', '--mount-proc', 'ip', 'link', 'set', 'lo', 'up'], {
    timeout: 5000,
  });
  if (r.error !== undefined) return `unshare is not available: ${r.error.message}`;
  if (r.status !== 0) return `unshare -Urnpfm does not work here: ${r.stderr.toString().trim()}`;
  return null;
}

/** The plugin package as `npm pack` ships it, unpacked, with node_modules linked in. */
function unpack(dir: string): string {
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(pack.status, 0, `npm pack failed: ${pack.stderr}`);
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz !== undefined, 'npm pack wrote no tarball');
  const untar = spawnSync('tar', ['-xzf', join(dir, tgz), '-C', dir], { timeout: 30_000 });
  assert.equal(untar.status, 0, `tar failed: ${String(untar.stderr)}`);
  const pkg = join(dir, 'package');
  symlinkSync(join(repoRoot, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  return pkg;
}

function openclawJson(pkg: string, audit: string): unknown {
  return {
    gateway: {
      mode: 'local',
      port: GATEWAY_PORT,
      bind: 'loopback',
      auth: { mode: 'token', token: TOKEN },
      // sessions_spawn is on the tool-invoke API's default deny list.
      tools: { allow: ['sessions_spawn'] },
    },
    logging: { file: join(pkg, '..', 'home', 'openclaw.log') },
    agents: {
      ownership: 'explicit',
      entries: {
        main: {},
        researcher: {
          tools: { allow: ['sessions_list', 'web_fetch', 'guarded_fetch', 'sessions_spawn'] },
          subagents: { allowAgents: ['helper'] },
        },
        helper: { tools: { allow: ['session_status', 'guarded_fetch'] } },
      },
    },
    plugins: {
      allow: ['subagent-guard'],
      load: { paths: [pkg] },
      entries: {
        'subagent-guard': {
          enabled: true,
          config: {
            audit: { path: audit },
            agents: {
              researcher: {
                network: {
                  allowed_domains: ['127.0.0.2', '127.0.0.3'],
                  allowed_cidrs: ['127.0.0.2/32'],
                  allowed_ports: [ORIGIN_PORT],
                },
                subagents: { maxConcurrent: 2, maxChildrenPerAgent: 3, maxSpawnsPerMinute: 100 },
              },
            },
            enforce: { host_network_tools: 'deny', spawn_release_timeout_seconds: 600 },
          },
        },
      },
    },
  };
}

const details = (a: Answer | undefined): Record<string, unknown> =>
  ((a?.body?.result as Record<string, unknown> | undefined)?.details ?? {}) as Record<string, unknown>;
const errorMessage = (a: Answer | undefined): string => {
  const message = (a?.body?.error as Record<string, unknown> | undefined)?.message;
  return typeof message === 'string' ? message : '';
};

void describe('OpenClaw plugin in a real Gateway', () => {
  const oc = findOpenclaw();
  const nsWhy = namespaceUnavailable();
  const distReady = existsSync(join(repoRoot, 'dist', 'openclaw', 'index.js'));
  let dir = '';
  let res: RunResult | undefined;
  let startupWhy: string | null = null;

  before(() => {
    if ('skip' in oc || nsWhy !== null || !distReady) return;
    dir = mkdtempSync(join(tmpdir(), 'sg-openclaw-plugin-'));
    chmodSync(dir, 0o755);
    const pkg = unpack(dir);
    const home = join(dir, 'home');
    mkdirSync(join(home, 'state'), { recursive: true });
    mkdirSync(join(home, 'tmp'), { recursive: true });
    const config = join(dir, 'openclaw.json');
    const audit = join(dir, 'audit.log');
    writeFileSync(config, JSON.stringify(openclawJson(pkg, audit), null, 2));
    const r = spawnSync(
      'unshare',
      [
        '-Urnpfm',
        '--mount-proc',
        'sh',
        '-c',
        'ip link set lo up && exec "$@"',
        'sh',
        oc.node,
        RUNNER,
        oc.entry,
        config,
        audit,
        home,
        String(GATEWAY_PORT),
        String(ORIGIN_PORT),
        TOKEN,
      ],
      {
        timeout: 400_000,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
      },
    );
    assert.equal(r.status, 0, `runner failed: ${r.stderr}\n${r.stdout.slice(-4000)}`);
    res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as RunResult;
    // OpenClaw gives its state lease 5 s to start: on an overloaded host every start can miss it.
    if (res.ready.status !== 200 && /state lease heartbeat did not become ready/.test(res.gatewayOut)) {
      startupWhy = 'OpenClaw could not start its Gateway on this overloaded host (state lease timeout)';
      return;
    }
    assert.equal(
      res.ready.status,
      200,
      `the Gateway never served tools: ${JSON.stringify(res.ready)}\n${res.gatewayOut}`,
    );
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  const skipWhy = (): string | null =>
    startupWhy ??
    ('skip' in oc
      ? oc.skip
      : (nsWhy ?? (distReady ? null : 'dist/ is not built (run `npm run build`): npm pack ships dist/')));

  const events = (name: string) => (res?.audit ?? []).filter((r) => r.event === name);

  void test('the plugin starts in the Gateway with the config it reads from openclaw.json', (t) => {
    const why = skipWhy();
    if (why !== null) {
      t.skip(why);
      return;
    }
    const [start] = events(AuditEvent.PluginStart);
    assert.equal(start?.ok, true, JSON.stringify(start));
    assert.deepEqual(start.agents, ['main', 'researcher', 'helper']);
  });

  void test('an allowed tool runs, and its decision is audited with OpenClaw ids', (t) => {
    const why = skipWhy();
    if (why !== null) {
      t.skip(why);
      return;
    }
    assert.equal(res?.allowed?.status, 200);
    const rec = events(AuditEvent.PluginToolDecision).find(
      (r) => r.tool === 'sessions_list' && r.allow === true,
    );
    assert.equal(rec?.agentId, 'researcher');
    assert.equal(rec.sessionKey, 'agent:researcher:main');
  });

  void test("OpenClaw's host-side web_fetch and a tool the ACL denies are blocked with our reason", (t) => {
    const why = skipWhy();
    if (why !== null) {
      t.skip(why);
      return;
    }
    assert.equal(res?.hostNetwork?.status, 403);
    assert.match(errorMessage(res.hostNetwork), /^subagent-guard: 'web_fetch' reaches the network/);
    assert.equal(res.helperDenied?.status, 403);
    assert.match(errorMessage(res.helperDenied), /^subagent-guard: 'session_status'/);
    const refused = events(AuditEvent.PluginToolDecision).filter((r) => r.allow === false);
    assert.ok(refused.some((r) => r.tool === 'web_fetch' && r.reason === 'host_network_tool'));
    assert.ok(refused.some((r) => r.tool === 'session_status' && r.agentId === 'helper'));
  });

  void test('guarded_fetch reaches the allowed origin through our gateway, sanitized', (t) => {
    const why = skipWhy();
    if (why !== null) {
      t.skip(why);
      return;
    }
    const d = details(res?.fetchAllowed);
    assert.equal(d.ok, true, JSON.stringify(res?.fetchAllowed));
    assert.deepEqual(d.json, { hello: 'allowed' });
    assert.ok((res?.allowedHits ?? 0) >= 1);
    assert.ok(
      events(AuditEvent.EgressDecision).some((r) => r.decision === 'allow' && r.address === '127.0.0.2'),
    );
  });

  void test('guarded_fetch is refused (403, audited) for a disallowed origin, which is never reached', (t) => {
    const why = skipWhy();
    if (why !== null) {
      t.skip(why);
      return;
    }
    const d = details(res?.fetchRefused);
    assert.equal(d.refused, true, JSON.stringify(res?.fetchRefused));
    assert.equal(d.status, 403);
    assert.equal(res?.forbiddenHits, 0);
    assert.ok(events(AuditEvent.EgressDecision).some((r) => r.decision === 'deny' && r.status === 403));
    assert.ok(
      events(AuditEvent.PluginGuardedFetch).some((r) => r.reason === 'egress_denied' && r.httpStatus === 403),
    );
    // The second agent has no network at all: its own policy, not the first agent's.
    const h = details(res.helperFetch);
    assert.equal(h.refused, true);
    assert.equal(h.status, 403);
  });

  void test('10 concurrent sessions_spawn calls never hold more than maxConcurrent 2', (t) => {
    const why = skipWhy();
    if (why !== null) {
      t.skip(why);
      return;
    }
    const spawns = res?.spawns ?? [];
    assert.equal(spawns.length, 10);
    const blocked = spawns.filter(
      (a) => a.status === 403 && /^subagent-guard: sessions_spawn refused/.test(errorMessage(a)),
    );
    assert.ok(blocked.length >= 8, JSON.stringify(spawns.map((a) => [a.status, errorMessage(a)])));
    // Replay the audit log: reservations held at any moment never exceed the cap.
    let held = 0;
    let peak = 0;
    for (const r of res?.audit ?? []) {
      if (r.event === AuditEvent.PluginSpawnDecision && r.allow === true) held++;
      if (r.event === AuditEvent.PluginSpawnReleased) held--;
      peak = Math.max(peak, held);
    }
    assert.ok(peak <= 2, `peak ${peak}`);
    assert.ok(peak >= 1);
  });

  void test('every process is gone once the run ends; a clean stop releases every reservation', (t) => {
    const why = skipWhy();
    if (why !== null) {
      t.skip(why);
      return;
    }
    // OpenClaw drains running subagents for minutes after SIGTERM; the runner kills it after 10 s
    // and the PID namespace takes everything else with it.
    const left = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.includes(dir) || l.includes(RUNNER));
    assert.deepEqual(left, []);
    if (res?.gatewayExited === true) {
      const allowed = events(AuditEvent.PluginSpawnDecision).filter((r) => r.allow === true).length;
      assert.equal(events(AuditEvent.PluginSpawnReleased).length, allowed);
    }
  });

  void test('every record in the audit log fits the published schema', (t) => {
    const why = skipWhy();
    if (why !== null) {
      t.skip(why);
      return;
    }
    for (const r of res?.audit ?? []) {
      const v = validateAuditRecord(r);
      assert.ok(v.ok, `${String(r.event)}: ${v.ok ? '' : v.issues.join('; ')}`);
    }
  });
});

/**
 * OpenClaw's own proxy lifecycle (`startProxy` of the pinned `openclaw` package, run under Node 24)
 * sending through `subagent-guard gateway serve`: the allowed destination is reached, a refused
 * one gets 403 and an audit record, and loopback traffic is seen by the gateway in loopbackMode
 * `proxy` and `block` but bypasses it in the default `gateway-only` (why the README recipe sets
 * `block`). Each run is inside `unshare -Urnpfm`: its own network (nothing can leave), PID and
 * mount namespaces, with an /etc/hosts of its own for the gateway's system resolver.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findOpenclaw } from '../helpers/openclaw.js';
import { repoRoot } from '../helpers/paths.js';

interface Attempt {
  status?: number;
  body?: string;
  error?: string;
}
interface RunResult {
  mode: string;
  active: boolean;
  allowed: Attempt;
  refused: Attempt;
  loopback: Attempt;
  loopbackHits: number;
  allowedHits: number;
  audit: {
    event?: string;
    host?: string;
    port?: number;
    decision?: string;
    reason?: string;
    status?: number;
  }[];
  serveOut: string;
}

const ORIGIN_PORT = 18080;
const RUNNER = join(repoRoot, 'build', 'test', 'helpers', 'openclaw-proxy-runner.js');

function namespaceUnavailable(): string | null {
  const r = spawnSync('unshare', ['-Urnpfm', '--mount-proc', 'ip', 'link', 'set', 'lo', 'up'], {
    timeout: 5000,
  });
  if (r.error !== undefined) return `unshare is not available: ${r.error.message}`;
  if (r.status !== 0) return `unshare -Urnpfm does not work here: ${r.stderr.toString().trim()}`;
  return null;
}

void describe('OpenClaw proxy.proxyUrl -> gateway serve', () => {
  let dir = '';
  const oc = findOpenclaw();
  const nsWhy = namespaceUnavailable();
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-openclaw-proxy-'));
    chmodSync(dir, 0o755);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function run(mode: string): RunResult {
    if ('skip' in oc) throw new Error(oc.skip);
    const config = join(dir, `serve-${mode}.json`);
    const audit = join(dir, `audit-${mode}.log`);
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, '127.0.0.1 localhost\n127.0.0.2 api.allowed.test\n127.0.0.2 blocked.test\n');
    // One policy for the whole OpenClaw process: its credential is this agent's.
    writeFileSync(
      config,
      JSON.stringify({
        audit: { path: audit },
        agents: {
          openclaw: {
            network: {
              allowed_domains: ['api.allowed.test'],
              allowed_ports: [ORIGIN_PORT],
              allowed_cidrs: ['127.0.0.2/32'],
            },
          },
        },
      }),
    );
    const r = spawnSync(
      'unshare',
      [
        '-Urnpfm',
        '--mount-proc',
        'sh',
        '-c',
        'ip link set lo up && mount --bind "$1" /etc/hosts && shift && exec "$@"',
        'sh',
        hosts,
        oc.node,
        RUNNER,
        join(oc.dir, 'dist'),
        config,
        audit,
        mode,
        String(ORIGIN_PORT),
      ],
      { timeout: 90_000, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } },
    );
    assert.equal(r.status, 0, `runner failed: ${r.stderr}\n${r.stdout}`);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(line) as RunResult;
  }

  const decisions = (res: RunResult, host: string) =>
    res.audit.filter((e) => e.event === 'egress.decision' && e.host === host);

  for (const mode of ['gateway-only', 'proxy', 'block']) {
    void test(
      `loopbackMode ${mode}: allowed reached, refused with 403 and audited`,
      { timeout: 120_000 },
      (t) => {
        if ('skip' in oc) {
          t.skip(oc.skip);
          return;
        }
        if (nsWhy !== null) {
          t.skip(nsWhy);
          return;
        }
        const res = run(mode);
        assert.equal(res.active, true, 'startProxy did not activate routing');
        assert.equal(res.allowed.status, 200, JSON.stringify(res.allowed));
        assert.equal(res.allowed.body, 'allowed');
        assert.ok(
          decisions(res, 'api.allowed.test').some((e) => e.decision === 'allow'),
          `no audit record of the allowed request: ${JSON.stringify(res.audit).slice(0, 4000)}`,
        );
        // Refused: never reached, 403 from the gateway (a status or undici's tunnel error naming it).
        assert.ok(
          res.refused.status === 403 || /403/.test(res.refused.error ?? ''),
          `refused: ${JSON.stringify(res.refused)}`,
        );
        const denied = decisions(res, 'blocked.test');
        assert.ok(
          denied.some((e) => e.decision === 'deny' && e.reason === 'host_not_allowed' && e.status === 403),
          `audit: ${JSON.stringify(res.audit)}`,
        );
        assert.equal(res.allowedHits, 1, 'only the allowed request reached the origin');
        assert.ok(!res.serveOut.includes('OpenclawProcess_Cred'), 'serve printed the env credential');

        const loopbackAudited = decisions(res, '127.0.0.1');
        if (mode === 'gateway-only') {
          // OpenClaw's default sends loopback traffic direct: the gateway never sees it. This is
          // the gap the recipe closes with loopbackMode block.
          assert.equal(res.loopback.body, 'loopback', JSON.stringify(res.loopback));
          assert.equal(res.loopbackHits, 1);
          assert.equal(loopbackAudited.length, 0);
        } else {
          assert.equal(
            res.loopbackHits,
            0,
            `the loopback service was reached: ${JSON.stringify(res.loopback)}`,
          );
          assert.ok(
            loopbackAudited.some((e) => e.decision === 'deny' && e.status === 403),
            `no refusal of 127.0.0.1 in the audit: ${JSON.stringify(res.audit)}`,
          );
        }
      },
    );
  }
});

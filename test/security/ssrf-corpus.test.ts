/**
 * The SSRF corpus through the real gateway with real clients, inside a network namespace with no
 * route anywhere (see test/helpers/security-corpus-runner.ts). Each case must get exactly its
 * expected status and reason, be decided before any dial, be audited once, and never reach a
 * trap. Writes build/security-summary.json for scripts/security-report.mjs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import type { CaseResult, CorpusReport } from '../helpers/security-corpus-runner.js';
import { CASES } from './ssrf-cases.js';
import type { SsrfCase } from './ssrf-corpus-setup.js';

const RUNNER = join(repoRoot, 'build', 'test', 'helpers', 'security-corpus-runner.js');
const SUMMARY = join(repoRoot, 'build', 'security-summary.json');

/** Reasons that mean the gateway tried to connect: a deny case must never end in one of them. */
const DIAL_REASONS = new Set([
  'connect_refused',
  'connect_failed',
  'connect_timeout',
  'upstream_refused',
  'upstream_error',
]);
/** Reasons decided before DNS: a case refused for one of them must not have caused a lookup. */
const PRE_DNS = new Set([
  'auth_required',
  'auth_invalid',
  'bad_request',
  'scheme_not_allowed',
  'host_invalid',
  'host_mismatch',
  'no_network',
  'port_blocked',
  'port_not_allowed',
  'host_not_allowed',
]);

function namespaceUnavailable(): string | null {
  const r = spawnSync('unshare', ['-Urn', 'ip', 'link', 'set', 'lo', 'up'], { timeout: 5000 });
  if (r.error !== undefined) return `unshare is not available: ${r.error.message}`;
  if (r.status !== 0) return `unshare -Urn does not work here: ${r.stderr.toString().trim()}`;
  return null;
}

function runCorpus(): Promise<CorpusReport> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-Urn', process.execPath, RUNNER], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`corpus runner timed out; stderr: ${err.slice(-2000)}`));
    }, 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`corpus runner exited ${String(code)}: ${err.slice(-4000)}`));
        return;
      }
      try {
        resolve(JSON.parse(out) as CorpusReport);
      } catch (e) {
        reject(new Error(`corpus runner printed no report: ${String(e)}; stderr: ${err.slice(-2000)}`));
      }
    });
  });
}

function checkCase(c: SsrfCase, r: CaseResult): void {
  const e = c.expect;
  const ctx = JSON.stringify(r);
  // With several requests in one case, the one under test is the one with the expected reason.
  const last = r.decisions.find((d) => d.reason === e.reason) ?? r.decisions.at(-1);
  assert.ok(last !== undefined, `no egress.decision audited: ${ctx}`);
  assert.equal(r.decisions.length, e.decisions ?? 1, `every request audited exactly once: ${ctx}`);
  assert.equal(last.reason, e.reason, `audited reason: ${ctx}`);
  // A refused undici tunnel surfaces as a client error; the status is the one the gateway answered.
  const status = r.status === 0 && c.send.kind === 'fetch' ? last.status : (r.statuses.at(-1) ?? 0);
  assert.equal(status, e.status, `status: ${ctx}`);
  assert.equal(last.status, e.status, `audited status: ${ctx}`);
  if (e.reason === 'allowed') {
    assert.equal(last.decision, 'allow', ctx);
    assert.ok(r.originHits > 0, `the allowed origin was not reached: ${ctx}`);
  } else {
    assert.equal(last.decision, 'deny', ctx);
    assert.ok(!DIAL_REASONS.has(last.reason), `decided by a dial attempt, not before it: ${ctx}`);
    if (r.proxyStatus !== null) assert.ok(r.proxyStatus.includes(`details="${e.reason}"`), ctx);
    else assert.equal(c.send.kind, 'fetch', `a raw refusal without Proxy-Status: ${ctx}`);
    if (e.decisions === undefined)
      assert.equal(r.originHits, 0, `a refused request reached the origin: ${ctx}`);
  }
  assert.equal(r.trapHits, 0, `a trap was reached: ${ctx}`);
  if (e.lookups !== undefined) assert.equal(r.lookups.length, e.lookups, `DNS lookups: ${ctx}`);
  if (PRE_DNS.has(e.reason) && e.decisions === undefined)
    assert.deepEqual(r.lookups, [], `looked up before refusing: ${ctx}`);
  for (const h of e.originMustNotSee ?? [])
    assert.ok(!r.originHeaders.includes(h), `origin received ${h}: ${ctx}`);
}

function writeSummary(report: CorpusReport, failed: string[]): void {
  const byCategory: Record<string, number> = {};
  const denials: Record<string, number> = {};
  let allowed = 0;
  for (const c of CASES) {
    byCategory[c.category] = (byCategory[c.category] ?? 0) + 1;
    if (c.expect.reason === 'allowed') allowed++;
    else denials[c.expect.reason] = (denials[c.expect.reason] ?? 0) + 1;
  }
  const forms = { raw: 0, undici: 0 };
  for (const c of CASES) forms[c.send.kind === 'raw' ? 'raw' : 'undici']++;
  mkdirSync(join(repoRoot, 'build'), { recursive: true });
  writeFileSync(
    SUMMARY,
    `${JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        node: report.node,
        isolation: 'network namespace (unshare -Urn), loopback only',
        cases: CASES.length,
        passed: CASES.length - failed.length,
        failed,
        byCategory,
        allowed,
        denialsByReason: denials,
        clients: forms,
        trapListeners: report.trapListeners.length,
        trapConnections: report.trapTotal,
        decisionsAudited: report.decisionsTotal,
        credentialInLog: report.credentialInLog,
        corpusMs: report.durationMs,
      },
      null,
      2,
    )}\n`,
  );
}

void describe('SSRF corpus through the real gateway (network namespace)', () => {
  const skip = namespaceUnavailable();
  let report: CorpusReport | undefined;
  const byId = new Map<string, CaseResult>();
  const failed: string[] = [];

  before(async () => {
    if (skip !== null) return;
    report = await runCorpus();
    for (const r of report.results) byId.set(r.id, r);
  });

  after(() => {
    if (report === undefined) return;
    writeSummary(report, failed);
    assert.equal(report.trapTotal, 0, 'a trap listener received a connection during the corpus');
  });

  void test('has at least 150 cases, each with a unique id', (t) => {
    if (skip !== null) {
      t.skip(skip);
      return;
    }
    assert.ok(CASES.length >= 150, `only ${CASES.length} cases`);
    assert.equal(new Set(CASES.map((c) => c.id)).size, CASES.length);
  });

  for (const c of CASES) {
    void test(`${c.id}: ${c.name}`, (t) => {
      if (skip !== null) {
        t.skip(skip);
        return;
      }
      const r = byId.get(c.id);
      assert.ok(r !== undefined, 'the runner produced no result');
      try {
        checkCase(c, r);
      } catch (err) {
        failed.push(c.id);
        throw err;
      }
    });
  }

  void test('sets up every trap, receives zero trap connections, and keeps serving afterwards', (t) => {
    if (skip !== null || report === undefined) {
      t.skip(skip ?? 'no report');
      return;
    }
    assert.deepEqual(report.trapSetupFailures, []);
    assert.ok(report.trapListeners.length >= 40, `only ${report.trapListeners.length} traps`);
    assert.equal(report.trapTotal, 0);
    assert.equal(report.healthStatus, 200);
  });

  void test('audits one decision per request and never logs a credential', (t) => {
    if (skip !== null || report === undefined) {
      t.skip(skip ?? 'no report');
      return;
    }
    const expected = CASES.reduce((n, c) => n + (c.expect.decisions ?? 1), 0) + 1;
    assert.equal(report.decisionsTotal, expected);
    assert.equal(report.credentialInLog, false);
  });
});

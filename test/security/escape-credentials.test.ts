/**
 * Escape corpus, cross-subagent part: one subagent using another's gateway credential (live and
 * revoked), reaching another subagent's gateway socket, and reading through a symlink planted in
 * its own package. These need two subagents or host-side setup, so they are not table rows.
 *
 * Decided outcomes (and documented in docs/isolation.md "Honest limits"):
 * - namespaced levels: a subagent's only way out is its OWN Unix socket, whose listener accepts
 *   only its own id — another subagent's credential gets 407;
 * - process level: the gateway's TCP listener cannot tell who is on the other end, so a credential
 *   is a bearer token until revoked: B using A's live credential is served under A's policy,
 *   quotas and audit identity (never more than A may do). Revocation ends it: 407.
 */
import { chmodSync, copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { levelSkip, probeGvisorLevel } from '../helpers/levels.js';
import {
  ALLOWED,
  ESCAPE_DIR,
  LEVELS,
  assertOutcome,
  caseDir,
  finishLevel,
  outputOf,
  startLevel,
  type LevelEnv,
} from './escape-harness.js';

/** `user:pass` of a proxy URL. */
function credOf(proxyUrl: string): string {
  const u = new URL(proxyUrl);
  return `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
}

/** Host path of a subagent's gateway socket (its private dir is `sg-<id>-XXXXXX`). */
function socketOf(id: string): string {
  const dir = readdirSync(tmpdir()).find((n) => n.startsWith(`sg-${id.slice(0, 24)}-`));
  assert.ok(dir !== undefined, `private dir of ${id}`);
  return join(tmpdir(), dir, 'gw.sock');
}

type Use = { status?: number; error?: string };

await probeGvisorLevel();

for (const level of LEVELS) {
  const suite = { skip: levelSkip(level) };
  void describe(`cross-subagent credentials at isolation level '${level}'`, suite, () => {
    let env: LevelEnv | null = null;

    before(async () => {
      env = await startLevel(level);
    });
    after(async () => {
      if (env !== null) await finishLevel(env);
    });

    void test("B using A's live and then revoked credential", { timeout: 30_000 }, async (t) => {
      if (env === null) {
        t.skip(`isolation level '${level}' is not available on this machine`);
        return;
      }
      const e = env;
      const holder = e.orchestrator.spawn({
        parent: 'main',
        agent: 'hostile',
        task: { ms: 20_000 },
        entry: join(ESCAPE_DIR, 'cred-holder.mjs'),
      });
      const cred = credOf(await e.box.next());
      const url = `http://${ALLOWED}:${e.api.port}/small`;
      const hitsBefore = e.api.connections();

      // 1. Through B's own proxy endpoint.
      const own = await e.run('cred-use.mjs', { cred, url, via: 'own' });
      const ownOut = outputOf<Use>(own);
      if (level === 'process') {
        assert.equal(ownOut.status, 200, `bearer credential over TCP: ${JSON.stringify(ownOut)}`);
        const served = e.audit
          .events('egress.decision')
          .filter((d) => d['decision'] === 'allow' && d['subagentId'] === holder.id);
        assert.ok(served.length >= 1, "the request is audited as A's, not B's");
      } else {
        assert.equal(ownOut.status, 407, `B's socket accepts only B's id: ${JSON.stringify(ownOut)}`);
        assert.equal(e.api.connections(), hitsBefore, 'nothing reached the API');
      }

      // 2. Through A's own gateway socket, by its host path.
      if (level !== 'process') {
        const viaA = await e.run('cred-use.mjs', { cred, url, via: { path: socketOf(holder.id) } });
        const out = outputOf<Use>(viaA);
        if (level === 'bubblewrap' || level === 'gvisor') {
          assert.equal(
            out.status,
            undefined,
            `A's socket does not exist in B's sandbox: ${JSON.stringify(out)}`,
          );
          assert.equal(out.error, 'ENOENT');
        } else {
          // unshare leaves the host filesystem (and every Unix socket on it) visible.
          assert.equal(out.status, 200, `documented limit of unshare: ${JSON.stringify(out)}`);
        }
      }

      // 3. Revoked: A ends, its credential is dead everywhere.
      const ended = await holder.terminate('done holding');
      assertOutcome(ended, { status: 'terminated', reason: 'cancelled' });
      const hitsAfterA = e.api.connections();
      const revoked = await e.run('cred-use.mjs', { cred, url, via: 'own' });
      assert.equal(outputOf<Use>(revoked).status, 407, 'a revoked credential is refused');
      assert.equal(e.api.connections(), hitsAfterA, 'nothing reached the API with a revoked credential');
    });

    void test(
      'a symlink next to the entry that points outside: the spawn is refused (SG_SANDBOX_READ_GRANT)',
      { timeout: 30_000 },
      async (t) => {
        if (env === null) {
          t.skip(`isolation level '${level}' is not available on this machine`);
          return;
        }
        const d = caseDir();
        const secret = `symlink-secret-${Math.random().toString(36).slice(2)}`;
        writeFileSync(join(d.dir, 'secret.txt'), secret);
        // The agent's own directory (never the shared corpus dir: other suites spawn from it).
        const own = mkdtempSync(join(tmpdir(), 'sgesc-own-'));
        chmodSync(own, 0o755);
        copyFileSync(join(ESCAPE_DIR, 'fs-symlink-read.mjs'), join(own, 'fs-symlink-read.mjs'));
        chmodSync(join(own, 'fs-symlink-read.mjs'), 0o644);
        symlinkSync(join(d.dir, 'secret.txt'), join(own, 'settings.txt'));
        try {
          const outcome = await env.orchestrator.run({
            parent: 'main',
            agent: 'hostile',
            task: { link: './settings.txt' },
            entry: join(own, 'fs-symlink-read.mjs'),
          });
          // Before any code runs, at every level (the permission model alone would follow it).
          assert.equal(outcome.status, 'failed', JSON.stringify(outcome));
          assert.equal(
            (outcome as { error?: { code: string } }).error?.code,
            'SG_SANDBOX_READ_GRANT',
            JSON.stringify(outcome),
          );
          assert.ok(!JSON.stringify(outcome).includes(secret));
        } finally {
          rmSync(own, { recursive: true, force: true });
          d.remove();
        }
      },
    );
  });
}

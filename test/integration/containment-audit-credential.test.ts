/**
 * Regression (issue 10, item 9): masking a subagent's credential in what it prints is best-effort
 * (hex, a split, base64 of the password alone all pass the mask), so the guarantee is ordering:
 * its credential is revoked before any of its stdout/stderr text reaches the audit log, and
 * before a failed outcome quoting its stderr tail is delivered. On main, output records were
 * written live, while the credential still worked. Every isolation level available here.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { Orchestrator } from '../../src/spawner/types.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig } from '../helpers/spawner-config.js';
import { liveChildren, removeDir, writeAgents } from '../helpers/spawner-harness.js';

const LEVELS = ['bubblewrap', 'unshare', 'process'] as const;

/** Prints its password in three encodings the mask does not know, then completes or crashes. */
const LEAKER = `export default async (task) => {
  const u = new URL(process.env.HTTP_PROXY);
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  const half = Math.floor(pass.length / 2);
  process.stdout.write('hex ' + Buffer.from(pass).toString('hex') + '\\n');
  process.stdout.write('part1 ' + pass.slice(0, half) + '\\n');
  process.stdout.write('part2 ' + pass.slice(half) + '\\n');
  process.stderr.write('b64 ' + Buffer.from(pass).toString('base64') + '\\n');
  process.stderr.write('user ' + user + '\\n');
  // The lines reach the parent while this process (and its credential) is alive.
  await new Promise((r) => setTimeout(r, 400));
  if (task.crash) { process.stderr.write('fatal hex ' + Buffer.from(pass).toString('hex') + '\\n'); process.exit(3); }
  return 'done';
};`;

const detected = await detectIsolation();
let agentsDir = '';

before(() => {
  agentsDir = writeAgents();
  writeFileSync(join(agentsDir, 'leaker.mjs'), LEAKER);
});

after(() => {
  removeDir(agentsDir);
});

/** Status of one request through the gateway's TCP listener with this credential. */
function statusWith(o: Orchestrator, user: string, pass: string): Promise<number> {
  const auth = Buffer.from(`${user}:${pass}`).toString('base64');
  const gw = o.gateway.address;
  return new Promise((resolve, reject) => {
    const req = request({
      host: gw.host,
      port: gw.port,
      method: 'GET',
      path: 'http://never.allowed.test/',
      headers: { host: 'never.allowed.test', 'proxy-authorization': `Basic ${auth}`, connection: 'close' },
      timeout: 5000,
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('gateway request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The password and user name, recovered from what the audit log recorded. */
function leaked(audit: CollectedAudit, id: string): { user: string; pass: string } {
  const lines = audit
    .events('subagent.output')
    .filter((e) => e['subagentId'] === id)
    .map((e) => String(e['text']));
  const hex = lines.find((l) => l.startsWith('hex '))?.slice(4) ?? '';
  const user = lines.find((l) => l.startsWith('user '))?.slice(5) ?? '';
  return { user, pass: Buffer.from(hex, 'hex').toString('utf8') };
}

for (const level of LEVELS) {
  void describe(`a subagent's printed credential at isolation level '${level}'`, () => {
    let orchestrator: Orchestrator | undefined;
    let audit: CollectedAudit;
    const skip = detected.available.includes(level)
      ? false
      : `isolation level '${level}' is not available here`;

    before(async () => {
      if (skip !== false) return;
      const config = makeConfig(
        {
          main: { role: 'parent', subagents: { allowAgents: '*', maxConcurrent: 2, maxChildren: 4 } },
          leaker: { entry: join(agentsDir, 'leaker.mjs'), constraints: { timeoutSeconds: 20 } },
        },
        { baseDir: agentsDir },
      );
      audit = collectAudit();
      orchestrator = await createOrchestrator({ config, logger: audit.logger, isolation: level });
    });

    after(async () => {
      await orchestrator?.close();
      assert.deepEqual(liveChildren(), [], 'no process left after close()');
    });

    for (const crash of [false, true]) {
      void test(
        `is revoked before any of its output${crash ? ' or its failed outcome' : ''} is written down`,
        { skip, timeout: 30_000 },
        async () => {
          const o = orchestrator;
          assert.ok(o !== undefined);
          const outcome = await o.run({ parent: 'main', agent: 'leaker', task: { crash } });
          assert.equal(outcome.status, crash ? 'failed' : 'completed', JSON.stringify(outcome));
          const mine = audit.records().filter((r) => r['subagentId'] === outcome.id);
          const at = (event: string): number[] => mine.flatMap((r, i) => (r['event'] === event ? [i] : []));
          const [revoked] = at('gateway.revoke');
          assert.ok(revoked !== undefined, 'the credential was revoked');
          const outputs = at('subagent.output');
          assert.ok(outputs.length >= 5, `its lines were audited (${outputs.length})`);
          assert.ok(
            outputs.every((i) => i > revoked),
            `every output record follows the revocation (revoke #${revoked}, output ${outputs.join(',')})`,
          );
          const [exit] = at('subagent.exit');
          assert.ok(exit !== undefined && exit > revoked, 'the exit record follows the revocation');
          // The mask missed these encodings: the password is recoverable from the log, and dead.
          const cred = leaked(audit, outcome.id);
          assert.ok(cred.pass.length >= 8 && cred.user !== '', 'the test recovered the leaked credential');
          assert.equal(
            await statusWith(o, cred.user, cred.pass),
            407,
            'the leaked credential no longer works',
          );
          if (outcome.status === 'failed') {
            assert.match(outcome.error.message, /fatal hex [0-9a-f]+/, 'the stderr tail explains the crash');
          }
        },
      );
    }
  });
}

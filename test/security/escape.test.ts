/**
 * The escape corpus: every hostile program of test/fixtures/escape at every available isolation
 * level. Each row must be contained (the act had no effect), end with its expected outcome, and
 * leave the parent healthy: after each level a benign spawn still completes and nothing of any
 * sandbox is left (process, temp dir, credential, gateway connection, cgroup).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { levelSkip, probeGvisorLevel } from '../helpers/levels.js';
import { CASES, type EscapeCase } from './escape-cases.js';
import { RESOURCE_CASES } from './escape-cases-resources.js';
import { LEVELS, finishLevel, startLevel, unshareHasPidNamespace, type LevelEnv } from './escape-harness.js';

const ALL: readonly EscapeCase[] = [...CASES, ...RESOURCE_CASES];
await probeGvisorLevel();

before(() => {
  process.env['SG_ESCAPE_CANARY'] = `canary-${process.pid}-${Date.now()}`;
});
after(() => {
  delete process.env['SG_ESCAPE_CANARY'];
});

for (const level of LEVELS) {
  // Cases of one level run a few at a time: each arms its own traps and canaries, so they do not
  // interfere, and the whole corpus stays within the suite's time budget.
  const suite = { concurrency: 3, skip: levelSkip(level) };
  void describe(`escape corpus at isolation level '${level}'`, suite, () => {
    let env: LevelEnv | null = null;
    let pidNs = false;

    before(async () => {
      env = await startLevel(level);
      pidNs = await unshareHasPidNamespace();
    });

    after(async () => {
      if (env !== null) await finishLevel(env);
    });

    for (const c of ALL) {
      void test(
        `[${c.category}] ${c.program}: ${c.name}`,
        {
          timeout: 30_000,
          ...(c.todo === undefined ? {} : { todo: c.todo }),
          ...(c.skip?.[level] === undefined ? {} : { skip: c.skip[level] }),
        },
        async (t) => {
          assert.ok(env !== null, `before() started level '${level}'`);
          if (c.needsPidNamespace === true && level === 'unshare' && !pidNs) {
            t.skip('unshare here gives no PID namespace: the act would reach the host');
            return;
          }
          const armed = await c.arm(env);
          try {
            const o = await env.run(c.program, armed.task, armed.agent);
            await armed.verify(o);
          } finally {
            await armed.cleanup?.();
          }
        },
      );
    }
  });
}

/**
 * The soak's CI variant: a short run (150 spawns at concurrency 16) of the same mix as
 * `npm run test:soak`, failing on any leak or unexpected outcome. Bounded to 2 minutes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSoak } from './soak-engine.js';

void test('150 mixed spawns at concurrency 16 leak nothing', { timeout: 120_000 }, async () => {
  const summary = await runSoak({ spawns: 150, concurrency: 16 });
  assert.deepEqual(summary.unexpected, [], 'every program ends with its expected outcome');
  assert.deepEqual(summary.leaks.processes, [], 'no process left');
  assert.ok(
    summary.leaks.fds.after <= summary.leaks.fds.before,
    `file descriptors ${summary.leaks.fds.before} → ${summary.leaks.fds.after}`,
  );
  assert.deepEqual(summary.leaks.tempDirs, [], 'no temp dir left');
  assert.equal(summary.leaks.credentials, 0, 'every credential revoked');
  assert.deepEqual(summary.leaks.cgroups, [], 'no cgroup left');
  assert.equal(summary.leaks.gatewayConnections, 0, 'no gateway connection left');
  assert.equal(summary.leaks.trapHits, 0, 'nothing reached the trap');
  assert.ok(
    summary.parentRssMb.growth <= summary.parentRssMb.limit,
    `parent RSS grew ${summary.parentRssMb.growth} MiB`,
  );
  assert.equal(summary.ok, true);
});

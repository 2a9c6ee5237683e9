/**
 * The soak's CI variant: a short run (150 spawns at concurrency 16) of the same mix as
 * `npm run test:soak`, failing on any leak or unexpected outcome. Bounded to 2 minutes. At
 * `gvisor` (about half a second per start under runsc) the run is smaller: SG_SOAK_GVISOR_SPAWNS
 * (default 30) spawns at concurrency 4; skipped with the probe's reason where runsc cannot run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IsolationLevel } from '../../src/spawner/types.js';
import { levelSkip, probeGvisorLevel } from '../helpers/levels.js';
import { runSoak, type SoakOptions } from './soak-engine.js';

await probeGvisorLevel();

/** Every leak and outcome check of a soak summary. */
async function soakLeaksNothing(opts: SoakOptions): Promise<void> {
  const summary = await runSoak(opts);
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
  if (opts.isolation !== undefined) assert.equal(summary.isolation, opts.isolation);
  assert.equal(summary.ok, true);
}

void test('150 mixed spawns at concurrency 16 leak nothing', { timeout: 120_000 }, async () => {
  await soakLeaksNothing({ spawns: 150, concurrency: 16 });
});

const gvisor: IsolationLevel = 'gvisor';
const gvisorSpawns = Number(process.env['SG_SOAK_GVISOR_SPAWNS'] ?? '30');

void describe(`soak at isolation level '${gvisor}'`, { skip: levelSkip(gvisor) }, () => {
  void test(
    `${gvisorSpawns} mixed spawns at concurrency 4 leak nothing`,
    // About a second per spawn on two cores at concurrency 4, plus the longest program.
    { timeout: Math.max(120_000, gvisorSpawns * 2_000) },
    async () => {
      assert.ok(Number.isInteger(gvisorSpawns) && gvisorSpawns >= 4, 'SG_SOAK_GVISOR_SPAWNS >= 4');
      await soakLeaksNothing({ spawns: gvisorSpawns, concurrency: 4, isolation: gvisor });
    },
  );
});

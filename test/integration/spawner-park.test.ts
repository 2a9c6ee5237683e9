/**
 * The parked launcher: a shell already in a fresh memory cgroup that a launch claims, so the
 * cgroup attach is off the spawn path. Claimed or not, the child must be in its limited cgroup
 * before its own program runs, and nothing (process, cgroup) may outlive the park.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SpawnerError } from '../../src/errors.js';
import { createSandboxDirs, detectIsolation, launch, type Sandbox } from '../../src/sandbox/index.js';
import { ownerToken } from '../../src/sandbox/dirs.js';
import { LaunchPark, sandboxCgroupName, sweepStaleCgroups } from '../../src/sandbox/park.js';
import { isAlive } from '../../src/sandbox/proc.js';
import { eventually } from '../helpers/spawner-harness.js';
import { fixturesDir } from '../helpers/paths.js';

const detected = await detectIsolation();
const cgBase = /^v[12] at (.+)$/.exec(detected.details['cgroup'] ?? '')?.[1];
const limitFile = detected.cgroup === 'v2' ? 'memory.max' : 'memory.limit_in_bytes';
const ENTRY = join(fixturesDir, 'agents', 'infinite-loop.mjs');
/** Prints its own cgroup, HOME and cwd, then waits to be killed. */
const PROBE = ['/bin/sh', '-c', 'cat /proc/self/cgroup; echo "home=$HOME"; echo "cwd=$(pwd)"; exec sleep 30'];

const parks: LaunchPark[] = [];
const sandboxes: Sandbox[] = [];
after(async () => {
  await Promise.all(sandboxes.map((s) => s.dispose()));
  await Promise.all(parks.map((p) => p.close()));
  if (cgBase !== undefined && existsSync(cgBase)) {
    const left = readdirSync(cgBase).filter((n) => n.startsWith(`sg-park-${process.pid}-`));
    assert.deepEqual(left, [], 'every closed park removed its cgroups');
  }
});

async function startPark(): Promise<LaunchPark> {
  const park = new LaunchPark();
  parks.push(park);
  await park.start();
  assert.ok(await eventually(() => park.ready, 5000), 'the parked launcher entered its cgroup');
  return park;
}

/** `process` level: needs no gateway socket, and the wrappers are the same for a parked launch. */
async function launchProbe(
  park: LaunchPark,
  command: string[] = PROBE,
): Promise<{ sandbox: Sandbox; id: string; output: string[]; scratch: string }> {
  const id = `park-${Math.random().toString(36).slice(2, 10)}`;
  const dirs = createSandboxDirs(id);
  const output: string[] = [];
  // A refused launch leaves the directories to their creator (as SubagentRun removes them).
  const sandbox = await launch(
    {
      id,
      level: 'process',
      entry: ENTRY,
      scratchDir: dirs.scratchDir,
      maxMemoryMb: 96,
      gateway: { host: '127.0.0.1', port: 9 },
      ownedDir: dirs.root,
      onOutput: (l) => output.push(l.text),
      command,
    },
    park,
  ).catch((err: unknown) => {
    rmSync(dirs.root, { recursive: true, force: true });
    throw err;
  });
  sandboxes.push(sandbox);
  return { sandbox, id, output, scratch: dirs.scratchDir };
}

/** The parked cgroup (of this process) that `pid` is in (it enters it asynchronously). */
async function parkCgroupFor(pid: number): Promise<string | undefined> {
  if (cgBase === undefined) return undefined;
  const find = (): string | undefined =>
    readdirSync(cgBase)
      .filter((n) => n.startsWith(`sg-park-${process.pid}-`))
      .find((n) =>
        readFileSync(join(cgBase, n, 'cgroup.procs'), 'utf8')
          .split('\n')
          .includes(String(pid)),
      );
  await eventually(() => find() !== undefined, 5000);
  return find();
}

void describe('parked launcher', () => {
  void test('a launch is started through the parked launcher, in its own limited cgroup', async (t) => {
    if (cgBase === undefined) {
      t.skip('no usable memory cgroup on this machine');
      return;
    }
    const park = await startPark();
    const parked = park.parkedPid;
    assert.ok(parked !== undefined, 'a launcher is parked once the park started');
    const { sandbox, id, output, scratch } = await launchProbe(park);
    assert.equal(sandbox.pid, parked, 'the parked launcher became the sandbox');
    assert.equal(sandbox.memoryEnforcement, detected.cgroup === 'v2' ? 'cgroup-v2' : 'cgroup-v1');
    assert.ok(await eventually(() => output.some((l) => l.startsWith('cwd=')), 5000), output.join('|'));
    assert.ok(
      output.some((l) => l.includes(`/subagent-guard/${sandboxCgroupName(id)}`)),
      `the program runs in the cgroup named by the sandbox id: ${output.join('|')}`,
    );
    assert.equal(
      readFileSync(join(cgBase, sandboxCgroupName(id), limitFile), 'utf8').trim(),
      String(96 * 1024 * 1024),
    );
    assert.ok(output.includes(`home=${scratch}`) && output.includes(`cwd=${scratch}`), output.join('|'));
    assert.ok(
      await eventually(() => park.ready && park.parkedPid !== parked, 5000),
      'a new launcher is parked in the background',
    );
    await sandbox.dispose();
    assert.ok(
      !existsSync(join(cgBase, sandboxCgroupName(id))),
      'the claimed cgroup is removed with the sandbox',
    );
  });

  void test('a parked launcher that died is not used: the launch takes the ordinary path', async (t) => {
    if (cgBase === undefined) {
      t.skip('no usable memory cgroup on this machine');
      return;
    }
    const park = await startPark();
    const parked = park.parkedPid;
    assert.ok(parked !== undefined);
    process.kill(parked, 'SIGKILL');
    assert.ok(await eventually(() => !isAlive(parked), 5000), 'the parked launcher is gone');
    const { sandbox, id, output } = await launchProbe(park);
    assert.notEqual(sandbox.pid, parked);
    assert.ok(await eventually(() => output.some((l) => l.startsWith('cwd=')), 5000), output.join('|'));
    assert.ok(
      output.some((l) => l.includes(`/subagent-guard/${sandboxCgroupName(id)}`)),
      output.join('|'),
    );
    assert.equal(
      readFileSync(join(cgBase, sandboxCgroupName(id), limitFile), 'utf8').trim(),
      String(96 * 1024 * 1024),
    );
    await sandbox.dispose();
  });

  void test('two launches at once: only one claims the parked launcher, both start', async (t) => {
    if (cgBase === undefined) {
      t.skip('no usable memory cgroup on this machine');
      return;
    }
    const park = await startPark();
    const parked = park.parkedPid;
    const [a, b] = await Promise.all([launchProbe(park), launchProbe(park)]);
    assert.equal([a.sandbox.pid, b.sandbox.pid].filter((p) => p === parked).length, 1);
    for (const r of [a, b]) {
      assert.ok(await eventually(() => r.output.some((l) => l.startsWith('cwd=')), 5000), r.output.join('|'));
      assert.ok(
        r.output.some((l) => l.includes(`/subagent-guard/${r.id}`)),
        r.output.join('|'),
      );
    }
    await Promise.all([a.sandbox.dispose(), b.sandbox.dispose()]);
  });

  void test('an argument with a newline is refused before the parked launcher is touched', async (t) => {
    if (cgBase === undefined) {
      t.skip('no usable memory cgroup on this machine');
      return;
    }
    const park = await startPark();
    const parked = park.parkedPid;
    await assert.rejects(
      launchProbe(park, ['/bin/echo', 'one\nexec /bin/sh']),
      (err: unknown) => err instanceof SpawnerError && err.code === 'SG_SANDBOX_LAUNCH',
    );
    assert.equal(park.parkedPid, parked, 'the parked launcher is still parked');
  });

  void test('close() kills the parked launcher and removes its cgroup', async (t) => {
    if (cgBase === undefined) {
      t.skip('no usable memory cgroup on this machine');
      return;
    }
    const park = await startPark();
    const parked = park.parkedPid;
    assert.ok(parked !== undefined);
    const mine = await parkCgroupFor(parked);
    assert.ok(mine !== undefined, 'the parked launcher is in a parked cgroup');
    await park.close();
    assert.ok(await eventually(() => !isAlive(parked), 5000), 'no parked process is left');
    assert.equal(park.parkedPid, undefined);
    assert.ok(!existsSync(join(cgBase, mine)), `its cgroup ${mine} is removed`);
    // A closed park parks nothing and hands out nothing: launches take the ordinary path.
    const { sandbox } = await launchProbe(park);
    assert.notEqual(sandbox.pid, parked);
    assert.equal(park.parkedPid, undefined);
    await sandbox.dispose();
  });

  void test('the sweep removes empty parked and sandbox cgroups of dead owners only', (t) => {
    if (cgBase === undefined || detected.cgroup === null) {
      t.skip('no usable memory cgroup');
      return;
    }
    const own = ownerToken(process.pid);
    assert.ok(own !== null);
    const tag = own.replace(':', '-');
    const dead = ['sg-park-999999999-1-deadowner', 'deadSandboxId.999999999-1'];
    // Same pid, other start time: a later process that reused the pid does not own them.
    const reused = [`sg-park-${String(process.pid)}-1-reusedpid`, `reusedSandbox.${String(process.pid)}-1`];
    const live = [`sg-park-${tag}-liveowner`, sandboxCgroupName('liveSandboxId')];
    const unmarked = ['unmarkedSandboxId'];
    const all = [...dead, ...reused, ...live, ...unmarked];
    for (const n of all) mkdirSync(join(cgBase, n));
    try {
      const removed = sweepStaleCgroups({ version: detected.cgroup, dir: cgBase });
      for (const n of [...dead, ...reused]) {
        assert.ok(removed.includes(n), `${n} is swept`);
        assert.ok(!existsSync(join(cgBase, n)));
      }
      for (const n of [...live, ...unmarked]) {
        assert.ok(!removed.includes(n), `${n} is kept`);
        assert.ok(existsSync(join(cgBase, n)));
      }
    } finally {
      for (const n of all) if (existsSync(join(cgBase, n))) rmdirSync(join(cgBase, n));
    }
  });
});

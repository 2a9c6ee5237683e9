import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createSandboxDirs,
  createSandboxDirsAsync,
  sweepStaleSandboxDirs,
} from '../../../src/sandbox/dirs.js';

void test('the stale-directory sweep removes only marked directories of processes that are gone', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'sweep-'));
  t.after(() => {
    rmSync(base, { recursive: true, force: true });
  });
  const live = createSandboxDirs('livexxxxxxxxxxxxxxxxxx', base); // owned by this running process
  const dead = join(base, 'sg-dead-1');
  mkdirSync(dead);
  writeFileSync(join(dead, 'owner'), '2147483646:1\n'); // a pid that cannot exist
  const reused = join(base, 'sg-reused-1');
  mkdirSync(reused);
  writeFileSync(join(reused, 'owner'), `${process.pid}:1\n`); // our pid, another start time
  const unmarked = join(base, 'sg-unmarked-1');
  mkdirSync(unmarked);
  const target = join(base, 'precious');
  mkdirSync(target);
  writeFileSync(join(target, 'owner'), '2147483646:1\n');
  symlinkSync(target, join(base, 'sg-link-1'));

  const removed = sweepStaleSandboxDirs(base).sort();

  assert.deepEqual(removed, [dead, reused].sort());
  assert.ok(existsSync(live.root), 'a live orchestrator keeps its directory');
  assert.ok(existsSync(unmarked), 'a directory without our marker is not ours');
  assert.ok(existsSync(join(target, 'owner')), 'a symlink is never followed');
});

void test('a sandbox directory whose socket path would be too long is refused and removed', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'sweep-'));
  t.after(() => {
    rmSync(base, { recursive: true, force: true });
  });
  const deep = join(base, 'x'.repeat(90));
  mkdirSync(deep);
  assert.throws(
    () => createSandboxDirs('idxxxxxxxxxxxxxxxxxxxxxx', deep),
    (err: unknown) => err instanceof Error && 'code' in err && err.code === 'SG_SANDBOX_LAUNCH',
  );
  assert.deepEqual(readdirSync(deep), [], 'nothing is left behind');
});

void test('createSandboxDirsAsync makes the same private layout as createSandboxDirs', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'dirs-'));
  t.after(() => {
    rmSync(base, { recursive: true, force: true });
  });
  const a = createSandboxDirs('syncxxxx', base);
  const b = await createSandboxDirsAsync('asyncxxx', base);
  for (const d of [a, b]) {
    assert.equal(statSync(d.root).mode & 0o777, 0o700);
    assert.equal(statSync(d.scratchDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(d.root, 'owner')).mode & 0o777, 0o600);
    assert.equal(d.gatewaySocketPath, join(d.root, 'gw.sock'));
  }
  assert.equal(readFileSync(join(b.root, 'owner'), 'utf8'), readFileSync(join(a.root, 'owner'), 'utf8'));
  // Both are this live process's: the sweep leaves them.
  assert.deepEqual(sweepStaleSandboxDirs(base), []);
  // A base whose socket path would not fit sun_path: refused, and nothing is left behind.
  const deep = join(base, 'y'.repeat(90));
  mkdirSync(deep);
  await assert.rejects(createSandboxDirsAsync('long', deep), { code: 'SG_SANDBOX_LAUNCH' });
  assert.deepEqual(readdirSync(deep), []);
});

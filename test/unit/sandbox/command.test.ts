import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  PERMISSION_FLAG,
  SANDBOX_GATEWAY_SOCKET,
  bubblewrapArgs,
  cgroupShim,
  childEnv,
  nodeFlags,
  unshareArgs,
} from '../../../src/sandbox/command.js';

void describe('sandbox command builders', () => {
  void test('childEnv contains only a fixed, minimal set of variables', () => {
    assert.deepEqual(Object.keys(childEnv('/s')).sort(), ['HOME', 'LANG', 'PATH', 'TMPDIR', 'TZ']);
    assert.equal(childEnv('/s').HOME, '/s');
  });

  void test('nodeFlags enable the permission model with one read path per entry and nothing else', () => {
    const flags = nodeFlags(['/a', '/b/package.json'], 200);
    assert.equal(flags[0], PERMISSION_FLAG);
    assert.deepEqual(
      flags.filter((f) => f.startsWith('--allow-')),
      ['--allow-fs-read=/a', '--allow-fs-read=/b/package.json'],
    );
    assert.ok(flags.includes('--max-old-space-size=150'));
    for (const forbidden of [
      '--allow-fs-write',
      '--allow-child-process',
      '--allow-worker',
      '--allow-addons',
    ]) {
      assert.equal(
        flags.some((f) => f.startsWith(forbidden)),
        false,
      );
    }
  });

  void test('the V8 heap cap never goes below 16 MiB', () => {
    assert.ok(nodeFlags([], 8).includes('--max-old-space-size=16'));
  });

  void test('PERMISSION_FLAG matches the running Node version', () => {
    const major = Number(process.versions.node.split('.')[0]);
    if (major >= 23) assert.equal(PERMISSION_FLAG, '--permission');
    if (major === 20) assert.equal(PERMISSION_FLAG, '--experimental-permission');
  });

  void test('bubblewrapArgs unshares every namespace, clears env, dies with the parent and binds the socket', () => {
    const args = bubblewrapArgs({
      node: '/opt/node/bin/node',
      readPaths: ['/pkg'],
      env: { HOME: '/scratch' },
      scratchDir: '/tmp/s',
      gatewaySocket: '/tmp/gw.sock',
    });
    for (const flag of [
      '--unshare-net',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--die-with-parent',
      '--new-session',
      '--clearenv',
    ]) {
      assert.ok(args.includes(flag), flag);
    }
    const joined = args.join(' ');
    assert.match(joined, /--setenv HOME \/scratch/);
    assert.match(joined, /--ro-bind \/opt\/node\/bin\/node \/opt\/node\/bin\/node/);
    assert.match(joined, /--ro-bind \/pkg \/pkg/);
    assert.match(joined, /--bind \/tmp\/s \/scratch/);
    assert.ok(joined.includes(`--ro-bind /tmp/gw.sock ${SANDBOX_GATEWAY_SOCKET}`));
    // The private /tmp must come before binds that may live under /tmp, or it would hide them.
    assert.ok(args.indexOf('--tmpfs') < args.indexOf('/pkg'));
    assert.equal(args.includes('--share-net'), false);
  });

  void test('unshareArgs always creates user and network namespaces', () => {
    for (const v of ['pid', 'net-only'] as const) {
      const a = unshareArgs(v);
      assert.ok(a.includes('--net') && a.includes('--user'));
      assert.equal(a.at(-1), '--');
    }
    assert.ok(unshareArgs('pid').includes('--kill-child'));
  });

  void test('cgroupShim passes the procs file as an argument, never inside the script', () => {
    const shim = cgroupShim('/bin/sh', '/sys/fs/cgroup/x y/cgroup.procs');
    assert.equal(shim[3], '/sys/fs/cgroup/x y/cgroup.procs');
    assert.doesNotMatch(shim[2] ?? '', /cgroup/);
  });
});

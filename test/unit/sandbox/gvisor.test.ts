import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SANDBOX_GATEWAY_SOCKET, SANDBOX_SCRATCH } from '../../../src/sandbox/command.js';
import { gvisorInnerShim, ociSpec, runscArgs, runscStdinShim } from '../../../src/sandbox/gvisor.js';

interface Mount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

const spec = ociSpec({
  args: ['/usr/bin/node', 'x.js'],
  env: { HOME: '/scratch' },
  node: '/opt/node/bin/node',
  readPaths: ['/app/agents', '/app/package.json'],
  gatewaySocket: '/tmp/sg-x/gw.sock',
  user: { uid: 65534, gid: 65534 },
  maxOpenFiles: 256,
  memoryBytes: 128 * 1024 * 1024,
}) as {
  process: Record<string, unknown> & { capabilities: Record<string, unknown[]>; rlimits: unknown[] };
  root: { readonly: boolean; path: string };
  mounts: Mount[];
  linux: { namespaces: { type: string; path?: string }[]; resources: { memory: { limit: number } } };
};

void describe('gVisor OCI spec and runsc argv', () => {
  void test('the root is read-only and every bind is read-only, nosuid, nodev', () => {
    assert.equal(spec.root.readonly, true);
    const binds = spec.mounts.filter((m) => m.type === 'bind');
    assert.ok(binds.length >= 4);
    for (const m of binds) assert.deepEqual(m.options, ['rbind', 'ro', 'nosuid', 'nodev'], m.destination);
    const dests = binds.map((m) => m.destination);
    for (const p of ['/opt/node/bin/node', '/app/agents', '/app/package.json'])
      assert.ok(dests.includes(p), p);
  });

  void test('scratch and /tmp are tmpfs inside the Sentry; the gateway socket is the only host socket', () => {
    const scratch = spec.mounts.find((m) => m.destination === SANDBOX_SCRATCH);
    assert.equal(scratch?.type, 'tmpfs');
    assert.ok(scratch.options?.includes('uid=65534'));
    assert.equal(spec.mounts.find((m) => m.destination === '/tmp')?.type, 'tmpfs');
    const sock = spec.mounts.find((m) => m.destination === SANDBOX_GATEWAY_SOCKET);
    assert.equal(sock?.source, '/tmp/sg-x/gw.sock');
  });

  void test('a pre-started sandbox gets the socket directory, read-only, at the socket directory inside', () => {
    const warm = ociSpec({
      args: ['/usr/bin/node', 'x.js'],
      env: {},
      node: '/usr/bin/node',
      readPaths: [],
      gatewaySocket: '/tmp/sg-warm-x/gw/gateway.sock',
      gatewaySocketLater: true,
      user: { uid: 65534, gid: 65534 },
      maxOpenFiles: 256,
      memoryBytes: 64 * 1024 * 1024,
    }) as { mounts: Mount[] };
    const dir = warm.mounts.filter((m) => m.source.startsWith('/tmp/sg-warm-x'));
    assert.deepEqual(dir, [
      {
        destination: '/run/sg',
        type: 'bind',
        source: '/tmp/sg-warm-x/gw',
        options: ['rbind', 'ro', 'nosuid', 'nodev'],
      },
    ]);
    assert.equal(SANDBOX_GATEWAY_SOCKET, '/run/sg/gateway.sock');
  });

  void test('no capabilities, no_new_privs, an unprivileged user, the open-file limit and memory limit', () => {
    for (const set of Object.values(spec.process.capabilities)) assert.deepEqual(set, []);
    assert.equal(spec.process.noNewPrivileges, true);
    assert.deepEqual(spec.process.user, { uid: 65534, gid: 65534, additionalGids: [] });
    assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 256, soft: 256 }]);
    assert.equal(spec.linux.resources.memory.limit, 128 * 1024 * 1024);
    assert.deepEqual(spec.process.env, ['HOME=/scratch']);
  });

  void test('fresh namespaces, none joined from the host (no namespace path)', () => {
    const types = spec.linux.namespaces.map((n) => n.type).sort();
    assert.deepEqual(types, ['ipc', 'mount', 'network', 'pid', 'uts']);
    for (const n of spec.linux.namespaces) assert.equal(n.path, undefined);
  });

  void test('runsc runs without any network, with state in the given directory and cgroups left to us', () => {
    const args = runscArgs({ stateDir: '/s/runsc', bundle: '/s/oci', containerId: 'sg-a' });
    assert.deepEqual(args.slice(0, 2), ['--root', '/s/runsc']);
    assert.ok(args.includes('--network=none'));
    assert.ok(args.includes('--host-uds=open'));
    assert.ok(args.includes('--ignore-cgroups'));
    assert.deepEqual(args.slice(-4), ['run', '--bundle', '/s/oci', 'sg-a']);
    assert.ok(
      runscArgs({ stateDir: 'a', bundle: 'b', containerId: 'c', platform: 'ptrace' }).includes(
        '--platform=ptrace',
      ),
    );
  });

  void test('the IPC socket travels as runsc stdin and back to fd 3 inside, never interpolated', () => {
    assert.deepEqual(runscStdinShim('/bin/sh'), ['/bin/sh', '-c', 'exec "$@" 0<&3 3<&-', 'sh']);
    assert.deepEqual(gvisorInnerShim('/bin/sh'), ['/bin/sh', '-c', 'exec "$@" 3<&0 0</dev/null', 'sh']);
  });
});

/**
 * The escape corpus as a table: one row per hostile program (test/fixtures/escape). Each row says
 * how to arm the attack (host-side canaries, traps), what outcome is right at each isolation level,
 * and how to prove the act had no effect. Where a level genuinely cannot stop an act (process
 * mode: direct connections, signals; namespace mode: filesystem Unix sockets), the row asserts what
 * does happen, and docs/isolation.md "Honest limits" says so.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IsolationLevel, Outcome } from '../../src/spawner/types.js';
import { repoRoot } from '../helpers/paths.js';
import { eventually } from '../helpers/spawner-harness.js';
import {
  ESCAPE_DIR,
  TRAP_IP,
  UNDICI_ENTRY,
  assertOutcome,
  caseDir,
  outputOf,
  tcpTrap,
  udpTrap,
  unixTrap,
  type Expect,
  type LevelEnv,
} from './escape-harness.js';

/** An armed attack: the task for the program and the proof that it had no effect. */
export interface Armed {
  readonly task: unknown;
  readonly agent?: string;
  readonly verify: (o: Outcome) => void | Promise<void>;
  readonly cleanup?: () => void | Promise<void>;
}

/** One row of the corpus. */
export interface EscapeCase {
  readonly category: string;
  readonly program: string;
  readonly name: string;
  /** Why the case must not run at a level (absent = runs everywhere). */
  readonly skip?: Partial<Record<IsolationLevel, string>>;
  /** At `unshare`, runs only if unshare gives a PID namespace (the act would otherwise reach the host). */
  readonly needsPidNamespace?: boolean;
  /** Marks a row that exposes a known bug outside this area (kept visible, CI stays green). */
  readonly todo?: string;
  readonly arm: (env: LevelEnv) => Promise<Armed> | Armed;
}

const VIOLATION: Expect = { status: 'terminated', reason: 'sandbox_violation' };
const namespaced = (level: IsolationLevel): boolean => level !== 'process';

/** A blocked act: `sandbox_violation`, and `absent()` proves it had no effect. */
function blocked(task: unknown, absent: () => void, cleanup?: () => void): Armed {
  return {
    task,
    verify: (o) => {
      assertOutcome(o, VIOLATION);
      assert.match((o as { detail: string }).detail, /ERR_ACCESS_DENIED/);
      absent();
    },
    ...(cleanup === undefined ? {} : { cleanup }),
  };
}

/** A blocked act whose only trace would be a marker file the escaped code writes. */
function markerCase(extra: Record<string, unknown> = {}): Armed {
  const d = caseDir();
  const marker = join(d.dir, 'escaped');
  return blocked(
    { marker, ...extra },
    () => {
      assert.equal(existsSync(marker), false, 'no code ran outside the runtime');
    },
    d.remove,
  );
}

/** A read of something secret: refused, and the secret appears nowhere the parent exposes. */
function secretRead(task: (dir: string, secret: string) => unknown): (env: LevelEnv) => Armed {
  return (env) => {
    const d = caseDir();
    const secret = `escape-secret-${Math.random().toString(36).slice(2)}`;
    return blocked(
      task(d.dir, secret),
      () => {
        assert.ok(!env.audit.text().includes(secret), 'the secret is not in the audit log');
      },
      d.remove,
    );
  };
}

/**
 * A direct connection attempt to a trap: namespaced levels have no route (the trap sees nothing);
 * process mode cannot stop it (documented limit) — asserted as such so a change is noticed.
 */
function directConnect(
  program: string,
  name: string,
  task: (port: number) => Record<string, unknown>,
  reached: (out: Record<string, unknown>) => boolean,
): EscapeCase {
  return {
    category: 'direct connection',
    program,
    name,
    arm: async (env) => {
      const trap = await tcpTrap();
      return {
        task: task(trap.port),
        verify: async (o) => {
          const out = outputOf<Record<string, unknown>>(o);
          if (namespaced(env.level)) {
            assert.equal(reached(out), false, `no route out of the namespace: ${JSON.stringify(out)}`);
            assert.equal(trap.hits(), 0, 'the trap saw no connection');
          } else {
            // Process mode: the permission model does not cover the network (Honest limits).
            assert.equal(reached(out), true, `process mode reaches loopback: ${JSON.stringify(out)}`);
            assert.ok(await eventually(() => trap.hits() >= 1), 'the trap saw the connection');
          }
        },
        cleanup: () => trap.close(),
      };
    },
  };
}

export const CASES: readonly EscapeCase[] = [
  // ----- filesystem writes --------------------------------------------------------------------
  {
    category: 'filesystem',
    program: 'fs-write-tmp.mjs',
    name: 'writeFileSync to the host /tmp is refused',
    arm: () => {
      const d = caseDir();
      const path = join(d.dir, 'pwned.txt');
      return blocked(
        { path },
        () => {
          assert.equal(existsSync(path), false);
        },
        d.remove,
      );
    },
  },
  {
    category: 'filesystem',
    program: 'fs-write-scratch.mjs',
    name: 'a write even to its own scratch dir is refused (nothing persists)',
    arm: () => blocked(null, () => undefined),
  },
  {
    category: 'filesystem',
    program: 'fs-write-entry-dir.mjs',
    name: 'planting a file in its own package dir is refused',
    arm: () => {
      const name = `planted-${process.pid}-${Date.now()}.mjs`;
      const path = join(ESCAPE_DIR, name);
      return blocked({ name }, () => {
        assert.equal(existsSync(path), false);
      });
    },
  },
  {
    category: 'filesystem',
    program: 'fs-promises-write.mjs',
    name: 'fs.promises writeFile/appendFile are refused',
    arm: () => {
      const d = caseDir();
      const path = join(d.dir, 'pwned.txt');
      return blocked(
        { path },
        () => {
          assert.equal(existsSync(path), false);
        },
        d.remove,
      );
    },
  },
  {
    category: 'filesystem',
    program: 'fs-symlink.mjs',
    name: 'a symlink planted in scratch to write through is refused',
    arm: () => {
      const d = caseDir();
      const target = join(d.dir, 'target.txt');
      writeFileSync(target, 'original');
      return blocked(
        { target },
        () => {
          assert.equal(readFileSync(target, 'utf8'), 'original');
        },
        d.remove,
      );
    },
  },
  {
    category: 'filesystem',
    program: 'fs-unlink.mjs',
    name: 'deleting or renaming a host file is refused',
    arm: () => {
      const d = caseDir();
      const path = join(d.dir, 'precious.txt');
      writeFileSync(path, 'keep me');
      return blocked(
        { path },
        () => {
          assert.equal(readFileSync(path, 'utf8'), 'keep me');
        },
        d.remove,
      );
    },
  },
  // ----- the parent's files and credentials ---------------------------------------------------
  {
    category: 'parent files',
    program: 'read-config.mjs',
    name: "reading the orchestrator's config (with the upstream proxy password) is refused",
    arm: secretRead((dir, secret) => {
      const path = join(dir, 'openclaw.json');
      writeFileSync(
        path,
        JSON.stringify({ agents: { x: { proxy: `http://isolated:${secret}@pool.example:8080` } } }),
      );
      return { path };
    }),
  },
  {
    category: 'parent files',
    program: 'read-ssh.mjs',
    name: 'listing and reading ~/.ssh of the operator is refused',
    arm: secretRead((dir, secret) => {
      mkdirSync(join(dir, '.ssh'), { mode: 0o700 });
      writeFileSync(join(dir, '.ssh', 'id_ed25519'), secret);
      return { home: dir };
    }),
  },
  {
    category: 'parent files',
    program: 'read-proc-ppid-environ.mjs',
    name: '/proc/<ppid>/environ is refused',
    arm: () => blocked(null, () => undefined),
  },
  {
    category: 'parent files',
    program: 'read-proc-1-environ.mjs',
    name: '/proc/1/environ and cmdline are refused',
    arm: () => blocked(null, () => undefined),
  },
  {
    category: 'parent files',
    program: 'read-parent-cwd.mjs',
    name: "listing and reading the orchestrator's cwd is refused",
    arm: () => blocked({ cwd: repoRoot, file: 'tsconfig.base.json' }, () => undefined),
  },
  {
    category: 'parent environment',
    program: 'env-canary.mjs',
    name: "the parent's environment (a canary variable) is not visible",
    arm: () => ({
      task: null,
      verify: (o) => {
        const out = outputOf<{ env: Record<string, string>; selfEnviron: string }>(o);
        const canary = process.env['SG_ESCAPE_CANARY'] ?? '';
        assert.ok(canary.length > 0, 'the canary is set in the test process');
        assert.ok(!JSON.stringify(out).includes(canary), 'the canary is nowhere in the child');
        // The launch environment, the proxy variables the runtime sets, and PWD (the scratch dir,
        // exported by the shell shim that joins the memory cgroup).
        const keys = Object.keys(out.env).filter((k) => k !== 'PWD');
        assert.deepEqual(keys.sort(), [
          'ALL_PROXY',
          'HOME',
          'HTTPS_PROXY',
          'HTTP_PROXY',
          'LANG',
          'PATH',
          'TMPDIR',
          'TZ',
          'all_proxy',
          'http_proxy',
          'https_proxy',
        ]);
        assert.match(out.selfEnviron, /ERR_ACCESS_DENIED/);
      },
    }),
  },
  // ----- code execution ----------------------------------------------------------------------
  {
    category: 'child process',
    program: 'cp-spawn.mjs',
    name: 'child_process.spawn is refused',
    arm: () => markerCase(),
  },
  {
    category: 'child process',
    program: 'cp-exec.mjs',
    name: 'child_process.execSync is refused',
    arm: () => markerCase(),
  },
  {
    category: 'child process',
    program: 'cp-fork.mjs',
    name: 'child_process.fork is refused',
    arm: () => blocked(null, () => undefined),
  },
  {
    category: 'child process',
    program: 'cp-loop.mjs',
    name: 'a fork loop that swallows refusals starts nothing',
    arm: () => ({
      task: { tries: 200 },
      verify: (o) => {
        // A caught refusal is not observable from outside: the run completes, having started nothing.
        assert.deepEqual(outputOf(o), { started: 0, denied: 200 });
      },
    }),
  },
  {
    category: 'process.binding',
    program: 'binding-spawn-sync.mjs',
    name: "process.binding('spawn_sync') is refused",
    arm: () => markerCase(),
  },
  {
    category: 'process.binding',
    program: 'binding-fs.mjs',
    name: "process.binding('fs') is refused",
    arm: () => blocked(null, () => undefined),
  },
  {
    category: 'workers',
    program: 'worker.mjs',
    name: 'a worker thread is refused',
    arm: () => blocked(null, () => undefined),
  },
  {
    category: 'native code',
    program: 'dlopen.mjs',
    name: 'process.dlopen of a shared library is refused (--no-addons)',
    arm: () => ({
      task: { library: '/lib/x86_64-linux-gnu/libc.so.6' },
      verify: (o) => {
        assert.notEqual(o.status, 'completed');
        assert.match(JSON.stringify(o), /loading addons is disabled|ERR_ACCESS_DENIED/);
      },
    }),
  },
  {
    category: 'native code',
    program: 'dlopen.mjs',
    name: 'process.dlopen is reported as sandbox_violation',
    arm: () => ({
      task: { library: '/lib/x86_64-linux-gnu/libc.so.6' },
      verify: (o) => {
        assertOutcome(o, VIOLATION);
      },
    }),
  },
  {
    category: 'inspector',
    program: 'inspector.mjs',
    name: 'inspector.open is refused',
    arm: () => blocked(null, () => undefined),
  },
  {
    category: 'native code',
    program: 'wasi.mjs',
    name: 'WASI with a preopened / is refused',
    arm: () => blocked(null, () => undefined),
  },
  // ----- raw network and direct connections ---------------------------------------------------
  directConnect(
    'net-connect.mjs',
    'raw net.connect to a loopback service',
    (port) => ({ host: TRAP_IP, port }),
    (o) => o['connected'] === true,
  ),
  directConnect(
    'http-agent-false.mjs',
    'http.request with agent:false straight to a loopback server',
    (port) => ({ host: TRAP_IP, port }),
    (o) => typeof o['status'] === 'number',
  ),
  directConnect(
    'undici-direct.mjs',
    'an undici Client without the global dispatcher',
    (port) => ({ undici: UNDICI_ENTRY, origin: `http://${TRAP_IP}:${port}` }),
    (o) => typeof o['status'] === 'number',
  ),
  directConnect(
    'fetch-dispatcher.mjs',
    'fetch with a per-request direct dispatcher',
    (port) => ({ undici: UNDICI_ENTRY, origin: `http://${TRAP_IP}:${port}/` }),
    (o) => typeof o['status'] === 'number',
  ),
  {
    category: 'direct connection',
    program: 'dispatcher-override.mjs',
    name: 'swapping the global dispatcher fails; the fetch still goes through the gateway and is denied',
    arm: async () => {
      const trap = await tcpTrap();
      return {
        task: { undici: UNDICI_ENTRY, origin: `http://${TRAP_IP}:${trap.port}/` },
        verify: (o) => {
          assertOutcome(o, { status: 'terminated', reason: 'egress_denied' });
          assert.equal(trap.hits(), 0, 'the trap saw no connection');
        },
        cleanup: () => trap.close(),
      };
    },
  },
  {
    category: 'raw network',
    program: 'dgram-send.mjs',
    name: 'a UDP datagram to a loopback listener',
    arm: async (env) => {
      const trap = await udpTrap();
      return {
        task: { host: TRAP_IP, port: trap.port },
        verify: async (o) => {
          outputOf(o);
          if (namespaced(env.level)) {
            await new Promise((r) => setTimeout(r, 200));
            assert.equal(trap.hits(), 0, 'no datagram left the namespace');
          } else {
            assert.ok(await eventually(() => trap.hits() === 1), 'process mode: the datagram arrives');
          }
        },
        cleanup: () => trap.close(),
      };
    },
  },
  {
    category: 'raw network',
    program: 'dns-resolver.mjs',
    name: 'a DNS query to a chosen server (exfiltration in the query name)',
    arm: async (env) => {
      const trap = await udpTrap();
      return {
        task: { server: `${TRAP_IP}:${trap.port}`, name: 'c2VjcmV0.exfil.attacker.test' },
        verify: async (o) => {
          const out = outputOf<{ error?: string }>(o);
          assert.ok(out.error !== undefined, 'no answer');
          if (namespaced(env.level)) assert.equal(trap.hits(), 0, 'no query left the namespace');
          else assert.ok(await eventually(() => trap.hits() >= 1), 'process mode: the query arrives');
        },
        cleanup: () => trap.close(),
      };
    },
  },
  {
    category: 'raw network',
    program: 'dns-lookup.mjs',
    name: 'getaddrinfo of an attacker name fails inside the namespace',
    skip: {
      process:
        'a process-level child reaches the system resolver (documented limit); the test must not send DNS off this machine',
    },
    arm: () => ({
      task: { name: 'exfil-c2VjcmV0.attacker.test' },
      verify: (o) => {
        const out = outputOf<{ error?: string; addresses?: unknown }>(o);
        assert.equal(out.addresses, undefined);
        assert.ok(typeof out.error === 'string');
      },
    }),
  },
  {
    category: 'raw network',
    program: 'unix-socket.mjs',
    name: "a host filesystem Unix socket (a container engine's)",
    arm: async (env) => {
      const trap = await unixTrap();
      return {
        task: { path: trap.path },
        verify: async (o) => {
          const out = outputOf<{ connected: boolean }>(o);
          if (env.level === 'bubblewrap' || env.level === 'gvisor') {
            assert.equal(out.connected, false, 'the socket is not in the sandbox');
            assert.equal(trap.hits(), 0);
          } else {
            // unshare and process: the host filesystem stays visible and net.connect({ path }) is
            // not covered by the permission model (Honest limits).
            assert.equal(out.connected, true, `documented limit: ${JSON.stringify(out)}`);
            assert.ok(await eventually(() => trap.hits() === 1));
          }
        },
        cleanup: () => trap.close(),
      };
    },
  },
];

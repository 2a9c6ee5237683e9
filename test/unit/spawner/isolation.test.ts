/**
 * Choosing an isolation level. The explicit levels are a pure choice among what is available; the
 * `auto` rows run the real detection against stand-in wrappers (shell scripts in a temp dir) so
 * they test what `auto` picks on a machine where a wrapper is missing, installed but broken, or
 * works only partly.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { GuardError } from '../../../src/errors.js';
import { chooseIsolation } from '../../../src/spawner/orchestrator.js';
import { probeHost } from '../../../src/sandbox/detect.js';
import type { IsolationLevel, IsolationRequest } from '../../../src/spawner/types.js';

const ALL: IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];
const WITH_GVISOR: IsolationLevel[] = ['gvisor', ...ALL];

const CASES: {
  requested: IsolationRequest;
  available: IsolationLevel[];
  expect: IsolationLevel | 'error';
}[] = [
  { requested: 'namespace', available: ALL, expect: 'bubblewrap' },
  { requested: 'namespace', available: ['unshare', 'process'], expect: 'unshare' },
  { requested: 'namespace', available: ['process'], expect: 'error' },
  { requested: 'bubblewrap', available: ALL, expect: 'bubblewrap' },
  { requested: 'bubblewrap', available: ['unshare', 'process'], expect: 'error' },
  { requested: 'unshare', available: ALL, expect: 'unshare' },
  { requested: 'unshare', available: ['bubblewrap', 'process'], expect: 'error' },
  { requested: 'process', available: ALL, expect: 'process' },
  // gVisor: only when asked for by name or through the `auto+gvisor` opt-in, never by `auto`.
  { requested: 'gvisor', available: WITH_GVISOR, expect: 'gvisor' },
  { requested: 'gvisor', available: ALL, expect: 'error' },
  { requested: 'auto', available: WITH_GVISOR, expect: 'bubblewrap' },
  { requested: 'auto+gvisor', available: WITH_GVISOR, expect: 'gvisor' },
  { requested: 'auto+gvisor', available: ALL, expect: 'bubblewrap' },
  { requested: 'auto+gvisor', available: ['gvisor', 'process'], expect: 'gvisor' },
  { requested: 'namespace', available: WITH_GVISOR, expect: 'bubblewrap' },
];

for (const c of CASES) {
  void test(`isolation '${c.requested}' with [${c.available.join(', ')}] → ${c.expect}`, () => {
    // As detection reports it: the strongest level but gVisor.
    const best = c.available.find((l) => l !== 'gvisor') ?? 'process';
    if (c.expect === 'error') {
      assert.throws(
        () => chooseIsolation(c.requested, c.available, best),
        (err: unknown) => err instanceof GuardError && err.code === 'SG_ISOLATION_UNAVAILABLE',
        'an unavailable level is an error, never a silent downgrade',
      );
    } else {
      assert.equal(chooseIsolation(c.requested, c.available, best), c.expect);
    }
  });
}

/**
 * Stand-in wrappers. `works` exits 0 and records its arguments (to prove the probe ran a program
 * under it); `fails` is installed but broken, as a bwrap is where user namespaces are disabled;
 * `pid-fails` refuses a PID namespace only, as unshare does in some containers.
 */
type Stub = 'works' | 'fails' | 'pid-fails';
const STUBS: Record<Stub, string> = {
  works: '#!/bin/sh\nprintf "%s\\n" "$@" > "$0.args"\nexit 0\n',
  fails: '#!/bin/sh\necho "setting up uid map: Permission denied" >&2\nexit 1\n',
  'pid-fails':
    '#!/bin/sh\nfor a in "$@"; do [ "$a" = --pid ] && { echo "unshare: cannot mount proc" >&2; exit 1; }; done\nprintf "%s\\n" "$@" > "$0.args"\nexit 0\n',
};

const AUTO: {
  name: string;
  wrappers: Partial<Record<'bwrap' | 'unshare', Stub>>;
  available: IsolationLevel[];
  expect: IsolationLevel;
  unshareVariant?: 'pid' | 'net-only' | null;
}[] = [
  {
    name: 'bwrap and unshare both work',
    wrappers: { bwrap: 'works', unshare: 'works' },
    available: ['bubblewrap', 'unshare', 'process'],
    expect: 'bubblewrap',
    unshareVariant: 'pid',
  },
  {
    name: 'bwrap installed but failing, unshare works',
    wrappers: { bwrap: 'fails', unshare: 'works' },
    available: ['unshare', 'process'],
    expect: 'unshare',
  },
  {
    name: 'no bwrap, unshare without a PID namespace only',
    wrappers: { unshare: 'pid-fails' },
    available: ['unshare', 'process'],
    expect: 'unshare',
    unshareVariant: 'net-only',
  },
  {
    name: 'both installed, both failing',
    wrappers: { bwrap: 'fails', unshare: 'fails' },
    available: ['process'],
    expect: 'process',
    unshareVariant: null,
  },
  { name: 'no wrapper installed', wrappers: {}, available: ['process'], expect: 'process' },
];

void describe(
  "isolation 'auto' picks the strongest level that detection proves works",
  {
    skip: process.platform === 'linux' ? false : `the wrappers are Linux-only; this is ${process.platform}`,
  },
  () => {
    const dirs: string[] = [];
    after(() => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    for (const row of AUTO) {
      void test(`${row.name} → ${row.expect}`, async () => {
        const dir = mkdtempSync(join(tmpdir(), 'sg-detect-'));
        dirs.push(dir);
        for (const [name, stub] of Object.entries(row.wrappers)) {
          writeFileSync(join(dir, name), STUBS[stub]);
          chmodSync(join(dir, name), 0o755);
        }
        const caps = await probeHost([dir]);
        assert.deepEqual(caps.report.available, row.available);
        assert.equal(chooseIsolation('auto', caps.report.available, caps.report.best), row.expect);
        if (row.unshareVariant !== undefined) assert.equal(caps.unshare?.variant ?? null, row.unshareVariant);
        for (const [name, stub] of Object.entries(row.wrappers)) {
          if (stub === 'fails') continue;
          // The probe ran node under the wrapper, not just found the binary.
          const args = readFileSync(join(dir, `${name}.args`), 'utf8')
            .trim()
            .split('\n');
          assert.deepEqual(
            args.slice(-2),
            [caps.node, '--version'],
            `${name} was run with ${args.join(' ')}`,
          );
        }
        if (row.wrappers.bwrap === 'fails')
          assert.match(caps.report.details['bubblewrap'] ?? '', /failed: exit 1/);
      });
    }
  },
);

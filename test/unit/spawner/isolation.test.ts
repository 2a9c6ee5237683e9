import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuardError } from '../../../src/errors.js';
import { chooseIsolation } from '../../../src/spawner/orchestrator.js';
import type { IsolationLevel, IsolationRequest } from '../../../src/spawner/types.js';

const ALL: IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];

const CASES: {
  requested: IsolationRequest;
  available: IsolationLevel[];
  expect: IsolationLevel | 'error';
}[] = [
  { requested: 'auto', available: ALL, expect: 'bubblewrap' },
  { requested: 'auto', available: ['process'], expect: 'process' },
  { requested: 'namespace', available: ALL, expect: 'bubblewrap' },
  { requested: 'namespace', available: ['unshare', 'process'], expect: 'unshare' },
  { requested: 'namespace', available: ['process'], expect: 'error' },
  { requested: 'bubblewrap', available: ALL, expect: 'bubblewrap' },
  { requested: 'bubblewrap', available: ['unshare', 'process'], expect: 'error' },
  { requested: 'unshare', available: ALL, expect: 'unshare' },
  { requested: 'unshare', available: ['bubblewrap', 'process'], expect: 'error' },
  { requested: 'process', available: ALL, expect: 'process' },
];

for (const c of CASES) {
  void test(`isolation '${c.requested}' with [${c.available.join(', ')}] → ${c.expect}`, () => {
    const best = c.available[0] ?? 'process';
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

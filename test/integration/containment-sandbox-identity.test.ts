/**
 * A root orchestrator never runs a subagent as root: bubblewrap maps the child to uid/gid 65534
 * in its own user namespace, process level switches to 65534 with setpriv. The child must still
 * reach the gateway (its Unix socket under bubblewrap, TCP at process level). Regression guard for
 * "bubblewrap runs the child as real uid 0 (caps dropped)".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createOrchestrator } from '../../src/spawner/index.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { IsolationLevel } from '../../src/sandbox/index.js';
import { makeConfig } from '../helpers/spawner-config.js';
import { startLoopbackServer, testResolver } from '../helpers/spawner-harness.js';

const WHOAMI = `export default async (task) => {
  const res = await fetch(task.url);
  await res.text();
  return { uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), status: res.status };
};
`;

const report = await detectIsolation();
const isRoot = process.getuid?.() === 0;

void test('runAs: a root orchestrator runs process-level children under the given uid/gid, never uid 0', async (t) => {
  if (!isRoot) {
    t.skip('the orchestrator is not root here: it cannot switch uid');
    return;
  }
  await assert.rejects(
    createOrchestrator({
      config: makeConfig({ main: { role: 'parent' } }),
      logger: pino({ level: 'silent' }),
      isolation: 'process',
      runAs: { uid: 0, gid: 0 },
    }),
    { code: 'SG_ORCHESTRATOR_INVALID_OPTIONS' },
  );
  const dir = mkdtempSync(join(tmpdir(), 'sgtest-runas-'));
  chmodSync(dir, 0o755);
  writeFileSync(
    join(dir, 'id.mjs'),
    'export default async () => ({ uid: process.getuid(), gid: process.getgid() });',
    {
      mode: 0o644,
    },
  );
  const orchestrator = await createOrchestrator({
    config: makeConfig(
      {
        main: { role: 'parent', subagents: { allowAgents: ['id'], maxConcurrent: 1, maxChildren: 1 } },
        id: { entry: join(dir, 'id.mjs') },
      },
      { baseDir: dir },
    ),
    logger: pino({ level: 'silent' }),
    isolation: 'process',
    runAs: { uid: 64001, gid: 64002 },
  });
  try {
    const outcome = await orchestrator.run({ parent: 'main', agent: 'id', task: null });
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.deepEqual((outcome as { output?: unknown }).output, { uid: 64001, gid: 64002 });
  } finally {
    await orchestrator.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const level of ['bubblewrap', 'process'] as IsolationLevel[]) {
  void test(`${level}: under a root orchestrator the child runs as uid/gid 65534 and still uses the gateway`, async (t) => {
    if (!isRoot) {
      t.skip('the orchestrator is not root here: the child already runs unprivileged');
      return;
    }
    if (!report.available.includes(level)) {
      t.skip(`${level} is not available here`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'sgtest-whoami-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'whoami.mjs'), WHOAMI, { mode: 0o644 });
    const api = await startLoopbackServer('127.0.0.2');
    const orchestrator = await createOrchestrator({
      config: makeConfig(
        {
          main: { role: 'parent', subagents: { allowAgents: ['who'], maxConcurrent: 1, maxChildren: 1 } },
          who: {
            entry: join(dir, 'whoami.mjs'),
            network: {
              allowedDomains: ['api.test'],
              allowedPorts: [api.port],
              allowedCidrs: ['127.0.0.2/32'],
            },
          },
        },
        { baseDir: dir },
      ),
      logger: pino({ level: 'silent' }),
      resolver: testResolver({ 'api.test': '127.0.0.2' }).resolver,
      isolation: level,
    });
    try {
      const outcome = await orchestrator.run({
        parent: 'main',
        agent: 'who',
        task: { url: `http://api.test:${api.port}/small` },
      });
      assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
      const out = (outcome as { output?: { uid: number; gid: number; groups: number[]; status: number } })
        .output;
      assert.ok(out !== undefined);
      assert.notEqual(out.uid, 0, 'the child runs as root');
      assert.equal(out.uid, 65534);
      assert.equal(out.gid, 65534);
      assert.ok(!out.groups.includes(0), `supplementary groups: ${JSON.stringify(out.groups)}`);
      assert.equal(out.status, 200, 'the gateway is reachable');
    } finally {
      await orchestrator.close();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

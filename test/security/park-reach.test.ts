/**
 * The parked launcher is an unsandboxed shell that runs the first line it reads on stdin. A
 * subagent must not be able to feed it one: at every available level, an agent that knows the
 * parked shell's pid tries to open its stdin (`/proc/<pid>/fd/0`) for writing and to write a
 * command that would create a marker file. The open must fail, nothing may run, and the parked
 * shell must still be the same idle process afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { IsolationLevel, Orchestrator, ToolDefinition } from '../../src/spawner/types.js';
import { collectAudit } from '../helpers/spawner-audit.js';
import { makeConfig } from '../helpers/spawner-config.js';
import { eventually, processesMatching, removeDir, writeAgents } from '../helpers/spawner-harness.js';

// The pid comes from a tool: the launcher parked when the run was requested became this very
// subagent, so the one to attack is its replacement, parked while the subagent booted.
const AGENT = `import { openSync, writeSync, closeSync } from 'node:fs';
export default async (task, ctx) => {
  const pid = await ctx.tools.call('park_pid', {});
  try {
    const fd = openSync('/proc/' + pid + '/fd/0', 'w');
    writeSync(fd, 'touch ' + task.marker + '\\n');
    closeSync(fd);
    return 'OPENED';
  } catch (e) {
    return String(e.code);
  }
};`;

const marker = join(tmpdir(), `sg-park-reach-${String(process.pid)}`);
let agentsDir = '';
let available: IsolationLevel[] = [];
let hasCgroup = false;

before(async () => {
  agentsDir = writeAgents();
  writeFileSync(join(agentsDir, 'reach.mjs'), AGENT);
  const d = await detectIsolation();
  available = d.available;
  hasCgroup = d.cgroup !== null;
});

after(() => {
  removeDir(agentsDir);
  rmSync(marker, { force: true });
});

const parkMarker = `/sg-park-${String(process.pid)}-`;
let targeted: number | undefined;
/** Read through a function: the tool handler sets it while the run is awaited. */
const lastTarget = (): number | undefined => targeted;

const parkPid: ToolDefinition = {
  description: 'the pid of the launcher parked now',
  inputSchema: { type: 'object' },
  handler: async () => {
    const found = await eventually(() => processesMatching(parkMarker).length === 1, 10_000);
    if (!found) throw new Error('no parked launcher');
    targeted = processesMatching(parkMarker)[0];
    return targeted;
  },
};

for (const level of ['process', 'unshare', 'bubblewrap'] as const) {
  void describe(`the parked launcher at isolation level '${level}'`, () => {
    let orchestrator: Orchestrator | undefined;

    before(async () => {
      if (!available.includes(level) || !hasCgroup) return;
      orchestrator = await createOrchestrator({
        config: makeConfig(
          {
            main: { role: 'parent', subagents: { allowAgents: '*', maxConcurrent: 2, maxChildren: 4 } },
            reach: {
              entry: join(agentsDir, 'reach.mjs'),
              tools: { allowed: ['park_pid'] },
              constraints: { maxMemoryMb: 160, timeoutSeconds: 15 },
            },
          },
          { baseDir: agentsDir },
        ),
        logger: collectAudit().logger,
        tools: { park_pid: parkPid },
        isolation: level,
      });
    });

    after(async () => {
      await orchestrator?.close();
    });

    void test('a subagent cannot write a command to its stdin', async (t) => {
      if (orchestrator === undefined) {
        t.skip(
          hasCgroup
            ? `isolation level '${level}' is not available here`
            : 'no memory cgroup here, so no launcher is parked',
        );
        return;
      }
      targeted = undefined;
      const out = await orchestrator.run({ parent: 'main', agent: 'reach', task: { marker } });
      assert.equal(out.status, 'completed', JSON.stringify(out));
      const target = lastTarget();
      assert.ok(target !== undefined, 'the subagent learned the parked launcher pid');
      const result = out.output;
      assert.notEqual(result, 'OPENED');
      assert.equal(typeof result, 'string');
      // Give a line that did get through time to run before checking that nothing ran.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(existsSync(marker), false, 'the parked shell ran nothing');
      assert.deepEqual(processesMatching(parkMarker), [target], 'the same launcher is still parked, idle');
    });
  });
}

/**
 * Regression (issue "Containment", item 1): a subagent that calls a tool or spawns an agent named
 * after an Object.prototype member ends with tool_denied / spawn_denied, and the orchestrator —
 * run in its own process so a crash shows as its exit code — survives with its benign sibling.
 * On the old code `ctx.tools.call('constructor')` made the orchestrator process exit with code 1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { IsolationLevel } from '../../src/spawner/types.js';
import { containmentAgent, runContainmentJob, writeContainmentAgents } from '../helpers/containment.js';

const NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__lookupGetter__',
];
const LEVELS: readonly IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];

let agents: { dir: string; remove(): void };
let available: IsolationLevel[] = [];

before(async () => {
  agents = writeContainmentAgents();
  available = (await detectIsolation()).available;
});
after(() => {
  agents.remove();
});

void describe('child-chosen names that are Object.prototype members', () => {
  for (const level of LEVELS) {
    void test(
      `${level}: every such tool call ends tool_denied, every such spawn spawn_denied; the orchestrator survives`,
      { timeout: 90_000 },
      async (t) => {
        if (!available.includes(level)) {
          t.skip(`isolation level '${level}' is not available on this machine`);
          return;
        }
        const names = join(agents.dir, 'names.mjs');
        const r = await runContainmentJob(
          {
            level,
            agents: {
              main: {
                role: 'parent',
                subagents: {
                  allowAgents: '*',
                  maxConcurrent: 8,
                  maxChildren: 64,
                  maxSpawnDepth: 2,
                  maxSpawnsPerMinute: 1000,
                },
              },
              names: {
                ...containmentAgent(names, ['echo']),
                subagents: { allowAgents: '*', maxChildren: 4, maxSpawnDepth: 1 },
              },
              benign: containmentAgent(join(agents.dir, 'benign.mjs'), ['echo']),
            },
            runs: [
              { agent: 'benign', task: { calls: 5, gapMs: 50 } },
              ...NAMES.map((n) => ({ agent: 'names', task: { tools: [n] } })),
              ...NAMES.map((n) => ({ agent: 'names', task: { agents: [n] } })),
            ],
          },
          80_000,
        );
        assert.equal(
          r.code,
          0,
          `the orchestrator process must survive (signal ${r.signal}): ${r.stderr.slice(0, 2000)}`,
        );
        const [benign, ...rest] = r.outcomes;
        assert.deepEqual(
          { status: benign?.status, output: benign?.output },
          { status: 'completed', output: { answered: 5 } },
        );
        assert.deepEqual(
          rest.map((o) => o.reason),
          [...NAMES.map(() => 'tool_denied'), ...NAMES.map(() => 'spawn_denied')],
        );
        for (const o of rest) {
          const violations = r.audit.filter(
            (e) => e['event'] === 'subagent.violation' && e['subagentId'] === o.id,
          );
          assert.equal(violations.length, 1, `one violation record for ${o.id}`);
        }
        const denials = r.audit.filter((e) => e['event'] === 'tool.decision' && e['decision'] === 'deny');
        assert.deepEqual(denials.map((e) => e['tool']).sort(), NAMES.map((n) => n.toLowerCase()).sort());
      },
    );
  }
});

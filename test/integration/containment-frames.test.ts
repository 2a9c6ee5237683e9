/**
 * Regression (issue "Containment", items 2, 9 and 10): hostile frames from a live subagent end that
 * subagent with protocol_violation while the orchestrator — in its own process — survives and a
 * benign sibling completes: 20,000-level nesting (~40 KB) in every position a child controls, an
 * object with more keys than allowed, a 1 MB `log` frame, and a child that never reads its answers.
 * On the old code the nested result crashed the orchestrator (exit code 1), the log frame was
 * decoded and written, and the non-reading child ran into its timeout with the parent buffering.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { IsolationLevel } from '../../src/spawner/types.js';
import { containmentAgent, runContainmentJob, writeContainmentAgents } from '../helpers/containment.js';

const LEVELS: readonly IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];
const DEEP = '@DEEP20000@';

/** Hostile frames, one subagent each. */
const FRAMES: Readonly<Record<string, string>> = {
  'deep result.output': `{"type":"result","ok":true,"output":${DEEP}}`,
  'deep log.fields': `{"type":"log","msg":"m","fields":{"f":${DEEP}}}`,
  'deep tool_call.args': `{"type":"tool_call","callId":7,"name":"echo","args":${DEEP}}`,
  'deep spawn.task': `{"type":"spawn","callId":7,"agent":"benign","task":${DEEP}}`,
  'deep error field': `{"type":"result","ok":false,"error":{"code":"X","message":"m","x":${DEEP}}}`,
  'deep sandbox_violation.detail': `{"type":"sandbox_violation","detail":${DEEP}}`,
  'many keys in tool_call.args': `{"type":"tool_call","callId":7,"name":"echo","args":@KEYS12000@}`,
  'many keys in result.output': `{"type":"result","ok":true,"output":@KEYS12000@}`,
  '1 MB log frame': `{"type":"log","msg":"@STR1000000@"}`,
  '1 MB log frame posing as a result': `{"type":"result","msg":"@STR1000000@","type":"log"}`,
};

let agents: { dir: string; remove(): void };
let available: IsolationLevel[] = [];

before(async () => {
  agents = writeContainmentAgents();
  available = (await detectIsolation()).available;
});
after(() => {
  agents.remove();
});

function parentSpec() {
  return {
    role: 'parent' as const,
    subagents: {
      allowAgents: '*' as const,
      maxConcurrent: 12,
      maxChildren: 64,
      maxSpawnDepth: 2,
      maxSpawnsPerMinute: 1000,
    },
  };
}

void describe('hostile frames end only the subagent that sent them', () => {
  for (const level of LEVELS) {
    void test(
      `${level}: nesting, key counts and log size are refused at decode time`,
      { timeout: 90_000 },
      async (t) => {
        if (!available.includes(level)) {
          t.skip(`isolation level '${level}' is not available on this machine`);
          return;
        }
        const labels = Object.keys(FRAMES);
        const r = await runContainmentJob(
          {
            level,
            agents: {
              main: parentSpec(),
              raw: {
                ...containmentAgent(join(agents.dir, 'raw-frames.mjs'), ['echo']),
                subagents: { allowAgents: '*', maxChildren: 2, maxSpawnDepth: 1 },
              },
              benign: containmentAgent(join(agents.dir, 'benign.mjs'), ['echo']),
            },
            runs: [
              { agent: 'benign', task: { calls: 10, gapMs: 50 } },
              ...labels.map((l) => ({ agent: 'raw', task: { frames: [FRAMES[l]] } })),
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
          { status: 'completed', output: { answered: 10 } },
        );
        assert.deepEqual(
          Object.fromEntries(rest.map((o, i) => [labels[i], `${o.status} ${o.reason ?? ''}`])),
          Object.fromEntries(labels.map((l) => [l, 'terminated protocol_violation'])),
        );
        for (const o of rest) {
          const violations = r.audit.filter(
            (e) => e['event'] === 'subagent.violation' && e['subagentId'] === o.id,
          );
          assert.equal(violations.length, 1, `one violation record for ${o.id}`);
        }
        // Nothing of a refused log frame reached the audit log.
        assert.ok(
          !r.audit.some((e) => e['event'] === 'subagent.log' && String(e['text']).startsWith('xxxx')),
        );
      },
    );

    void test(
      `${level}: a child that never reads its answers ends protocol_violation, the parent's queue bounded`,
      { timeout: 60_000 },
      async (t) => {
        if (!available.includes(level)) {
          t.skip(`isolation level '${level}' is not available on this machine`);
          return;
        }
        const r = await runContainmentJob(
          {
            level,
            agents: {
              main: parentSpec(),
              noread: containmentAgent(join(agents.dir, 'no-read.mjs'), ['big']),
              benign: containmentAgent(join(agents.dir, 'benign.mjs'), ['echo']),
            },
            runs: [
              { agent: 'noread', task: { count: 14, bytes: 700_000, blockMs: 20_000 } },
              { agent: 'benign', task: { calls: 5, gapMs: 50 } },
            ],
          },
          50_000,
        );
        assert.equal(r.code, 0, `the orchestrator process must survive: ${r.stderr.slice(0, 2000)}`);
        const [noread, benign] = r.outcomes;
        assert.equal(benign?.status, 'completed');
        assert.deepEqual([noread?.status, noread?.reason], ['terminated', 'protocol_violation']);
        assert.match(noread?.detail ?? '', /not reading its IPC stream/);
        const exit = r.audit.find((e) => e['event'] === 'subagent.exit' && e['subagentId'] === noread?.id);
        const peak = Number(exit?.['ipcQueuedPeakBytes'] ?? 0);
        assert.ok(peak > 4 * 1024 * 1024 && peak < 5 * 1024 * 1024, `peak queued ${peak}`);
      },
    );
  }
});

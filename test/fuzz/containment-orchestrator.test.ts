/**
 * Structure-aware fuzzing of a LIVE orchestrator (issue "Containment", item 3): several hostile
 * subagents write random frames to their IPC stream — valid-looking messages with hostile values
 * (deep nesting, odd types, huge strings, prototype keys and names, duplicate call ids, types out
 * of order) — while a benign sibling runs. The orchestrator runs in its own process: it must exit
 * 0, the sibling must complete, every hostile subagent must end terminated or failed, and each
 * one is audited with at most one violation and exactly one exit record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { IsolationLevel } from '../../src/spawner/types.js';
import { containmentAgent, runContainmentJob, writeContainmentAgents } from '../helpers/containment.js';
import { FUZZ_SEED, runs } from '../helpers/security-fuzz.js';

const LEVELS: readonly IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];
const HOSTILE_SUBAGENTS = runs(8);

const PROTO = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
const json = (v: unknown): string => JSON.stringify(v);

/** Values that no output may be: each alone makes a `result` a violation. */
const hostileOutput = fc.constantFrom(
  '@DEEP20000@',
  '@DEEP73@',
  '@KEYS12000@',
  '{"__proto__":{"polluted":1}}',
  '"@STR900000@"',
);
/** Any value a field may carry, hostile or not. */
const value = fc.oneof(
  { arbitrary: hostileOutput, weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map(json), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      '@DEEP64@',
      '{"constructor":{"prototype":{"polluted":1}}}',
      '"@STR70000@"',
      'null',
      '1e400',
      '-0',
      '"\\u0000"',
      '"\\ud800"',
      '[]',
      '{}',
    ),
    weight: 1,
  },
);
// Valid ids, few of them so that they repeat; and odd ones.
const callId = fc.constantFrom('1', '2', '3');
const oddCallId = fc.constantFrom('"1"', '-1', '0', '1.5', '1e300', '9007199254740993', 'null');
// Mostly prototype names (the class of bug that crashed the orchestrator), then anything.
const name = fc.oneof(
  { arbitrary: fc.constantFrom(...PROTO).map(json), weight: 3 },
  { arbitrary: fc.constantFrom('echo', 'benign', 'raw', 'ECHO', 'group:web').map(json), weight: 1 },
  { arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map(json), weight: 1 },
);
const msg = fc.string({ maxLength: 40 }).map(json);

/** Frames the schema accepts, carrying hostile values where a child chooses them. */
const validFrame: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(callId, name, value)
    .map(([c, n, v]) => `{"type":"tool_call","callId":${c},"name":${n},"args":${v}}`),
  fc.tuple(callId, name, value).map(([c, n, v]) => `{"type":"spawn","callId":${c},"agent":${n},"task":${v}}`),
  fc.tuple(msg, value).map(([m, v]) => `{"type":"log","msg":${m},"fields":{"f":${v}}}`),
  msg.map((m) => `{"type":"log","msg":${m}}`),
  hostileOutput.map((v) => `{"type":"result","ok":true,"output":${v}}`),
  msg.map((m) => `{"type":"result","ok":false,"error":{"code":"X","message":${m}}}`),
  msg.map((m) => `{"type":"sandbox_violation","detail":${m}}`),
  fc.constant('{"type":"ready"}'),
);
/** Frames that break the schema or the framing. */
const brokenFrame: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(oddCallId, name, value)
    .map(([c, n, v]) => `{"type":"tool_call","callId":${c},"name":${n},"args":${v}}`),
  fc
    .tuple(callId, fc.constantFrom('1', 'null', '["echo"]', '""'), value)
    .map(([c, n, v]) => `{"type":"spawn","callId":${c},"agent":${n},"task":${v}}`),
  value.map((v) => `{"type":"log","msg":"m","fields":${v}}`),
  fc.constantFrom('"@STR5000@"', '7', 'null').map((m) => `{"type":"log","msg":${m}}`),
  value.map((v) => `{"type":"result","ok":false,"error":${v}}`),
  value.map((v) => `{"type":"sandbox_violation","detail":${v}}`),
  fc.constantFrom(...PROTO, 'start', 'tool_result', 'abort', '').map((t) => `{"type":${json(t)}}`),
  fc.constant('{"type":"tool_call","callId":1,"name":"echo","args":{},"type":"spawn"}'),
  fc.string({ minLength: 1, maxLength: 30 }),
);
const frame = fc.oneof({ arbitrary: validFrame, weight: 4 }, { arbitrary: brokenFrame, weight: 1 });
const sequence = fc.array(frame, { minLength: 1, maxLength: 6 });

let agents: { dir: string; remove(): void };
let available: IsolationLevel[] = [];

before(async () => {
  agents = writeContainmentAgents();
  available = (await detectIsolation()).available;
});
after(() => {
  agents.remove();
});

void describe('fuzzing a live orchestrator with hostile subagents', () => {
  LEVELS.forEach((level) => {
    void test(
      `${level}: ${HOSTILE_SUBAGENTS} hostile subagents end terminated or failed; the sibling completes; the orchestrator survives`,
      { timeout: 60_000 },
      async (t) => {
        if (!available.includes(level)) {
          t.skip(`isolation level '${level}' is not available on this machine`);
          return;
        }
        // The same frames at every level: a difference between levels is then the level's doing.
        const seed = FUZZ_SEED;
        const sequences = fc.sample(sequence, { seed, numRuns: HOSTILE_SUBAGENTS });
        const r = await runContainmentJob(
          {
            level,
            agents: {
              main: {
                role: 'parent',
                subagents: {
                  allowAgents: '*',
                  maxConcurrent: HOSTILE_SUBAGENTS + 1,
                  maxChildren: 64,
                  maxSpawnDepth: 2,
                  maxSpawnsPerMinute: 1000,
                },
              },
              raw: {
                ...containmentAgent(join(agents.dir, 'raw-frames.mjs'), ['echo']),
                subagents: { allowAgents: ['benign'], maxChildren: 2, maxConcurrent: 2, maxSpawnDepth: 1 },
              },
              benign: containmentAgent(join(agents.dir, 'benign.mjs'), ['echo']),
            },
            runs: [
              { agent: 'benign', task: { calls: 20, gapMs: 50 } },
              ...sequences.map((frames) => ({ agent: 'raw', task: { frames, lingerMs: 300 } })),
            ],
          },
          50_000,
        );
        const context = `seed ${seed}, level ${level}`;
        assert.equal(
          r.code,
          0,
          `${context}: the orchestrator process must survive: ${r.stderr.slice(0, 2000)}`,
        );
        const [benign, ...hostile] = r.outcomes;
        assert.deepEqual(
          { status: benign?.status, output: benign?.output },
          { status: 'completed', output: { answered: 20 } },
          context,
        );
        assert.equal(hostile.length, sequences.length, context);
        hostile.forEach((o, i) => {
          const about = `${context}, frames ${JSON.stringify(sequences[i]).slice(0, 500)}`;
          assert.ok(o.status === 'terminated' || o.status === 'failed', `${about}: ended ${o.status}`);
          const mine = r.audit.filter((e) => e['subagentId'] === o.id);
          assert.ok(
            mine.filter((e) => e['event'] === 'subagent.violation').length <= 1,
            `${about}: one violation`,
          );
          assert.equal(
            mine.filter((e) => e['event'] === 'subagent.exit').length,
            1,
            `${about}: one exit record`,
          );
        });
      },
    );
  });
});

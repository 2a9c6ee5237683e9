import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GuardError } from '../../../src/errors.js';
import { RUN_TRANSITIONS, RunState, RunStateMachine } from '../../../src/spawner/run-state.js';

const STATES = Object.values(RunState);

/** The table, written out: every pair not listed here must be refused. */
const ALLOWED: readonly (readonly [RunState, RunState])[] = [
  ['queued', 'starting'],
  ['queued', 'ending'],
  ['starting', 'running'],
  ['starting', 'aborting'],
  ['running', 'ending'],
  ['aborting', 'ending'],
  ['ending', 'done'],
];

/** A machine driven to `state` along allowed transitions. */
function at(state: RunState): RunStateMachine {
  const path: Record<RunState, readonly RunState[]> = {
    queued: [],
    starting: ['starting'],
    running: ['starting', 'running'],
    aborting: ['starting', 'aborting'],
    ending: ['ending'],
    done: ['ending', 'done'],
  };
  const m = new RunStateMachine('t');
  for (const s of path[state]) m.to(s);
  assert.equal(m.state, state);
  return m;
}

void describe('run state transitions', () => {
  void test('the table allows exactly the documented transitions', () => {
    const listed = STATES.flatMap((from) => RUN_TRANSITIONS[from].map((to) => [from, to] as const));
    assert.deepEqual(listed, ALLOWED);
  });

  for (const from of STATES) {
    for (const to of STATES) {
      const ok = ALLOWED.some(([f, t]) => f === from && t === to);
      void test(`${from} → ${to} is ${ok ? 'allowed' : 'refused with SG_INTERNAL'}`, () => {
        const m = at(from);
        if (ok) {
          m.to(to);
          assert.equal(m.state, to);
        } else {
          assert.throws(
            () => {
              m.to(to);
            },
            (err: unknown) =>
              err instanceof GuardError &&
              err.code === 'SG_INTERNAL' &&
              err.message.includes(`${from} cannot become ${to}`),
          );
          assert.equal(m.state, from, 'a refused transition changes nothing');
        }
      });
    }
  }

  void test('decided: from aborting on (teardown may still run), never before', () => {
    const decided = STATES.filter((s) => at(s).decided);
    assert.deepEqual(decided, ['aborting', 'ending', 'done']);
  });

  void test('a new run is queued', () => {
    assert.equal(new RunStateMachine('x').state, 'queued');
  });
});

/**
 * The life of one subagent run as one state and a transition table. Every guard that used to be
 * a flag (startup finished, credential revoked, sandbox killed, outcome decided) is a question
 * about the state, so an impossible combination cannot be represented.
 *
 * ```
 * queued ──► starting ──► running ──► ending ──► done
 *    │           │                      ▲
 *    │           └──► aborting ─────────┤   (decided during startup: wait for it to settle)
 *    └──────────────────────────────────┘   (decided before a slot was free)
 * ```
 * - `starting`: credential, gateway socket and launch in progress; nothing may be revoked yet
 *   (the gateway listener is still being opened) and there is no child to kill.
 * - `running`: the child runs and talks IPC.
 * - `aborting`: the outcome is decided but startup has not settled; entering `ending` then kills
 *   whatever it launched and revokes the credential.
 * - `ending`: killed and revoked exactly once on entry; teardown (reap, remove, audit) runs.
 * - `done`: the outcome is resolved.
 */
import { InternalError } from '../errors.js';

/** The states of a run. */
export const RunState = {
  Queued: 'queued',
  Starting: 'starting',
  Running: 'running',
  Aborting: 'aborting',
  Ending: 'ending',
  Done: 'done',
} as const;
export type RunState = (typeof RunState)[keyof typeof RunState];

/** Allowed transitions; anything else is a bug. */
export const RUN_TRANSITIONS: Readonly<Record<RunState, readonly RunState[]>> = Object.freeze({
  queued: ['starting', 'ending'],
  starting: ['running', 'aborting'],
  running: ['ending'],
  aborting: ['ending'],
  ending: ['done'],
  done: [],
});

/** The current state of one run; `to()` refuses any transition the table does not list. */
export class RunStateMachine {
  #state: RunState = RunState.Queued;
  readonly #id: string;

  constructor(id: string) {
    this.#id = id;
  }

  get state(): RunState {
    return this.#state;
  }

  /** Whether the outcome is decided (teardown may still be running). */
  get decided(): boolean {
    return this.#state === 'aborting' || this.#state === 'ending' || this.#state === 'done';
  }

  /**
   * Moves to `next`.
   * @throws InternalError SG_INTERNAL for a transition the table does not allow.
   */
  to(next: RunState): void {
    if (!RUN_TRANSITIONS[this.#state].includes(next)) {
      throw new InternalError(`subagent ${this.#id}: run state ${this.#state} cannot become ${next}`, {
        details: { subagentId: this.#id, from: this.#state, to: next },
      });
    }
    this.#state = next;
  }
}

/**
 * The isolation levels of this machine, detected once per test process, and the reason a suite
 * for a level cannot run here: `describe(name, { skip: levelSkip(level) }, ...)` skips the whole
 * suite with that reason instead of every test skipping itself.
 */
import { detectIsolation } from '../../src/sandbox/index.js';
import type { IsolationReport } from '../../src/sandbox/index.js';
import type { IsolationLevel } from '../../src/spawner/types.js';

/** Every isolation level, strongest first, but gVisor (its suites opt in: {@link probeGvisorLevel}). */
export const LEVELS: readonly IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];

/** What detection found on this machine (runsc not probed: see {@link probeGvisorLevel}). */
export const isolation = await detectIsolation();

let withGvisor: IsolationReport | undefined;

/**
 * Probes gVisor (a real runsc container, about a second) for this test process; suites that run
 * at `gvisor` await it at top level before `levelSkip('gvisor')`.
 */
export async function probeGvisorLevel(): Promise<void> {
  if (process.env.SG_TEST_GVISOR === '0') return;
  withGvisor ??= await detectIsolation({ gvisor: true });
}

/** Why a test at `level` cannot run here, or false when it can. */
export function levelSkip(level: IsolationLevel): string | false {
  if (level === 'gvisor' && process.env.SG_TEST_GVISOR === '0')
    return 'SG_TEST_GVISOR=0: the gvisor rows run in another pass';
  const report = level === 'gvisor' ? withGvisor : isolation;
  if (report === undefined) return "isolation level 'gvisor' was not probed in this test process";
  if (report.available.includes(level)) return false;
  const detail = report.details[level === 'unshare' ? 'namespace' : level];
  return `isolation level '${level}' is not available here${detail === undefined ? '' : `: ${detail}`}`;
}

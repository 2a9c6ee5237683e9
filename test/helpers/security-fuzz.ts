/**
 * Shared settings of the fuzz suites: fixed seeds and bounded runs so CI is deterministic, and a
 * failure message that always names the seed (fast-check also prints the shrunk counterexample
 * and the path to replay it).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { repoRoot } from './paths.js';

/** Seed of every fuzz suite; override with SG_FUZZ_SEED to explore, SG_FUZZ_RUNS to go longer. */
export const FUZZ_SEED = Number(process.env.SG_FUZZ_SEED ?? 20_260_521);

/** Scales a suite's default number of runs with SG_FUZZ_RUNS (a multiplier, default 1). */
export function runs(base: number): number {
  const m = Number(process.env.SG_FUZZ_RUNS ?? '1');
  return Math.max(1, Math.round(base * (Number.isFinite(m) && m > 0 ? m : 1)));
}

/** Runs a property with the fixed seed; a failure names the seed. Records the run in the summary. */
export async function check<Ts extends [unknown, ...unknown[]]>(
  suite: string,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  numRuns: number,
): Promise<void> {
  const started = performance.now();
  const params = { seed: FUZZ_SEED, numRuns, endOnFailure: true } as const;
  try {
    // fc.assert's message carries the seed, the counterexample and the replay path.
    await fc.assert(property, params);
  } catch (err) {
    throw new Error(`fuzz ${suite} failed (seed ${FUZZ_SEED}, ${numRuns} runs)`, { cause: err });
  }
  record(suite, numRuns, performance.now() - started);
}

const SUMMARY = join(repoRoot, 'build', 'fuzz-summary.json');

function record(suite: string, numRuns: number, ms: number): void {
  let prev: Record<string, unknown> = {};
  try {
    prev = JSON.parse(readFileSync(SUMMARY, 'utf8')) as Record<string, unknown>;
  } catch {
    // First suite of the run.
  }
  const suites = typeof prev.suites === 'object' && prev.suites !== null ? prev.suites : {};
  mkdirSync(join(repoRoot, 'build'), { recursive: true });
  writeFileSync(
    SUMMARY,
    `${JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        seed: FUZZ_SEED,
        suites: { ...suites, [suite]: { runs: numRuns, ms: Math.round(ms) } },
      },
      null,
      2,
    )}\n`,
  );
}

// Policy: host decisions/s at 10, 1,000 and 100,000 domain rules and address classifications/s,
// from bench/policy.mjs (the policy engine's own benchmark) in a child process, repeated and
// reduced to medians.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../lib/procs.mjs';
import { median } from '../lib/stats.mjs';

const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'policy.mjs');

/** @param {{ quick: boolean, reps: number, log: (m: string) => void }} ctx */
export async function run(ctx) {
  const seconds = ctx.quick ? 0.3 : 1;
  const reps = [];
  for (let i = 0; i < ctx.reps; i++) {
    const r = await runCommand(process.execPath, [script, '--json', `--seconds=${seconds}`], {
      timeoutMs: 120_000,
    });
    if (r.code !== 0) throw new Error(`bench/policy.mjs failed (${r.code}): ${r.stderr.slice(-500)}`);
    reps.push(JSON.parse(r.stdout).results);
  }
  const names = reps[0].map((x) => x.name);
  const rows = names.map((name) => {
    const all = reps.map((rep) => rep.find((x) => x.name === name)).filter(Boolean);
    const row = { name, opsPerSec: median(all.map((x) => x.opsPerSec)) };
    if (all[0].rules !== undefined) {
      row.rules = all[0].rules;
      row.buildMs = median(all.map((x) => x.buildMs));
    }
    return row;
  });
  for (const r of rows)
    ctx.log(`  ${r.name.padEnd(32)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)} ops/s`);
  return { secondsPerRow: seconds, reps: ctx.reps, rows };
}

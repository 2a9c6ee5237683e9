#!/usr/bin/env node
// The full soak: N spawns (default 1000) of mixed benign and hostile programs at concurrency 16,
// then a census of leaked processes, file descriptors, temp dirs, credentials and cgroups, and the
// parent's RSS growth. Prints a JSON summary; exits 1 on any leak or unexpected outcome.
// Needs the compiled tests: `npm run build:test` first.
// Usage: node scripts/soak.mjs [--spawns N] [--concurrency C] [--isolation gvisor|bubblewrap|unshare|process]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const engine = new URL('../build/test/soak/soak-engine.js', import.meta.url);
if (!existsSync(engine)) {
  console.error('build/test/soak/soak-engine.js not found: run `npm run build:test` first');
  process.exit(2);
}
const { values } = parseArgs({
  options: {
    spawns: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '16' },
    isolation: { type: 'string' },
  },
});
const { runSoak } = await import(engine.href);
const summary = await runSoak({
  spawns: Number(values.spawns),
  concurrency: Number(values.concurrency),
  ...(values.isolation === undefined ? {} : { isolation: values.isolation }),
  progress: (line) => console.error(line),
});
console.log(JSON.stringify(summary, null, 2));
// Kept for scripts/security-report.mjs, which renders the latest figures into docs/security-tests.md.
mkdirSync(new URL('../build/', import.meta.url), { recursive: true });
writeFileSync(
  new URL(`../build/soak-summary-${summary.isolation}.json`, import.meta.url),
  `${JSON.stringify({ ...summary, generated: new Date().toISOString() }, null, 2)}\n`,
);
process.exit(summary.ok ? 0 : 1);

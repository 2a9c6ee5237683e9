#!/usr/bin/env node
// The full soak: N spawns (default 1000) of mixed benign and hostile programs at concurrency 16,
// then a census of leaked processes, file descriptors, temp dirs, credentials and cgroups, and the
// parent's RSS growth. Prints a JSON summary; exits 1 on any leak or unexpected outcome.
// Needs the compiled tests: `npm run build:test` first.
// Usage: node scripts/soak.mjs [--spawns N] [--concurrency C] [--isolation bubblewrap|unshare|process]
import { existsSync } from 'node:fs';
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
process.exit(summary.ok ? 0 : 1);

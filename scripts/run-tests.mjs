#!/usr/bin/env node
// Runs node's own test runner over the compiled test files (build/test/**/*.test.js).
// Explicit file list: handing node a directory would also run helper modules as tests.
// Usage: node scripts/run-tests.mjs [substring-filter ...] [--exclude substring ...]
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}
const filters = [];
const excludes = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--exclude') {
    if (argv[i + 1] === undefined) {
      console.error('--exclude needs a substring of the test file paths to leave out');
      process.exit(2);
    }
    excludes.push(argv[++i]);
  } else filters.push(argv[i]);
}
const files = walk('build/test')
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .filter((f) => !excludes.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under build/test (run `npm run build:test` first)');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

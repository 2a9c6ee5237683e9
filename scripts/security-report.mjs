#!/usr/bin/env node
// Renders the figures the security suites generated (build/security-summary.json from the SSRF
// corpus, build/fuzz-summary.json from the fuzz suites) into docs/security-tests.md, between
// `<!-- figures:start -->` and `<!-- figures:end -->`. Never edit that section by hand.
// Usage: npm run build:test && node --test build/test/security build/test/fuzz && node scripts/security-report.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const DOC = join(root, 'docs', 'security-tests.md');
const START = '<!-- figures:start -->';
const END = '<!-- figures:end -->';

function read(name) {
  try {
    return JSON.parse(readFileSync(join(root, 'build', name), 'utf8'));
  } catch {
    return undefined;
  }
}

const corpus = read('security-summary.json');
const fuzz = read('fuzz-summary.json');
if (corpus === undefined) {
  console.error('build/security-summary.json is missing: run the SSRF corpus test first');
  process.exit(1);
}

const table = (head, rows) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
const sorted = (obj) => Object.entries(obj).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

const lines = [
  `Generated ${corpus.generatedAt} on Node ${corpus.node} (${corpus.isolation}).`,
  '',
  `- SSRF corpus: **${corpus.cases} cases**, ${corpus.passed} passed, ${corpus.failed.length} failed` +
    (corpus.failed.length > 0 ? ` (${corpus.failed.join(', ')})` : '') +
    `; ${corpus.allowed} must be allowed, ${corpus.cases - corpus.allowed} must be refused.`,
  `- Clients: ${corpus.clients.raw} raw-socket requests, ${corpus.clients.undici} undici \`ProxyAgent\` fetches.`,
  `- Trap listeners: ${corpus.trapListeners}; **trap connections over the whole corpus: ${corpus.trapConnections}**.`,
  `- Decisions audited: ${corpus.decisionsAudited} (one per request); credential in the audit log: ${corpus.credentialInLog ? '**YES**' : 'no'}.`,
  `- Corpus run time (inside the namespace): ${corpus.corpusMs} ms.`,
  '',
  '**Cases by category**',
  '',
  table(['category', 'cases'], sorted(corpus.byCategory)),
  '',
  '**Expected refusals by reason**',
  '',
  table(['reason', 'cases'], sorted(corpus.denialsByReason)),
];
if (fuzz !== undefined) {
  lines.push(
    '',
    `**Fuzz runs** (seed ${fuzz.seed}, generated ${fuzz.generatedAt})`,
    '',
    table(
      ['property', 'runs', 'ms'],
      Object.entries(fuzz.suites)
        .sort((a, b) => a[0].localeCompare(b[0]))
        .map(([k, v]) => [k, v.runs, v.ms]),
    ),
  );
}

// Soak figures, from the latest `npm run test:soak` per isolation level (build/soak-summary-*.json).
const soaks = ['bubblewrap', 'unshare', 'process']
  .map((level) => read(`soak-summary-${level}.json`))
  .filter((s) => s !== undefined);
if (soaks.length > 0) {
  lines.push(
    '',
    '**Soak** (`npm run test:soak`: mixed benign and hostile programs; a leak or an unexpected outcome fails it)',
    '',
    table(
      [
        'level',
        'spawns',
        'concurrency',
        'wall s',
        'spawns/s',
        'unexpected',
        'leaked processes / fds / temp dirs / credentials / cgroups',
        'parent RSS MiB (before → after)',
        'generated',
      ],
      soaks.map((s) => [
        s.isolation,
        s.spawns,
        s.concurrency,
        s.wallSeconds,
        s.spawnsPerSecond,
        s.unexpected.length,
        `${s.leaks.processes.length} / ${s.leaks.fds.after - s.leaks.fds.before} / ${s.leaks.tempDirs.length} / ${s.leaks.credentials} / ${s.leaks.cgroups.length}`,
        `${s.parentRssMb.before} → ${s.parentRssMb.after} (+${s.parentRssMb.growth})`,
        `${s.generated ?? ''} (Node ${s.node})`,
      ]),
    ),
  );
}

const doc = readFileSync(DOC, 'utf8');
const i = doc.indexOf(START);
const j = doc.indexOf(END);
if (i < 0 || j < i) {
  console.error(`${DOC} has no ${START} ... ${END} section`);
  process.exit(1);
}
let out = `${doc.slice(0, i + START.length)}\n\n${lines.join('\n')}\n\n${doc.slice(j)}`;
try {
  // Keep the doc in the repository's formatting so `prettier --check` stays green.
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(DOC)) ?? {};
  out = await prettier.format(out, { ...options, filepath: DOC });
} catch {
  // prettier is a dev dependency; without it the figures are still correct, just unaligned.
}
writeFileSync(DOC, out);
console.log(`figures written to ${DOC}`);

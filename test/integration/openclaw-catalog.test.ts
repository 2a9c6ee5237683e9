// The checked-in OpenClaw tool catalog (src/policy/openclaw-catalog.ts) must be what the pinned
// OpenClaw release holds: regenerating it from tools/openclaw must give the same file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OPENCLAW_CATALOG } from '../../src/policy/openclaw-catalog.js';
import { findOpenclaw } from '../helpers/openclaw.js';
import { repoRoot } from '../helpers/paths.js';

void test('src/policy/openclaw-catalog.ts matches the pinned OpenClaw package (gen-openclaw-catalog --check)', async (t) => {
  const oc = findOpenclaw();
  if ('skip' in oc) {
    t.skip(oc.skip);
    return;
  }
  assert.equal(OPENCLAW_CATALOG.version, oc.version, 'catalog generated from another OpenClaw release');
  // OpenClaw's modules are imported by the generator: keep them away from the real home directory.
  const home = mkdtempSync(join(tmpdir(), 'sg-catalog-'));
  t.after(() => {
    rmSync(home, { recursive: true, force: true });
  });
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    execFile(
      oc.node,
      [join(repoRoot, 'scripts', 'gen-openclaw-catalog.mjs'), '--check'],
      {
        cwd: repoRoot,
        timeout: 120_000,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          NO_COLOR: '1',
          HOME: home,
          OPENCLAW_STATE_DIR: join(home, 'state'),
        },
      },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out: stdout + stderr });
      },
    );
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /matches openclaw 2026\.9\.6/);
});

const has = (list: readonly string[], name: string): boolean => list.includes(name);

void test('the catalog has OpenClaw 12 core groups, its aliases and the built-in sub-agent deny lists', () => {
  const groups = Object.keys(OPENCLAW_CATALOG.groups).sort();
  assert.deepEqual(groups, [
    'group:agents',
    'group:automation',
    'group:fs',
    'group:media',
    'group:memory',
    'group:messaging',
    'group:nodes',
    'group:openclaw',
    'group:runtime',
    'group:sessions',
    'group:ui',
    'group:web',
  ]);
  assert.deepEqual(OPENCLAW_CATALOG.aliases, {
    bash: 'exec',
    'apply-patch': 'apply_patch',
    cron: 'automations',
  });
  for (const t of ['sessions_yield', 'subagents'])
    assert.ok(has(OPENCLAW_CATALOG.groups['group:sessions'], t));
  assert.ok(has(OPENCLAW_CATALOG.subagentDeny.orchestrator, 'gateway'));
  assert.ok(has(OPENCLAW_CATALOG.subagentDeny.leaf, 'sessions_spawn'));
  assert.ok(!has(OPENCLAW_CATALOG.subagentDeny.orchestrator, 'sessions_spawn'));
});

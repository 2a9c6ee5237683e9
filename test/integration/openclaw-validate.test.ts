// One openclaw.json, two readers: every native config we ship or test, and OpenClaw's own
// documented examples, go through our `check` (parseConfig/loadConfig) and the pinned
// `openclaw config validate`. A file our check accepts must pass OpenClaw's validator, and every
// path OpenClaw rejects must be reported by our check. OpenClaw runs cost 1-3 s each, so the
// rejected keys are batched into a few files and at most two runs go at once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import JSON5 from 'json5';
import { loadConfig, parseConfig } from '../../src/config/index.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import { findOpenclaw, openclawValidate, type OpenclawInstall } from '../helpers/openclaw.js';
import { fixturesDir, repoRoot } from '../helpers/paths.js';

const found = findOpenclaw();
const oc: OpenclawInstall | undefined = 'skip' in found ? undefined : found;
const skipReason = 'skip' in found ? found.skip : '';

/** A directory OpenClaw loads our plugin manifest from (the real plugin entry comes later). */
let pluginDir = '';
before(() => {
  pluginDir = mkdtempSync(join(tmpdir(), 'sg-plugin-'));
  writeFileSync(
    join(pluginDir, 'openclaw.plugin.json'),
    readFileSync(join(repoRoot, 'openclaw.plugin.json')),
  );
  writeFileSync(join(pluginDir, 'index.mjs'), '');
});
after(() => {
  if (pluginDir !== '') rmSync(pluginDir, { recursive: true, force: true });
});

/** A copy of `doc` that makes OpenClaw load our manifest, so it validates our plugin entry's config. */
function withPlugin(doc: Record<string, unknown>): Record<string, unknown> {
  const plugins = (doc.plugins ?? {}) as Record<string, unknown>;
  return { ...doc, plugins: { ...plugins, load: { paths: [pluginDir] } } };
}

/** Runs `jobs` with at most `n` at once. */
async function limited<T>(jobs: (() => Promise<T>)[], n = 2): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i];
      if (job !== undefined) out[i] = await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, jobs.length) }, worker));
  return out;
}

/** Our issues for a document (empty = accepted). */
function ourIssues(run: () => unknown): readonly ConfigIssue[] {
  try {
    run();
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
}
async function ourIssuesAsync(run: () => Promise<unknown>): Promise<readonly ConfigIssue[]> {
  try {
    await run();
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
}

/**
 * OpenClaw's issues as dotted paths down to the offending key: an "Unrecognized key(s)" issue at an
 * object names the keys in its message.
 */
function openclawPaths(issues: readonly { path: string; message: string }[]): string[] {
  const out: string[] = [];
  for (const i of issues) {
    const at = i.path === '<root>' ? '' : i.path;
    const keys = /^Unrecognized keys?: (.*)$/.exec(i.message);
    if (keys?.[1] === undefined) out.push(at);
    else
      for (const m of keys[1].matchAll(/"([^"]+)"/g))
        out.push(at === '' ? (m[1] ?? '') : `${at}.${m[1] ?? ''}`);
  }
  return out;
}
const dotted = (pointer: string): string =>
  pointer
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
const related = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);

/** Asserts the contract between the two validators for one document. */
function assertAgree(
  label: string,
  ours: readonly ConfigIssue[],
  theirs: { valid: boolean; issues: readonly { path: string; message: string }[] },
): void {
  const detail = `${label}\n ours: ${JSON.stringify(ours)}\n openclaw: ${JSON.stringify(theirs.issues)}`;
  if (ours.length === 0)
    assert.equal(theirs.valid, true, `our check accepts what OpenClaw rejects: ${detail}`);
  for (const p of openclawPaths(theirs.issues)) {
    assert.ok(
      ours.some((i) => related(dotted(i.path), p)),
      `OpenClaw rejects ${p} and our check does not report it: ${detail}`,
    );
  }
}

void describe('one openclaw.json, two validators (OpenClaw pinned)', () => {
  void test('src/config/openclaw-shape.generated.ts matches the installed OpenClaw (regenerate: node24 scripts/gen-openclaw-shape.mjs)', async (t) => {
    if (oc === undefined) {
      t.skip(skipReason);
      return;
    }
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        oc.node,
        [join(repoRoot, 'scripts', 'gen-openclaw-shape.mjs'), '--check'],
        { timeout: 60_000 },
        (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
        },
      );
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`matches openclaw ${oc.version.replace(/\./g, '\\.')}`));
  });

  void test('every native config we ship or test passes both validators', async (t) => {
    if (oc === undefined) {
      t.skip(skipReason);
      return;
    }
    const files = [
      join(repoRoot, 'examples', 'openclaw', 'openclaw.json'),
      ...readdirSync(join(fixturesDir, 'config', 'valid'))
        .filter((f) => f.startsWith('openclaw'))
        .map((f) => join(fixturesDir, 'config', 'valid', f)),
    ];
    assert.ok(files.length >= 3);
    const results = await limited(
      files.map((file) => async () => {
        const ours = await ourIssuesAsync(() => loadConfig(file));
        const doc = JSON5.parse<Record<string, unknown>>(readFileSync(file, 'utf8'));
        const theirs = await openclawValidate(oc, withPlugin(doc));
        return { file, ours, theirs };
      }),
    );
    for (const { file, ours, theirs } of results) {
      const label = relative(repoRoot, file);
      assert.deepEqual(ours, [], `${label}: our check`);
      assert.equal(theirs.valid, true, `${label}: openclaw config validate ${JSON.stringify(theirs.issues)}`);
    }
  });

  void test("OpenClaw validates our plugin entry's config against openclaw.plugin.json, like our check", async (t) => {
    if (oc === undefined) {
      t.skip(skipReason);
      return;
    }
    const doc = {
      agents: { entries: { main: {} } },
      plugins: { entries: { 'subagent-guard': { config: { agents: { main: { netwrk: {} } } } } } },
    };
    const theirs = await openclawValidate(oc, withPlugin(doc));
    assert.equal(theirs.valid, false);
    assert.ok(
      theirs.issues.some((i) => i.path.startsWith('plugins.entries.subagent-guard.config')),
      JSON.stringify(theirs.issues),
    );
    const ours = ourIssues(() => parseConfig(doc));
    assert.ok(ours.some((i) => i.path === '/plugins/entries/subagent-guard/config/agents/main/netwrk'));
  });

  // Each key our old native shape documented, and each roster rule, in three files (the roster
  // rules only run once the rest of the file is valid).
  const rejected: [string, Record<string, unknown>][] = [
    [
      'extension keys on agents and defaults, id inside an entry, dotted ids, limits',
      {
        audit: { path: './audit.log' },
        proxy: { enabled: false, url: 'http://127.0.0.1:3128' },
        agents: {
          ownership: 'explicit',
          defaults: {
            network: { allowed_domains: ['a.example'] },
            constraints: { max_memory_mb: 128 },
            tools: { deny: ['exec'] },
            subagents: { maxSpawnsPerMinute: 5, maxSpawnDepth: 6, maxChildrenPerAgent: 21 },
          },
          entries: {
            main: { id: 'main' },
            w: {
              entry: './w.mjs',
              read_paths: ['./data'],
              proxy: 'http://127.0.0.1:3128',
              constraints: {},
              network: {},
              subagents: { maxConcurrent: 2, maxChildrenPerAgent: 2, maxSpawnDepth: 1, runTimeoutSeconds: 9 },
            },
            'a.b': {},
          },
        },
      },
    ],
    [
      'ownership explicit with a legacy default marker',
      { agents: { ownership: 'explicit', entries: { a: { default: true } } } },
    ],
    ['several agents and no ownership', { agents: { entries: { a: {}, b: {} } } }],
  ];
  void test('every key OpenClaw rejects is reported by our check at its path, with SG_CONFIG_OPENCLAW_REJECTED', async (t) => {
    if (oc === undefined) {
      t.skip(skipReason);
      return;
    }
    const results = await limited(
      rejected.map(
        ([, doc]) =>
          () =>
            openclawValidate(oc, doc),
      ),
    );
    rejected.forEach(([label, doc], i) => {
      const theirs = results[i];
      assert.ok(theirs);
      assert.equal(theirs.valid, false, `${label}: OpenClaw accepted it`);
      const ours = ourIssues(() => parseConfig(doc));
      assertAgree(label, ours, theirs);
      const paths = openclawPaths(theirs.issues);
      for (const p of paths) {
        const mine = ours.find((o) => related(dotted(o.path), p));
        assert.equal(mine?.code, 'SG_CONFIG_OPENCLAW_REJECTED', `${label}: ${p} ${JSON.stringify(mine)}`);
      }
      if (i === 0) {
        // Every extension key of the first file is named by both validators.
        for (const key of [
          'audit',
          'proxy.url',
          'agents.entries.w.entry',
          'agents.entries.main.id',
          'agents.defaults.tools',
        ]) {
          assert.ok(paths.includes(key), `OpenClaw did not name ${key}: ${JSON.stringify(paths)}`);
        }
      }
    });
  });

  void test("OpenClaw's documented examples: what our check accepts, OpenClaw accepts; what OpenClaw rejects, we report", async (t) => {
    if (oc === undefined) {
      t.skip(skipReason);
      return;
    }
    const docsDir = join(oc.dir, 'docs');
    // The pages about agents, sub-agents and tool policy: the part of the schema we read.
    const pages = [
      'gateway/config-tools/sessions-and-subagents.md',
      'tools/subagents',
      'tools/multi-agent-sandbox-tools.md',
    ];
    const examples: { label: string; doc: Record<string, unknown> }[] = [];
    const collect = (path: string): void => {
      if (statSync(path).isDirectory()) {
        for (const f of readdirSync(path).sort()) collect(join(path, f));
        return;
      }
      if (!path.endsWith('.md')) return;
      const text = readFileSync(path, 'utf8');
      for (const m of text.matchAll(/```(?:json5?|jsonc)\n([\s\S]*?)```/g)) {
        let doc: unknown;
        try {
          doc = JSON5.parse(m[1] ?? '');
        } catch {
          continue; // a fragment (with "..."), not a whole config
        }
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) continue;
        const agents = (doc as Record<string, unknown>).agents;
        if (typeof agents !== 'object' || agents === null) continue;
        if (!/"(subagents|tools)"/.test(JSON.stringify(agents))) continue;
        examples.push({
          label: `${relative(docsDir, path)}@${m.index}`,
          doc: doc as Record<string, unknown>,
        });
      }
    };
    for (const p of pages) collect(join(docsDir, p));
    assert.ok(examples.length >= 5, `only ${examples.length} documented examples found`);
    const results = await limited(
      examples.map(
        ({ doc }) =>
          () =>
            openclawValidate(oc, doc),
      ),
    );
    let acceptedByBoth = 0;
    examples.forEach(({ label, doc }, i) => {
      const theirs = results[i];
      assert.ok(theirs);
      const ours = ourIssues(() => parseConfig(doc, { source: label }));
      assertAgree(label, ours, theirs);
      if (ours.length === 0 && theirs.valid) acceptedByBoth++;
    });
    assert.ok(acceptedByBoth > 0, 'no documented example was accepted by both validators');
  });
});

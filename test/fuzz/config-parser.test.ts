/**
 * Fuzzes the config parser: arbitrary JSON, mutated valid configs and random file contents never
 * crash it. The answer is always a GuardConfig or a coded ConfigError / ConfigReadError whose
 * issues carry JSON pointers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadConfig, parseConfig } from '../../src/config/index.js';
import { ConfigError, ConfigReadError } from '../../src/errors.js';
import { fixturesDir } from '../helpers/paths.js';
import { check, runs } from '../helpers/security-fuzz.js';

const VALID_DIR = join(fixturesDir, 'config', 'valid');
const SEED_CONFIGS = ['security-proxy.json', 'minimal.json', 'openclaw-entries.json'].map(
  (f) => JSON.parse(readFileSync(join(VALID_DIR, f), 'utf8')) as unknown,
);

/** parseConfig must return a frozen config or throw a coded config error, nothing else. */
function parseOrCodedError(value: unknown): 'ok' | 'error' {
  try {
    const cfg = parseConfig(value, { baseDir: VALID_DIR, source: 'fuzz.json' });
    assert.equal(typeof cfg, 'object');
    return 'ok';
  } catch (err) {
    if (err instanceof ConfigError) {
      assert.equal(err.code, 'SG_CONFIG_INVALID');
      assert.ok(err.issues.length > 0, 'a ConfigError without issues');
      for (const i of err.issues) {
        assert.equal(typeof i.message, 'string');
        assert.ok(i.path === '' || i.path.startsWith('/'), `issue path is not a JSON pointer: ${i.path}`);
      }
      return 'error';
    }
    throw err;
  }
}

type Json = unknown;
type Step = { path: number; op: 'delete' | 'replace' | 'add'; key: string; value: Json };

/** Applies one mutation at the `path`-th object/array node (pre-order) of a deep copy. */
function mutate(doc: Json, steps: readonly Step[]): Json {
  const copy = structuredClone(doc);
  for (const s of steps) {
    const nodes: (Record<string, Json> | Json[])[] = [];
    const walk = (v: Json): void => {
      if (typeof v !== 'object' || v === null) return;
      nodes.push(v as Record<string, Json> | Json[]);
      for (const child of Object.values(v)) walk(child);
    };
    walk(copy);
    const node = nodes[s.path % Math.max(1, nodes.length)];
    if (node === undefined) continue;
    const keys = Object.keys(node);
    const target = keys.length === 0 ? s.key : (keys[s.key.length % keys.length] ?? s.key);
    if (Array.isArray(node)) {
      const i = Number(target) || 0;
      if (s.op === 'delete') node.splice(i, 1);
      else if (s.op === 'replace') node[i] = s.value;
      else node.push(s.value);
    } else if (s.op === 'delete') Reflect.deleteProperty(node, target);
    else if (s.op === 'replace') node[target] = s.value;
    else node[s.key] = s.value;
  }
  return copy;
}

const interesting = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    '*',
    '*.com',
    '0.0.0.0/0',
    '169.254.169.254',
    '',
    ' ',
    'a'.repeat(300),
    '__proto__',
    -1,
    1e308,
    0.5,
  ),
);
const stepArb: fc.Arbitrary<Step> = fc.record({
  path: fc.nat({ max: 200 }),
  op: fc.constantFrom('delete', 'replace', 'add'),
  key: fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('__proto__', 'constructor', 'network', 'allowed_domains', '$schema'),
  ),
  value: interesting,
});

void describe('config parser fuzz', () => {
  void test('arbitrary JSON values give a config or a coded ConfigError, never a crash', async () => {
    await check(
      'config.arbitrary',
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        parseOrCodedError(v);
      }),
      runs(400),
    );
  });

  void test('arbitrary objects shaped like a config give a config or a coded ConfigError', async () => {
    const agent = fc.dictionary(
      fc.constantFrom(
        'role',
        'entry',
        'tools_allowed',
        'tools_denied',
        'constraints',
        'network',
        'subagents',
        'proxy',
        'description',
      ),
      interesting,
    );
    await check(
      'config.shaped',
      fc.property(
        fc.record(
          { agents: fc.dictionary(fc.string({ maxLength: 10 }), agent, { maxKeys: 3 }) },
          { requiredKeys: [] },
        ),
        (v) => {
          parseOrCodedError(v);
        },
      ),
      runs(300),
    );
  });

  void test('mutated valid configs give a config or a coded ConfigError', async () => {
    let errors = 0;
    await check(
      'config.mutated',
      fc.property(
        fc.nat({ max: SEED_CONFIGS.length - 1 }),
        fc.array(stepArb, { minLength: 1, maxLength: 4 }),
        (i, steps) => {
          if (parseOrCodedError(mutate(SEED_CONFIGS[i], steps)) === 'error') errors++;
        },
      ),
      runs(400),
    );
    // The mutations must actually produce invalid configs, or this test proves nothing.
    assert.ok(errors > 50, `only ${errors} mutations were rejected`);
  });

  void test('random file contents give a config or a coded ConfigReadError / ConfigError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-fuzz-config-'));
    try {
      const original = readFileSync(join(VALID_DIR, 'security-proxy.json'), 'utf8');
      let n = 0;
      await check(
        'config.file',
        fc.asyncProperty(
          fc.oneof(
            fc.string({ maxLength: 200 }),
            fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
            fc
              .tuple(fc.nat({ max: original.length }), fc.nat({ max: 40 }), fc.string({ maxLength: 8 }))
              .map(([at, cut, ins]) => original.slice(0, at) + ins + original.slice(at + cut)),
          ),
          fc.constantFrom('json', 'json5'),
          async (text, ext) => {
            const file = join(dir, `c${n++}.${ext}`);
            writeFileSync(file, text, 'latin1');
            try {
              await loadConfig(file);
            } catch (err) {
              if (err instanceof ConfigReadError) assert.equal(err.code, 'SG_CONFIG_READ');
              else if (err instanceof ConfigError) assert.equal(err.code, 'SG_CONFIG_INVALID');
              else throw err;
            }
          },
        ),
        runs(150),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

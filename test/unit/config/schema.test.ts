import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import JSON5 from 'json5';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { buildJsonSchema } from '../../../src/config/index.js';
import { repoRoot } from '../../helpers/paths.js';
import { subagent, validDir } from './helpers.js';

const schemaPath = join(repoRoot, 'schemas', 'openclaw.schema.json');
const committed: unknown = JSON.parse(readFileSync(schemaPath, 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true });
const validate = ajv.compile(committed as object);

void describe('schemas/openclaw.schema.json', () => {
  void test('matches the zod schema it is generated from (regenerate: npm run build && node scripts/gen-schema.mjs)', () => {
    assert.deepEqual(
      committed,
      buildJsonSchema(),
      'schemas/openclaw.schema.json drifted: run `npm run build && node scripts/gen-schema.mjs`',
    );
  });

  void test('accepts openclaw.example.json and every security-proxy fixture', () => {
    const docs = [
      join(repoRoot, 'openclaw.example.json'),
      join(validDir, 'security-proxy.json'),
      join(validDir, 'minimal.json'),
    ];
    for (const file of docs) {
      assert.ok(
        validate(JSON5.parse(readFileSync(file, 'utf8'))),
        `${file}: ${ajv.errorsText(validate.errors)}`,
      );
    }
    assert.ok(readdirSync(validDir).length >= 3);
  });

  const w = (extra: Record<string, unknown>) => ({ agents: { w: subagent(extra) } });
  const rejected: [string, unknown][] = [
    ['an unknown root key', { agents: {}, gatway: {} }],
    ['missing agents', {}],
    ['a reserved agent name', { agents: { list: {} } }],
    ['an unknown agent key', w({ tool_allowed: [] })],
    ['memory on a subagent', w({ memory: {} })],
    ['network on a parent', { agents: { p: { role: 'parent', network: {} } } }],
    ['an unknown role', { agents: { w: { role: 'child' } } }],
    ['a wildcard over everything', w({ network: { allowed_domains: ['*'] } })],
    ['a wildcard over a TLD', w({ network: { allowed_domains: ['*.com'] } })],
    ['a wildcard in the middle', w({ network: { allowed_domains: ['a.*.b'] } })],
    ['a partial wildcard', w({ network: { allowed_domains: ['*x.com'] } })],
    ['a domain with a port', w({ network: { allowed_domains: ['example.com:443'] } })],
    ['a domain as a URL', w({ network: { allowed_domains: ['http://example.com'] } })],
    ['port 0', w({ network: { blocked_ports: [0] } })],
    ['port 65536', w({ network: { allowed_ports: [65536] } })],
    ['egress_only false', w({ network: { egress_only: false } })],
    ['memory below 16 MiB', w({ constraints: { max_memory_mb: 8 } })],
    ['negative api calls', w({ constraints: { max_api_calls: -1 } })],
    ['negative cost', w({ constraints: { max_cost_usd: -1 } })],
    ['zero timeout', w({ constraints: { timeout_seconds: 0 } })],
    ['no_memory_persistence false', w({ constraints: { no_memory_persistence: false } })],
    ['a socks proxy', w({ proxy: 'socks5://h:1080' })],
    ['a proxy with a path', w({ proxy: 'http://h:1/x' })],
    ['an unknown tool group', w({ tools_allowed: ['group:nope'] })],
    ['a tool name with a space', w({ tools_allowed: ['web fetch'] })],
    ['maxSpawnDepth 0', { agents: { p: { role: 'parent', subagents: { maxSpawnDepth: 0 } } } }],
    ['a gateway listen without port', { agents: {}, gateway: { listen: 'localhost' } }],
    ['an unknown audit level', { agents: {}, audit: { level: 'verbose' } }],
  ];
  for (const [name, doc] of rejected) {
    void test(`rejects ${name}, as the parser does`, () => {
      assert.equal(validate(doc), false);
    });
  }

  // An editor shows what the validator reports: one typo must be one error, naming the bad key,
  // not one per union branch plus false ones ("must have required property 'role'").
  const typos: [string, unknown, string, string][] = [
    ['tools_alowed on a subagent', w({ tools_alowed: ['web_fetch'] }), '/agents/w', 'tools_alowed'],
    ['netwrok on a subagent', w({ netwrok: {} }), '/agents/w', 'netwrok'],
    ['subagnets on a parent', { agents: { p: { role: 'parent', subagnets: {} } } }, '/agents/p', 'subagnets'],
    [
      'allowed_domain inside network',
      w({ network: { allowed_domain: ['a.example.com'] } }),
      '/agents/w/network',
      'allowed_domain',
    ],
  ];
  for (const [name, doc, path, key] of typos) {
    void test(`reports exactly one error for one typo (${name}), naming the key`, () => {
      assert.equal(validate(doc), false);
      const errors = validate.errors ?? [];
      assert.equal(errors.length, 1, ajv.errorsText(errors));
      const [e] = errors;
      assert.ok(e !== undefined);
      assert.equal(e.instancePath, path);
      assert.equal(e.keyword, 'additionalProperties');
      assert.deepEqual(e.params, { additionalProperty: key });
    });
  }

  void test('a key of the other role is reported at that key, not as a missing role', () => {
    for (const [doc, path] of [
      [{ agents: { p: { role: 'parent', network: {} } } }, '/agents/p/network'],
      [w({ memory: {} }), '/agents/w/memory'],
    ] as const) {
      assert.equal(validate(doc), false);
      const errors = validate.errors ?? [];
      assert.ok(
        errors.some((e) => e.instancePath === path),
        ajv.errorsText(errors),
      );
      assert.ok(!errors.some((e) => e.keyword === 'required'), ajv.errorsText(errors));
      assert.ok(errors.length <= 2, ajv.errorsText(errors));
    }
  });

  void test('accepts case variations the parser accepts (tool groups and names are case-insensitive)', () => {
    assert.ok(validate(w({ tools_allowed: ['GROUP:WEB', 'Web_Fetch'] })), ajv.errorsText(validate.errors));
  });
});

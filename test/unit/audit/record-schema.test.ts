/**
 * The per-event audit record schema: strict (an undocumented field is an error), one entry per
 * registered event, and the shipped JSON Schema generated from it without drift.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditEvent } from '../../../src/audit/events.js';
import {
  AUDIT_LEVELS,
  AuditRecordSchemas,
  buildAuditRecordJsonSchema,
  validateAuditRecord,
} from '../../../src/audit/record-schema.js';
import { repoRoot } from '../../helpers/paths.js';

const base = {
  level: 30,
  time: '2026-01-01T00:00:00.000Z',
  pid: 1,
  hostname: 'h',
  service: 'subagent-guard',
  msg: 'm',
};
const spawn = {
  ...base,
  event: AuditEvent.Spawn,
  subagentId: 'abc',
  agent: 'worker',
  parent: 'main',
  depth: 1,
  isolation: 'bubblewrap',
  enforcing: true,
};

void describe('audit record schema', () => {
  void test('has exactly one schema per registered event', () => {
    assert.deepEqual(Object.keys(AuditRecordSchemas).sort(), Object.values(AuditEvent).sort());
  });

  void test('accepts a well-formed record', () => {
    assert.deepEqual(validateAuditRecord(spawn), { ok: true, record: spawn });
  });

  void test('rejects a field its event does not document (strict)', () => {
    const r = validateAuditRecord({ ...spawn, secret: 'x' });
    assert.ok(!r.ok);
    assert.match(r.issues.join(), /secret/);
  });

  void test('rejects a missing required field, naming it', () => {
    const rest: Record<string, unknown> = { ...spawn };
    delete rest.depth;
    const r = validateAuditRecord(rest);
    assert.ok(!r.ok);
    assert.match(r.issues.join(), /\/depth/);
  });

  void test('rejects a string level (pino tooling filters on the number)', () => {
    assert.equal(validateAuditRecord({ ...spawn, level: 'info' }).ok, false);
    assert.deepEqual(Object.values(AUDIT_LEVELS), [20, 30, 40, 50]);
  });

  void test('rejects an unknown event and a reason outside its enumeration', () => {
    assert.equal(validateAuditRecord({ ...base, event: 'subagent.nope' }).ok, false);
    const deny = {
      ...base,
      event: AuditEvent.EgressDecision,
      subagentId: null,
      method: 'GET',
      host: 'a.test',
      port: 80,
      decision: 'deny',
      reason: 'host_not_allowed',
      status: 403,
      rule: null,
    };
    assert.equal(validateAuditRecord(deny).ok, true);
    assert.equal(validateAuditRecord({ ...deny, reason: 'because' }).ok, false);
  });

  void test('schemas/audit-record.schema.json matches the zod source (regenerate: npm run build && node scripts/gen-schema.mjs)', () => {
    const committed: unknown = JSON.parse(
      readFileSync(join(repoRoot, 'schemas', 'audit-record.schema.json'), 'utf8'),
    );
    assert.deepEqual(committed, buildAuditRecordJsonSchema());
  });

  void test('the package exports the schema as subagent-guard/audit-record.schema.json and ships it', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      files: string[];
    };
    assert.equal(pkg.exports['./audit-record.schema.json'], './schemas/audit-record.schema.json');
    assert.ok(pkg.files.includes('schemas'));
  });
});

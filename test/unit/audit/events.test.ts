/**
 * Every audit event name lives in the `AuditEvent` registry: code writes `AuditEvent.X`, never a
 * string, so the README's event table (drawn from the registry) lists everything the log can hold.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AuditEvent } from '../../../src/audit/events.js';
import { repoRoot } from '../../helpers/paths.js';

const SRC = join(repoRoot, 'src');
const REGISTRY = join(SRC, 'audit', 'events.ts');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The areas event names start with (`gateway.listen` -> `gateway`). */
const AREAS = [...new Set(Object.values(AuditEvent).map((n) => n.split('.')[0]))];

void describe('audit event registry', () => {
  void test('event names are unique and shaped area.name', () => {
    const names = Object.values(AuditEvent);
    assert.equal(new Set(names).size, names.length);
    for (const n of names) assert.match(n, /^[a-z]+\.[a-z_]+$/);
  });

  void test('gateway.error is a registered event', () => {
    assert.equal(AuditEvent.GatewayError, 'gateway.error');
  });

  void test('no source file outside the registry writes an event name as a string literal', () => {
    // A quoted 'area.name' (any area the registry uses) or a quoted value for an `event` key.
    const literal = new RegExp(`(['"])(?:${AREAS.join('|')})\\.[a-z_]+\\1`, 'g');
    const eventKey = /\bevent:\s*(['"`])[^'"`]*\.[^'"`]*\1/g;
    const found: string[] = [];
    for (const file of sources(SRC)) {
      if (file === REGISTRY) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of [...text.matchAll(literal), ...text.matchAll(eventKey)]) {
        const line = text.slice(0, m.index).split('\n').length;
        found.push(`${relative(repoRoot, file)}:${line}: ${m[0]}`);
      }
    }
    assert.deepEqual(found, [], 'use AuditEvent.X (add the name to src/audit/events.ts)');
  });

  void test('the scan finds a literal event name when there is one', () => {
    // Guards the test above against a regex that matches nothing.
    const literal = new RegExp(`(['"])(?:${AREAS.join('|')})\\.[a-z_]+\\1`, 'g');
    assert.equal([..."log.warn({ event: 'gateway.error' })".matchAll(literal)].length, 1);
  });
});

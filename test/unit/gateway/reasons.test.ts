import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  REFUSALS,
  REFUSAL_REASONS,
  answerFor,
  closesConnection,
  isClientAttributable,
  violationForEgress,
  type RefusalReason,
} from '../../../src/gateway/reasons.js';
import { TERMINATION_REASONS } from '../../../src/spawner/types.js';
import { repoRoot } from '../../helpers/paths.js';

/** Rows of the refusal table in docs/gateway.md, as the table in reasons.ts would print them. */
function documentedRows(): Map<string, string[]> {
  const text = readFileSync(join(repoRoot, 'docs', 'gateway.md'), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // | `reason` | status | `error` | onDeny | closes | violation |
    if (cells.length !== 8 || !/^`[a-z_]+`$/.test(cells[1] ?? '') || !/^[0-9]{3}$/.test(cells[2] ?? ''))
      continue;
    const reason = (cells[1] ?? '').slice(1, -1);
    assert.ok(!rows.has(reason), `docs/gateway.md lists ${reason} twice`);
    rows.set(reason, cells.slice(2, 7));
  }
  return rows;
}

function expectedRow(reason: RefusalReason): string[] {
  const f = REFUSALS[reason];
  return [
    String(f.status),
    `\`${f.error}\``,
    f.attributable ? 'yes' : 'no',
    f.closes ? 'yes' : 'no',
    f.violation === null ? '—' : `\`${f.violation}\``,
  ];
}

void describe('gateway refusal reasons', () => {
  void test('docs/gateway.md lists every refusal reason exactly as the table in reasons.ts', () => {
    const documented = documentedRows();
    assert.deepEqual([...documented.keys()].sort(), [...REFUSAL_REASONS].sort());
    for (const reason of REFUSAL_REASONS) {
      assert.deepEqual(documented.get(reason), expectedRow(reason), `docs/gateway.md row of ${reason}`);
    }
  });

  void test('answerFor, isClientAttributable, closesConnection and violationForEgress read the table', () => {
    for (const reason of REFUSAL_REASONS) {
      const f = REFUSALS[reason];
      assert.deepEqual(answerFor(reason), { status: f.status, error: f.error });
      assert.equal(isClientAttributable(reason), f.attributable, reason);
      assert.equal(closesConnection(reason), f.closes, reason);
      assert.equal(violationForEgress(reason), f.violation, reason);
    }
    assert.equal(isClientAttributable('allowed'), false);
    assert.equal(violationForEgress('allowed'), null);
  });

  void test('a refusal reported to onDeny ends a subagent, and one that ends it is reported', () => {
    // onDeny is the only path from a refusal to a termination: a violation that is not reported
    // would never end anything, and a reported refusal without one would be ignored.
    for (const reason of REFUSAL_REASONS) {
      assert.equal(isClientAttributable(reason), violationForEgress(reason) !== null, reason);
    }
  });

  void test('the budget refusals are 429s that reach onDeny with their own termination reasons', () => {
    for (const reason of ['api_calls_exceeded', 'egress_bytes_exceeded'] as const) {
      assert.equal(answerFor(reason).status, 429);
      assert.equal(isClientAttributable(reason), true);
      assert.equal(violationForEgress(reason), reason);
    }
  });

  void test('failures that are not the subagent’s doing are not attributed to it', () => {
    for (const reason of [
      'dns_error',
      'dns_timeout',
      'connect_refused',
      'rate_limited',
      'tunnel_limit',
    ] as const)
      assert.equal(isClientAttributable(reason), false, reason);
  });

  void test('only a missing or invalid credential and the connection cap close the connection', () => {
    assert.deepEqual(REFUSAL_REASONS.filter((r) => closesConnection(r)).sort(), [
      'auth_invalid',
      'auth_required',
      'connection_limit',
    ]);
  });

  void test('every violation is a termination reason', () => {
    for (const reason of REFUSAL_REASONS) {
      const v = violationForEgress(reason);
      if (v !== null) assert.ok(TERMINATION_REASONS.includes(v), `${reason} -> ${v}`);
    }
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { createAuditLogger } from '../../../src/audit/logger.js';
import { eventually } from '../../helpers/spawner-harness.js';

function lines(file: string): number {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '').length;
  } catch {
    return 0;
  }
}

void describe('audit logger flushing', () => {
  void test('a lone record reaches the file without close()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgtest-audit-'));
    try {
      const file = join(dir, 'a.log');
      const audit = createAuditLogger({ path: file });
      const logger = audit.logger;
      logger.info({ event: 'tool.decision' }, 'one');
      assert.ok(await eventually(() => lines(file) === 1, 2000), 'the record is on file');
      await audit.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('a burst is still written in minLength batches, not one write per record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgtest-audit-'));
    try {
      const file = join(dir, 'b.log');
      const audit = createAuditLogger({ path: file });
      const logger = audit.logger;
      const stream = (logger as unknown as Record<symbol, NodeJS.EventEmitter>)[pino.symbols.streamSym];
      assert.ok(stream !== undefined);
      let writes = 0;
      stream.on('write', () => (writes += 1));
      const n = 5000;
      for (let i = 0; i < n; i++) logger.info({ event: 'egress.decision', i }, 'burst');
      await audit.close();
      assert.equal(lines(file), n, 'every record is on file');
      // ~150 bytes a record, 4 KiB batches: a few hundred writes at most, never one per record.
      assert.ok(writes < n / 10, `${writes} writes for ${n} records`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

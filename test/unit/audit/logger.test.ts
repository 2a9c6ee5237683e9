import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { REDACT_PATHS } from '../../../src/audit/events.js';
import { createAuditLogger } from '../../../src/audit/logger.js';
import { eventually } from '../../helpers/eventually.js';

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
      await eventually(
        () => {
          assert.equal(lines(file), 1, 'the record is on file');
        },
        { timeoutMs: 2000 },
      );
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

void describe('audit logger close', () => {
  void test('regression: close() while a write is in flight still writes the records buffered behind it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgtest-audit-'));
    try {
      const file = join(dir, 'c.log');
      const audit = createAuditLogger({ path: file });
      const stream = (
        audit.logger as unknown as Record<symbol, NodeJS.EventEmitter & { _writing?: boolean }>
      )[pino.symbols.streamSym];
      assert.ok(stream !== undefined);
      await new Promise((resolve) => stream.once('ready', resolve));
      // Fill past minLength so one write starts, then leave a record (under minLength) behind it.
      let i = 0;
      while (stream._writing !== true) audit.logger.info({ event: 'egress.decision', i: i++ }, 'fill');
      audit.logger.info({ event: 'egress.decision' }, 'LAST-RECORD');
      await audit.close();
      assert.equal(lines(file), i + 1, 'every record is on file when close() resolves');
      assert.ok(readFileSync(file, 'utf8').includes('LAST-RECORD'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

void describe('audit logger redaction', () => {
  void test('uses no wildcard path (a wildcard makes pino redact-scan every key of every record)', () => {
    for (const p of REDACT_PATHS) assert.ok(!p.includes('*'), p);
  });

  void test('the factory redacts secrets at the top level and one level down, e.g. in subagent log fields', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sgtest-audit-'));
    try {
      const file = join(dir, 'r.log');
      const audit = createAuditLogger({ path: file });
      audit.logger.info(
        {
          event: 'subagent.log',
          password: 's1',
          proxyUrl: 's2',
          fields: { password: 's3', credential: 's4', proxyUrl: 's5', ok: 'visible' },
          err: { password: 's6' },
          upstream: { url: 's7' },
          headers: { authorization: 's8', 'proxy-authorization': 's9', cookie: 's10' },
          config: { gateway: { upstream: { url: 's11' } } },
        },
        'secrets',
      );
      await audit.close();
      const text = readFileSync(file, 'utf8');
      for (let i = 1; i <= 11; i++) assert.ok(!text.includes(`"s${i}"`), `s${i} leaked: ${text}`);
      const rec = JSON.parse(text) as { fields: Record<string, unknown>; password: unknown };
      assert.equal(rec.password, '[redacted]');
      assert.deepEqual(rec.fields, {
        password: '[redacted]',
        credential: '[redacted]',
        proxyUrl: '[redacted]',
        ok: 'visible',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

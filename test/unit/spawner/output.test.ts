import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HeldOutput, maskSecrets, STDERR_TAIL_CHARS, withStderrTail } from '../../../src/spawner/output.js';
import { collectAudit } from '../../helpers/spawner-audit.js';

const SECRET = 'Zx81_abcdefghijklmnopq';

void describe('subagent output', () => {
  void test('masks every occurrence of each secret, ignoring strings too short to be one', () => {
    assert.equal(maskSecrets(`a ${SECRET} b ${SECRET}`, [SECRET, 'short']), 'a *** b ***');
    assert.equal(maskSecrets('a short word', ['short']), 'a short word');
  });

  void test('a failed message gets the masked, trimmed stderr tail; none when stderr is empty', () => {
    assert.equal(withStderrTail('exited with code 3', '  \n', [SECRET]), 'exited with code 3');
    assert.equal(
      withStderrTail('exited with code 3', `token ${SECRET}\nfatal: boom\n`, [SECRET]),
      'exited with code 3; stderr: token ***\nfatal: boom',
    );
    const long = withStderrTail('m', 'x'.repeat(5000) + 'END', []);
    assert.ok(long.endsWith('END'));
    assert.equal(long.length, 'm; stderr: …'.length + STDERR_TAIL_CHARS);
  });

  void test('each line becomes one subagent.output audit record with who and which stream, once released', () => {
    const audit = collectAudit();
    const held = new HeldOutput(audit.logger, { subagentId: 'id1', agent: 'a', parent: 'p' }, () => [SECRET]);
    held.sink({ stream: 'stderr', text: `proxy http://id1:${SECRET}@127.0.0.1:1` });
    assert.equal(
      audit.events('subagent.output').length,
      0,
      'nothing is written while the credential may live',
    );
    held.release();
    held.sink({ stream: 'stdout', text: 'late line' });
    const [rec, late] = audit.events('subagent.output');
    assert.equal(late?.['text'], 'late line', 'after release, lines are written at once');
    assert.equal(rec?.['subagentId'], 'id1');
    assert.equal(rec['stream'], 'stderr');
    assert.equal(rec['text'], 'proxy http://id1:***@127.0.0.1:1');
    assert.ok(!audit.text().includes(SECRET));
  });
});

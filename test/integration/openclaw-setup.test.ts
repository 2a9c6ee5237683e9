import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findOpenclaw, openclawValidate } from '../helpers/openclaw.js';

void test('the pinned OpenClaw validator runs and tells a valid config from an invalid one', async (t) => {
  const oc = findOpenclaw();
  if ('skip' in oc) {
    t.skip(oc.skip);
    return;
  }
  assert.equal(oc.version, '2026.9.6');
  const ok = await openclawValidate(oc, {});
  assert.equal(ok.valid, true, JSON.stringify(ok.raw));
  const bad = await openclawValidate(oc, { agents: { entries: { a: { entry: 'x.js' } } } });
  assert.equal(bad.valid, false);
  assert.ok(
    bad.issues.some((i) => i.path === 'agents.entries.a' && /entry/.test(i.message)),
    JSON.stringify(bad.issues),
  );
});

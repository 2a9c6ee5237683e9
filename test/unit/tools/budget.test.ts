import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ToolError } from '../../../src/errors.js';
import { ByteBudget, BytePace } from '../../../src/tools/budget.js';

void describe('ByteBudget (bytes one subagent holds in the parent)', () => {
  void test('grants within the limit, queues the rest in order, and releases once', async () => {
    const b = new ByteBudget(100);
    const signal = new AbortController().signal;
    const r1 = await b.reserve(60, signal, 't');
    const order: string[] = [];
    const p2 = b.reserve(60, signal, 't').then((r) => (order.push('second'), r));
    const p3 = b.reserve(10, signal, 't').then((r) => (order.push('third'), r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'a small call does not overtake a waiting large one');
    assert.equal(b.used, 60);
    r1();
    r1();
    const r2 = await p2;
    const r3 = await p3;
    assert.deepEqual(order, ['second', 'third']);
    assert.equal(b.used, 70, 'a double release gives back nothing extra');
    r2();
    r3();
    assert.equal(b.used, 0);
  });

  void test('a reservation larger than the budget is clamped to it', async () => {
    const b = new ByteBudget(100);
    const r = await b.reserve(10_000, new AbortController().signal, 't');
    assert.equal(b.used, 100);
    r();
  });

  void test('a waiting call gives up with a tool error when its signal aborts, and frees its place', async () => {
    const b = new ByteBudget(100);
    const r1 = await b.reserve(100, new AbortController().signal, 't');
    const ac = new AbortController();
    const waiting = b.reserve(50, ac.signal, 'web_fetch');
    const next = b.reserve(50, new AbortController().signal, 't');
    ac.abort();
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof ToolError && /web_fetch: gave up/.test(e.message),
    );
    r1();
    const r3 = await next;
    assert.equal(b.used, 50);
    r3();
  });
});

void describe('BytePace (bytes per second one subagent makes the parent process)', () => {
  void test('lets a burst through, then makes the next call wait for the debt to be paid', async () => {
    const pace = new BytePace(1_000_000, 100_000);
    const signal = new AbortController().signal;
    await pace.ready(signal, 't');
    pace.charge(150_000); // 50 KB in debt: about 50 ms at 1 MB/s
    const t0 = performance.now();
    await pace.ready(signal, 't');
    const waited = performance.now() - t0;
    assert.ok(waited >= 30, `waited ${waited.toFixed(1)} ms`);
  });

  void test('a call waiting for the budget gives up with a tool error when its signal aborts', async () => {
    const pace = new BytePace(1, 1);
    pace.charge(1_000_000);
    const ac = new AbortController();
    const waiting = pace.ready(ac.signal, 'sanitized_parse');
    ac.abort();
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof ToolError && /sanitized_parse: gave up/.test(e.message),
    );
  });
});

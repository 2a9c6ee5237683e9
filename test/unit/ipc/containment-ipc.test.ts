/**
 * Regression tests for the child -> parent data path at the IPC layer: depth and key bounds at
 * decode time (a 20,000-level frame once crashed the orchestrator in JSON.stringify), the small
 * frame class for `log` and other small types, a throwing listener, and a peer that never reads.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Duplex, PassThrough } from 'node:stream';
import { IpcProtocolError } from '../../../src/errors.js';
import { createParentChannel } from '../../../src/ipc/endpoints.js';
import { FrameDecoder, decodeFrameBody, encodeFrame } from '../../../src/ipc/framing.js';
import {
  MAX_FRAME_DEPTH,
  MAX_OBJECT_KEYS,
  MAX_SMALL_FRAME_BYTES,
  MAX_VALUE_DEPTH,
} from '../../../src/ipc/limits.js';
import { jsonShapeProblem } from '../../../src/ipc/shape.js';

const DEEP = 20_000;

/** `[[[…]]]` nested `n` levels, as JSON text (~2n bytes). */
export function nestedArrays(n: number): string {
  return '['.repeat(n) + ']'.repeat(n);
}

/** `{"a":{"a":…}}` nested `n` levels. */
export function nestedObjects(n: number): string {
  return '{"a":'.repeat(n) + 'null' + '}'.repeat(n);
}

/** An object with `n` keys. */
export function manyKeys(n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`"k${i}":0`);
  return `{${parts.join(',')}}`;
}

/** Frame bodies with a hostile value in every position a child controls. */
export function hostileBodies(value: string): Record<string, string> {
  return {
    'result.output': `{"type":"result","ok":true,"output":${value}}`,
    'log.fields': `{"type":"log","msg":"m","fields":{"f":${value}}}`,
    'tool_call.args': `{"type":"tool_call","callId":1,"name":"t","args":${value}}`,
    'spawn.task': `{"type":"spawn","callId":1,"agent":"a","task":${value}}`,
    'result.error': `{"type":"result","ok":false,"error":{"code":"X","message":"m","extra":${value}}}`,
    'sandbox_violation.detail': `{"type":"sandbox_violation","detail":${value}}`,
  };
}

function frameOf(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

function parentDecoder(): FrameDecoder {
  return new FrameDecoder({
    small: { maxBytes: MAX_SMALL_FRAME_BYTES, largeTypes: ['result', 'tool_call', 'spawn'] },
  });
}

void describe('jsonShapeProblem', () => {
  void test('counts depth outside strings only, on strings and bytes alike', () => {
    const limits = { maxDepth: 3, maxKeys: 2 };
    assert.equal(jsonShapeProblem('[[[1]]]', limits), null);
    assert.match(jsonShapeProblem('[[[[1]]]]', limits) ?? '', /deeper than 3/);
    assert.equal(jsonShapeProblem('["[[[[[[", "\\"[[[[[["]', limits), null);
    assert.equal(jsonShapeProblem(Buffer.from('["é[[[[[[", {"ü":1}]'), limits), null);
    assert.match(jsonShapeProblem(Buffer.from('{"a":{"b":{"c":{"d":1}}}}'), limits) ?? '', /deeper/);
    assert.equal(jsonShapeProblem('{"a:":1,"b":{"c":1,"d":2}}', limits), null);
    assert.match(jsonShapeProblem('{"a":1,"b":2,"c":3}', limits) ?? '', /more than 2 keys/);
    // Keys count per object, not across siblings.
    assert.equal(jsonShapeProblem('[{"a":1,"b":2},{"a":1,"b":2}]', limits), null);
  });

  void test('scans 20,000 levels without recursion', () => {
    assert.match(jsonShapeProblem(nestedArrays(DEEP), { maxDepth: 64, maxKeys: 10 }) ?? '', /deeper than 64/);
  });
});

void describe('decode-time bounds', () => {
  for (const [label, value] of [
    ['20,000 nested arrays', nestedArrays(DEEP)],
    ['20,000 nested objects', nestedObjects(DEEP)],
    [`an object with ${MAX_OBJECT_KEYS + 1} keys`, manyKeys(MAX_OBJECT_KEYS + 1)],
  ] as const) {
    for (const [where, body] of Object.entries(hostileBodies(value))) {
      void test(`refuses ${label} in ${where} with IpcProtocolError before parsing`, () => {
        assert.throws(() => parentDecoder().push(frameOf(body)), IpcProtocolError);
        assert.throws(() => decodeFrameBody(Buffer.from(body)), /refused/);
      });
    }
  }

  void test(`accepts values up to ${MAX_VALUE_DEPTH} levels in every position`, () => {
    for (const [where, body] of Object.entries(hostileBodies(nestedArrays(MAX_VALUE_DEPTH)))) {
      assert.equal(parentDecoder().push(frameOf(body)).length, 1, where);
    }
  });

  void test('encodeFrame refuses what the peer would refuse', () => {
    const value: unknown = JSON.parse(nestedArrays(MAX_FRAME_DEPTH));
    assert.throws(() => encodeFrame({ type: 'result', ok: true, output: value }), IpcProtocolError);
  });
});

void describe('per-type frame sizes', () => {
  const bigLog = JSON.stringify({ type: 'log', msg: 'x'.repeat(MAX_SMALL_FRAME_BYTES) });

  void test('a log frame over 64 KiB is refused', () => {
    assert.throws(() => parentDecoder().push(frameOf(bigLog)), /limit of its message type/);
  });

  void test('a large frame must announce a large type first and be of that type', () => {
    const disguised = `{"type":"result","msg":"${'x'.repeat(MAX_SMALL_FRAME_BYTES)}","type":"log"}`;
    assert.throws(() => parentDecoder().push(frameOf(disguised)), /announced 'result'/);
    const late = `{"msg":"${'x'.repeat(MAX_SMALL_FRAME_BYTES)}","type":"log"}`;
    assert.throws(() => parentDecoder().push(frameOf(late)), /limit of its message type/);
  });

  void test('large result, tool_call and spawn frames pass', () => {
    const big = 'y'.repeat(700 * 1024);
    for (const msg of [
      { type: 'result', ok: true, output: big },
      { type: 'tool_call', callId: 1, name: 't', args: { big } },
      { type: 'spawn', callId: 1, agent: 'a', task: big },
    ]) {
      assert.deepEqual(parentDecoder().push(encodeFrame(msg)), [msg]);
    }
  });

  void test('the channel refuses a 1 MB log frame as a protocol error', async () => {
    const stream = new PassThrough();
    const ch = createParentChannel(stream);
    const got = once(ch, 'error', { signal: AbortSignal.timeout(2000) });
    stream.write(frameOf(JSON.stringify({ type: 'log', msg: 'x'.repeat(1000 * 1000) })));
    const [err] = (await got) as [Error];
    assert.ok(err instanceof IpcProtocolError);
  });
});

void describe('channel safety net', () => {
  void test('a message listener that throws fails the channel with IpcProtocolError, never the process', async () => {
    const stream = new PassThrough();
    const ch = createParentChannel(stream);
    let delivered = 0;
    ch.on('message', () => {
      delivered += 1;
      throw new RangeError('Maximum call stack size exceeded');
    });
    const got = once(ch, 'error', { signal: AbortSignal.timeout(2000) });
    stream.write(Buffer.concat([encodeFrame({ type: 'ready' }), encodeFrame({ type: 'ready' })]));
    const [err] = (await got) as [Error];
    assert.ok(err instanceof IpcProtocolError);
    assert.match(err.message, /handling an IPC message failed: RangeError/);
    assert.equal(delivered, 1, 'nothing is delivered after the failure');
    assert.equal(ch.closed, true);
  });
});

/** A stream whose peer never reads: writes are accepted and queue up (writableLength grows). */
class Unread extends Duplex {
  override _write(): void {
    // Never calls back: nothing is ever taken.
  }
  override _read(): void {
    // Nothing to read.
  }
}

void describe('send backpressure', () => {
  void test('a peer that never reads fails the channel once 4 MiB are queued', async () => {
    const ch = createParentChannel(new Unread());
    const got = once(ch, 'error', { signal: AbortSignal.timeout(2000) });
    const value = 'z'.repeat(700 * 1024);
    let sent = 0;
    for (let i = 1; i <= 20 && ch.send({ type: 'tool_result', callId: i, ok: true, value }); i++) sent += 1;
    const [err] = (await got) as [Error];
    assert.ok(err instanceof IpcProtocolError);
    assert.match(err.message, /not reading its IPC stream/);
    assert.ok(sent >= 5 && sent < 7, `sent ${sent}`);
    assert.ok(ch.peakQueuedBytes > 4 * 1024 * 1024);
    assert.equal(ch.send({ type: 'abort', reason: 'x' }), false);
  });

  void test('a small limit applies per channel', async () => {
    const ch = createParentChannel(new Unread(), { maxQueuedBytes: 1000 });
    const got = once(ch, 'error', { signal: AbortSignal.timeout(2000) });
    assert.equal(ch.send({ type: 'abort', reason: 'a'.repeat(2000) }), false);
    await got;
  });
});

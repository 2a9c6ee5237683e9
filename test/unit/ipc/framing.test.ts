import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, decodeFrameBody, encodeFrame } from '../../../src/ipc/framing.js';
import { IpcProtocolError } from '../../../src/errors.js';

function frameOf(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  return Buffer.concat([header(body.length), body]);
}

function header(length: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length, 0);
  return b;
}

void describe('encodeFrame / FrameDecoder', () => {
  void test('round-trips messages, including several frames in one chunk', () => {
    const msgs = [{ type: 'ready' }, { type: 'log', msg: 'héllo ✓' }, { a: [1, 2, { b: null }] }];
    const dec = new FrameDecoder();
    assert.deepEqual(dec.push(Buffer.concat(msgs.map((m) => encodeFrame(m)))), msgs);
    assert.equal(dec.bufferedBytes, 0);
  });

  void test('reassembles a frame split at every byte boundary', () => {
    const msg = { type: 'tool_call', callId: 7, name: 'web_fetch', args: { url: 'https://x.test/é' } };
    const frame = encodeFrame(msg);
    for (let cut = 1; cut < frame.length; cut++) {
      const dec = new FrameDecoder();
      assert.deepEqual(dec.push(frame.subarray(0, cut)), []);
      assert.deepEqual(dec.push(frame.subarray(cut)), [msg]);
    }
  });

  void test('reassembles a frame delivered one byte at a time', () => {
    const msg = { type: 'result', ok: true, output: 'x'.repeat(1000) };
    const frame = encodeFrame(msg);
    const dec = new FrameDecoder();
    const got: unknown[] = [];
    for (const byte of frame) got.push(...dec.push(Buffer.from([byte])));
    assert.deepEqual(got, [msg]);
  });

  void test('refuses an oversized frame from its header alone, before the body arrives', () => {
    const dec = new FrameDecoder({ maxFrameBytes: 1024 });
    assert.throws(() => dec.push(header(1025)), IpcProtocolError);
  });

  void test('refuses a 4 GiB length header with the default limit', () => {
    const dec = new FrameDecoder();
    assert.throws(() => dec.push(header(0xffffffff)), /exceeds the maximum/);
  });

  void test('encodeFrame refuses a message over the limit', () => {
    assert.throws(() => encodeFrame({ s: 'x'.repeat(100) }, 50), IpcProtocolError);
  });

  void test('encodeFrame refuses values that are not JSON', () => {
    assert.throws(() => encodeFrame(undefined), IpcProtocolError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => encodeFrame(cyclic), IpcProtocolError);
    assert.throws(() => encodeFrame({ n: 10n }), IpcProtocolError);
  });

  const garbage: [string, Buffer][] = [
    ['a zero-length frame', header(0)],
    ['invalid JSON', frameOf('{nope')],
    ['invalid UTF-8', Buffer.concat([header(3), Buffer.from([0x22, 0xff, 0x22])])],
    ['a __proto__ key', frameOf('{"__proto__":{"x":true}}')],
    ['an escaped __proto__ key', frameOf('{"\\u005f_proto__":{"x":true}}')],
  ];
  for (const [name, bytes] of garbage) {
    void test(`rejects ${name} with IpcProtocolError`, () => {
      const dec = new FrameDecoder();
      assert.throws(
        () => dec.push(bytes),
        (err: unknown) => err instanceof IpcProtocolError && err.code === 'SG_IPC_PROTOCOL',
      );
    });
  }

  void test('stays poisoned after the first error, even for valid frames', () => {
    const dec = new FrameDecoder();
    assert.throws(() => dec.push(header(0)));
    assert.throws(() => dec.push(encodeFrame({ type: 'ready' })), IpcProtocolError);
  });

  void test('decodeFrameBody keeps ordinary escapes working', () => {
    assert.deepEqual(decodeFrameBody(Buffer.from('{"a":"\\u0041\\n"}')), { a: 'A\n' });
  });

  void test('rejects an invalid maxFrameBytes option', () => {
    assert.throws(() => new FrameDecoder({ maxFrameBytes: 0 }), RangeError);
    assert.throws(() => new FrameDecoder({ maxFrameBytes: 1.5 }), RangeError);
  });
});

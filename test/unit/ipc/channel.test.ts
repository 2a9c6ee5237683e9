import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { once } from 'node:events';
import type { IpcChannel } from '../../../src/ipc/channel.js';
import { createChildChannel, createParentChannel } from '../../../src/ipc/endpoints.js';
import { encodeFrame } from '../../../src/ipc/framing.js';
import type { ChildMessage, ParentMessage } from '../../../src/ipc/messages.js';
import { IpcProtocolError } from '../../../src/errors.js';

/** One end of an in-memory byte pipe: what is written to it is read from its peer. */
class PipeEnd extends Duplex {
  peer: PipeEnd | null = null;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.peer?.push(chunk);
    cb();
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.peer?.push(null);
    cb();
  }
  override _read(): void {
    // Data is pushed by the peer.
  }
}

/** Two cross-connected duplex streams (a real byte pipe, like a socketpair). */
function pair(): [PipeEnd, PipeEnd] {
  const a = new PipeEnd();
  const b = new PipeEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

function nextMessage<T>(ch: IpcChannel<T, unknown>): Promise<T> {
  return once(ch, 'message', { signal: AbortSignal.timeout(2000) }).then((args) => args[0] as T);
}

function nextError(ch: IpcChannel<unknown, unknown>): Promise<Error> {
  return once(ch, 'error', { signal: AbortSignal.timeout(2000) }).then((args) => args[0] as Error);
}

void describe('IpcChannel', () => {
  void test('delivers valid messages in both directions', async () => {
    const [a, b] = pair();
    const parent = createParentChannel(a);
    const child = createChildChannel(b);
    const start: ParentMessage = {
      type: 'start',
      id: 'sa-1',
      agent: 'worker',
      parent: 'main',
      task: { q: 1 },
      egress: { proxyUrl: 'http://u:p@127.0.0.1:9' },
      limits: { maxOutputBytes: 1000 },
    };
    const gotStart = nextMessage(child);
    parent.send(start);
    assert.deepEqual(await gotStart, start);
    const call: ChildMessage = { type: 'tool_call', callId: 1, name: 'web_fetch', args: { url: 'x' } };
    const gotCall = nextMessage(parent);
    child.send(call);
    assert.deepEqual(await gotCall, call);
    a.destroy();
    b.destroy();
  });

  const invalid: [string, unknown][] = [
    ['an unknown type', { type: 'exec', cmd: 'sh' }],
    ['an extra key', { type: 'ready', extra: 1 }],
    ['a non-integer callId', { type: 'tool_call', callId: 1.5, name: 'x', args: null }],
    ['a zero callId', { type: 'tool_call', callId: 0, name: 'x', args: null }],
    ['an empty tool name', { type: 'tool_call', callId: 1, name: '', args: null }],
    [
      'a result with both output and error',
      { type: 'result', ok: true, output: 1, error: { code: 'x', message: 'y' } },
    ],
    ['an oversized log line', { type: 'log', msg: 'x'.repeat(5000) }],
    ['a non-object', [1, 2, 3]],
    ['a parent-only message', { type: 'abort', reason: 'x' }],
  ];
  for (const [name, value] of invalid) {
    void test(`emits IpcProtocolError and destroys the stream on ${name}`, async () => {
      const [a, b] = pair();
      const parent = createParentChannel(a);
      let delivered = 0;
      parent.on('message', () => delivered++);
      const err = nextError(parent);
      b.write(encodeFrame(value));
      b.write(encodeFrame({ type: 'ready' }));
      const e = await err;
      assert.ok(e instanceof IpcProtocolError, String(e));
      assert.equal(e.code, 'SG_IPC_PROTOCOL');
      assert.equal(delivered, 0);
      assert.equal(parent.closed, true);
      assert.equal(parent.send({ type: 'abort', reason: 'x' }), false);
      b.destroy();
    });
  }

  void test('emits IpcProtocolError on an oversized frame and on raw garbage', async () => {
    for (const bytes of [Buffer.from([0x7f, 0, 0, 0, 1, 2]), Buffer.from('GET / HTTP/1.1\r\n\r\n')]) {
      const [a, b] = pair();
      const parent = createParentChannel(a, { maxFrameBytes: 4096 });
      const err = nextError(parent);
      b.write(bytes);
      assert.ok((await err) instanceof IpcProtocolError);
      b.destroy();
    }
  });

  void test('error messages do not echo message values', async () => {
    const [a, b] = pair();
    const parent = createParentChannel(a);
    const err = nextError(parent);
    b.write(encodeFrame({ type: 'ready', secret: 'hunter2-credential' }));
    assert.doesNotMatch((await err).message, /hunter2/);
    b.destroy();
  });

  void test('emits close once when the peer hangs up', async () => {
    const [a, b] = pair();
    const parent = createParentChannel(a);
    let closes = 0;
    parent.on('close', () => closes++);
    const closed = once(parent, 'close', { signal: AbortSignal.timeout(2000) });
    b.end();
    a.resume();
    await closed;
    await new Promise((r) => setImmediate(r));
    assert.equal(closes, 1);
    a.destroy();
  });
});

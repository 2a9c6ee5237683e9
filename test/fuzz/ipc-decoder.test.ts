/**
 * Fuzzes the IPC decoder and channel: random bytes and mutated valid frames, in random chunkings,
 * never crash the parent. Every outcome is a validated message or exactly one IpcProtocolError.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { IpcProtocolError } from '../../src/errors.js';
import {
  ChildMessageSchema,
  FrameDecoder,
  IpcChannel,
  encodeFrame,
  type ChildMessage,
} from '../../src/ipc/index.js';
import { check, runs } from '../helpers/security-fuzz.js';

const MAX_FRAME = 64 * 1024;

const json = fc.jsonValue({ maxDepth: 3 });
const childMessage: fc.Arbitrary<ChildMessage> = fc.oneof(
  fc.constant({ type: 'ready' as const }),
  fc.record({
    type: fc.constant('tool_call' as const),
    callId: fc.integer({ min: 1, max: 1e9 }),
    name: fc.string({ minLength: 1, maxLength: 20 }),
    args: json,
  }),
  fc.record({
    type: fc.constant('spawn' as const),
    callId: fc.integer({ min: 1, max: 1e9 }),
    agent: fc.string({ minLength: 1, maxLength: 20 }),
    task: json,
  }),
  fc.record({ type: fc.constant('log' as const), msg: fc.string({ maxLength: 50 }) }),
  fc.record({ type: fc.constant('result' as const), ok: fc.constant(true as const), output: json }),
  fc.record({ type: fc.constant('sandbox_violation' as const), detail: fc.string({ maxLength: 50 }) }),
);

/** Splits bytes at the given cut points. */
function chunk(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

/** Feeds chunks through a real IpcChannel; returns the messages and errors it emitted. */
async function throughChannel(chunks: readonly Buffer[]): Promise<{ messages: unknown[]; errors: Error[] }> {
  const stream = new PassThrough();
  const ch = new IpcChannel<ChildMessage, never>(stream, {
    schema: ChildMessageSchema,
    maxFrameBytes: MAX_FRAME,
  });
  const messages: unknown[] = [];
  const errors: Error[] = [];
  ch.on('message', (m) => messages.push(m));
  ch.on('error', (e) => errors.push(e));
  for (const c of chunks) if (!stream.destroyed) stream.write(c);
  await new Promise((r) => setImmediate(r));
  stream.destroy();
  return { messages, errors };
}

void describe('IPC decoder fuzz', () => {
  void test('random bytes give messages or one IpcProtocolError, and poison the decoder after it', async () => {
    await check(
      'ipc.random',
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const d = new FrameDecoder({ maxFrameBytes: MAX_FRAME });
        let failed = false;
        for (const c of chunk(Buffer.from(bytes), cuts)) {
          try {
            d.push(c);
          } catch (err) {
            assert.ok(err instanceof IpcProtocolError, `not an IpcProtocolError: ${String(err)}`);
            assert.equal(err.code, 'SG_IPC_PROTOCOL');
            failed = true;
            // Poisoned: every later push throws the same error.
            assert.throws(() => d.push(Buffer.from([0, 0, 0, 2, 123, 125])), IpcProtocolError);
            break;
          }
        }
        assert.ok(failed || d.bufferedBytes <= MAX_FRAME + 4);
      }),
      runs(500),
    );
  });

  void test('valid frames survive any chunking unchanged', async () => {
    await check(
      'ipc.roundtrip',
      fc.asyncProperty(
        fc.array(childMessage, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (msgs, cuts) => {
          const bytes = Buffer.concat(msgs.map((m) => encodeFrame(m, MAX_FRAME)));
          const r = await throughChannel(chunk(bytes, cuts));
          assert.deepEqual(r.errors, []);
          assert.deepEqual(r.messages, JSON.parse(JSON.stringify(msgs)));
        },
      ),
      runs(200),
    );
  });

  void test('mutated valid frames give validated messages or exactly one IpcProtocolError', async () => {
    let rejected = 0;
    await check(
      'ipc.mutated',
      fc.asyncProperty(
        fc.array(childMessage, { minLength: 1, maxLength: 3 }),
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.constantFrom('flip', 'insert', 'delete', 'length'),
            fc.integer({ min: 0, max: 255 }),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        fc.array(fc.nat(), { maxLength: 4 }),
        async (msgs, edits, cuts) => {
          const bytes = [...Buffer.concat(msgs.map((m) => encodeFrame(m, MAX_FRAME)))];
          for (const [at, op, v] of edits) {
            const i = at % Math.max(1, bytes.length);
            if (op === 'flip') bytes[i] = (bytes[i] ?? 0) ^ (v || 1);
            else if (op === 'insert') bytes.splice(i, 0, v);
            else if (op === 'delete') bytes.splice(i, 1);
            else bytes.splice(0, 4, 0, v, 0, 0);
          }
          const r = await throughChannel(chunk(Buffer.from(bytes), cuts));
          assert.ok(r.errors.length <= 1, 'more than one error');
          for (const e of r.errors) {
            assert.ok(e instanceof IpcProtocolError, `not an IpcProtocolError: ${String(e)}`);
            rejected++;
          }
          for (const m of r.messages)
            assert.ok(ChildMessageSchema.safeParse(m).success, 'an invalid message was delivered');
        },
      ),
      runs(300),
    );
    assert.ok(rejected > 50, `only ${rejected} mutations were rejected`);
  });

  void test('well-framed JSON that is not a protocol message is a protocol error', async () => {
    await check(
      'ipc.schema',
      fc.asyncProperty(json, async (v) => {
        const r = await throughChannel([encodeFrame(v, MAX_FRAME)]);
        if (ChildMessageSchema.safeParse(v).success) assert.equal(r.messages.length, 1);
        else {
          assert.equal(r.messages.length, 0);
          assert.equal(r.errors.length, 1);
          assert.ok(r.errors[0] instanceof IpcProtocolError);
        }
      }),
      runs(300),
    );
  });
});

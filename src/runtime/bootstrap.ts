/**
 * The program the launcher runs inside the sandbox: `node [permission flags] bootstrap.js <entry>`.
 *
 * It opens fd 3 as the IPC stream, says `ready`, waits for `start` (no user code is loaded before
 * that, so the parent can finish setting up the sandbox first), routes egress through the
 * gateway, imports the entry, runs its default export and sends exactly one `result`. Then it
 * exits: nothing the subagent left running survives it.
 */
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { IpcChannel } from '../ipc/channel.js';
import { encodeFrame } from '../ipc/framing.js';
import { MAX_OBJECT_KEYS, MAX_TEXT_LENGTH, MAX_VALUE_DEPTH } from '../ipc/limits.js';
import { jsonShapeProblem } from '../ipc/shape.js';
import type { ChildMessage, ParentMessage, StartMessage } from '../ipc/messages.js';
import { toError } from '../errors.js';
import { ParentClient } from './client.js';
import { setupEgress } from './egress.js';
import { parentMessageValidator } from './parent-messages.js';
import type { SubagentFunction } from './types.js';

const entry = process.argv[2];
const socket = new net.Socket({ fd: 3, readable: true, writable: true });
const channel = new IpcChannel<ParentMessage, ChildMessage>(socket, { schema: parentMessageValidator });
const client = new ParentClient(channel);
let finished = false;
let started = false;

const stringify: (value: unknown) => string | undefined = JSON.stringify;

/** `ERR_ACCESS_DENIED` (the permission model) or `ERR_DLOPEN_DISABLED` (`--no-addons`) anywhere in the cause chain. */
function accessDenied(err: unknown): string | null {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    // --no-addons refuses process.dlopen with its own code: the same kind of blocked act.
    if ('code' in e && e.code === 'ERR_DLOPEN_DISABLED') {
      const message = 'message' in e && typeof e.message === 'string' ? e.message : 'addons are disabled';
      return `ERR_DLOPEN_DISABLED: ${message}`.slice(0, MAX_TEXT_LENGTH);
    }
    if ('code' in e && e.code === 'ERR_ACCESS_DENIED') {
      const perm = 'permission' in e && typeof e.permission === 'string' ? e.permission : 'unknown';
      const resource =
        'resource' in e && typeof e.resource === 'string' && e.resource !== '' ? ` on ${e.resource}` : '';
      return `ERR_ACCESS_DENIED: ${perm}${resource}`.slice(0, MAX_TEXT_LENGTH);
    }
    e = 'cause' in e ? e.cause : undefined;
  }
  return null;
}

function describe(err: unknown): string {
  const e = toError(err);
  const text = e === err ? `${e.name}: ${e.message}` : `non-error thrown: ${e.message}`;
  return text.slice(0, 2000);
}

/** Flushes pending IPC writes, then exits. */
function exitAfterFlush(code: number): void {
  const timer = setTimeout(() => process.exit(code), 2000);
  timer.unref();
  socket.end(() => {
    process.exit(code);
  });
}

function finish(msg: ChildMessage, code: number): void {
  if (finished) return;
  finished = true;
  try {
    channel.send(msg);
  } catch {
    // Unframeable result: the caller already turned oversize/non-JSON into an error result.
  }
  exitAfterFlush(code);
}

function fail(err: unknown): void {
  if (finished) return;
  const denied = accessDenied(err);
  if (denied !== null) channel.send({ type: 'sandbox_violation', detail: denied });
  finish({ type: 'result', ok: false, error: { code: 'SG_SUBAGENT_FAILED', message: describe(err) } }, 1);
}

function sendOutput(output: unknown, maxOutputBytes: number): void {
  let text: string | undefined;
  try {
    // `undefined` (a function that returns nothing) is reported as null output.
    text = stringify(output === undefined ? null : output);
  } catch (err) {
    finish(
      {
        type: 'result',
        ok: false,
        error: { code: 'SG_SUBAGENT_OUTPUT', message: `output is not JSON: ${describe(err)}` },
      },
      1,
    );
    return;
  }
  if (text === undefined) {
    finish(
      { type: 'result', ok: false, error: { code: 'SG_SUBAGENT_OUTPUT', message: 'output is not JSON' } },
      1,
    );
    return;
  }
  // The parent refuses deeper frames before parsing them; say so here as an output error instead.
  const shape = jsonShapeProblem(text, { maxDepth: MAX_VALUE_DEPTH, maxKeys: MAX_OBJECT_KEYS });
  if (shape !== null) {
    finish(
      {
        type: 'result',
        ok: false,
        error: { code: 'SG_SUBAGENT_OUTPUT', message: `output refused: ${shape}` },
      },
      1,
    );
    return;
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxOutputBytes) {
    finish(
      {
        type: 'result',
        ok: false,
        error: {
          code: 'SG_SUBAGENT_OUTPUT',
          message: `output of ${bytes} bytes exceeds the limit of ${maxOutputBytes} bytes`,
        },
      },
      1,
    );
    return;
  }
  const msg: ChildMessage = { type: 'result', ok: true, output: JSON.parse(text) as unknown };
  try {
    encodeFrame(msg);
  } catch (err) {
    finish({ type: 'result', ok: false, error: { code: 'SG_SUBAGENT_OUTPUT', message: describe(err) } }, 1);
    return;
  }
  finish(msg, 0);
}

function isFunction(v: unknown): v is SubagentFunction {
  return typeof v === 'function';
}

async function run(start: StartMessage): Promise<void> {
  if (entry === undefined) throw new Error('bootstrap started without an entry path');
  setupEgress(start.egress, (msg) => {
    channel.send({ type: 'log', msg });
  });
  const mod: unknown = await import(pathToFileURL(entry).href);
  const fn = typeof mod === 'object' && mod !== null && 'default' in mod ? mod.default : undefined;
  if (!isFunction(fn)) throw new TypeError(`the entry ${entry} has no default-export function`);
  const ctx = client.context({ id: start.id, agent: start.agent, parent: start.parent, task: start.task });
  const output = await fn(start.task, ctx);
  sendOutput(output, start.limits.maxOutputBytes);
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

channel.on('message', (msg) => {
  if (msg.type !== 'start') {
    client.handle(msg);
    return;
  }
  if (started) return;
  started = true;
  run(msg).catch(fail);
});
// No parent, no point: exit at once (the parent may have crashed; nothing must keep running).
channel.on('error', () => process.exit(1));
channel.on('close', () => {
  client.failAll(new Error('the channel to the parent closed'));
  if (!finished) process.exit(1);
});

// undici is NOT warmed here: its load is synchronous and would only delay the first message;
// egress builds it on the first request (see egress.ts).
channel.send({ type: 'ready' });

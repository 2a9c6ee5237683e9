/**
 * The two typed ends of the protocol. Separate from channel.ts because these load the zod
 * schemas; the child runtime uses the generic channel with a lighter validator.
 */
import type { Duplex } from 'node:stream';
import { IpcChannel } from './channel.js';
import { LARGE_CHILD_FRAME_TYPES, MAX_BUFFERED_SEND_BYTES, MAX_SMALL_FRAME_BYTES } from './limits.js';
import {
  ChildMessageSchema,
  ParentMessageSchema,
  type ChildMessage,
  type ParentMessage,
} from './messages.js';

/**
 * The parent's end: receives {@link ChildMessage}s (zod-validated), sends {@link ParentMessage}s.
 * Only `result`, `tool_call` and `spawn` frames may exceed 64 KiB (`log` and the rest are refused
 * before decoding), and at most 4 MiB may wait unread by the child.
 */
export function createParentChannel(
  stream: Duplex,
  opts: { maxFrameBytes?: number; maxQueuedBytes?: number } = {},
): IpcChannel<ChildMessage, ParentMessage> {
  return new IpcChannel<ChildMessage, ParentMessage>(stream, {
    schema: ChildMessageSchema,
    small: { maxBytes: MAX_SMALL_FRAME_BYTES, largeTypes: LARGE_CHILD_FRAME_TYPES },
    maxQueuedBytes: MAX_BUFFERED_SEND_BYTES,
    ...opts,
  });
}

/** The child's end with zod validation: receives {@link ParentMessage}s, sends {@link ChildMessage}s. */
export function createChildChannel(
  stream: Duplex,
  opts: { maxFrameBytes?: number } = {},
): IpcChannel<ParentMessage, ChildMessage> {
  return new IpcChannel<ParentMessage, ChildMessage>(stream, { schema: ParentMessageSchema, ...opts });
}

/**
 * The two typed ends of the protocol. Separate from channel.ts because these load the zod
 * schemas; the child runtime uses the generic channel with a lighter validator.
 */
import type { Duplex } from 'node:stream';
import { IpcChannel } from './channel.js';
import {
  ChildMessageSchema,
  ParentMessageSchema,
  type ChildMessage,
  type ParentMessage,
} from './messages.js';

/** The parent's end: receives {@link ChildMessage}s (zod-validated), sends {@link ParentMessage}s. */
export function createParentChannel(
  stream: Duplex,
  opts: { maxFrameBytes?: number } = {},
): IpcChannel<ChildMessage, ParentMessage> {
  return new IpcChannel<ChildMessage, ParentMessage>(stream, { schema: ChildMessageSchema, ...opts });
}

/** The child's end with zod validation: receives {@link ParentMessage}s, sends {@link ChildMessage}s. */
export function createChildChannel(
  stream: Duplex,
  opts: { maxFrameBytes?: number } = {},
): IpcChannel<ParentMessage, ChildMessage> {
  return new IpcChannel<ParentMessage, ChildMessage>(stream, { schema: ParentMessageSchema, ...opts });
}

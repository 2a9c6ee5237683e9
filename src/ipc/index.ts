/**
 * The IPC protocol between the spawner and a subagent's runtime: length-prefixed JSON frames over
 * any duplex stream, validated with zod on receipt.
 */
export {
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  FRAME_SHAPE,
  FrameDecoder,
  decodeFrameBody,
  encodeFrame,
  type DecodedFrame,
  type FrameDecoderOptions,
} from './framing.js';
export { jsonShapeProblem, type ShapeLimits } from './shape.js';
export {
  IpcChannel,
  describeThrown,
  type IpcChannelEvents,
  type IpcChannelOptions,
  type MessageValidator,
} from './channel.js';
export { createChildChannel, createParentChannel } from './endpoints.js';
export * from './messages.js';
export * from './outcome.js';

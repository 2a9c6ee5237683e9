/**
 * Size limits shared by the broker and the built-in tools: one home, so a tool's own maximum can
 * never exceed what the broker will carry back to the subagent.
 */

import { MAX_PAYLOAD_BYTES } from '../ipc/limits.js';

/**
 * Largest serialised tool result the broker returns: the IPC payload cap (it travels in one frame
 * with its envelope). @default 786432 (768 KiB)
 */
export const MAX_TOOL_RESULT_BYTES = MAX_PAYLOAD_BYTES;

/**
 * Response-body bytes the parent holds at once for ONE subagent's concurrent `web_fetch` calls.
 * Each call reserves its `maxBytes` before it sends anything; a call that does not fit waits (within
 * its deadline) for earlier calls to finish. @default 2097152 (2 MiB)
 */
export const TOOL_BYTES_IN_FLIGHT_PER_SUBAGENT = 2 * 1024 * 1024;

/**
 * Bytes per second one subagent's built-in calls may make the parent process (response bodies
 * read by `web_fetch`, texts parsed by `sanitized_parse`), with a burst of
 * {@link TOOL_BYTES_BURST_PER_SUBAGENT}. Every byte costs the parent's event loop several passes
 * (read, decode, serialise, frame); pacing them bounds one subagent's share of that loop however
 * many calls it makes, so a sibling's calls keep their latency. @default 2097152 (2 MiB/s)
 */
export const TOOL_BYTES_PER_SECOND_PER_SUBAGENT = 2 * 1024 * 1024;
/** @default 1048576 (1 MiB) */
export const TOOL_BYTES_BURST_PER_SUBAGENT = 1024 * 1024;

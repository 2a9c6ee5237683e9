/**
 * Size limits shared by the broker and the built-in tools: one home, so a tool's own maximum can
 * never exceed what the broker will carry back to the subagent.
 */

/**
 * Largest serialised tool result the broker returns (it travels in one IPC frame of at most 1 MiB,
 * with its envelope). @default 786432 (768 KiB)
 */
export const MAX_TOOL_RESULT_BYTES = 768 * 1024;

/**
 * Response-body bytes the parent holds at once for ONE subagent's concurrent `web_fetch` calls.
 * Each call reserves its `maxBytes` before it sends anything; a call that does not fit waits (within
 * its deadline) for earlier calls to finish. @default 2097152 (2 MiB)
 */
export const TOOL_BYTES_IN_FLIGHT_PER_SUBAGENT = 2 * 1024 * 1024;

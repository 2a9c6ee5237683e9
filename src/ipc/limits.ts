/**
 * Size limits of IPC messages, shared by the zod schemas (parent) and the runtime (child), which
 * truncates to them before sending. Kept free of imports so the child can load it cheaply.
 */

/** Longest tool or agent name accepted on the wire. */
export const MAX_NAME_LENGTH = 256;
/** Longest `log` message, characters. Longer lines are a protocol violation; the runtime truncates first. */
export const MAX_LOG_MESSAGE_LENGTH = 4096;
/** Most keys in a `log` message's `fields`. */
export const MAX_LOG_FIELDS = 32;
/** Longest error code / `detail` / `reason` / error message carried on the wire. */
export const MAX_TEXT_LENGTH = 8192;

/**
 * Size limits of IPC messages, shared by the zod schemas and decoder (parent) and the runtime
 * (child), which keeps to them before sending. Kept free of imports so the child can load it cheaply.
 */

/** Longest tool or agent name accepted on the wire. */
export const MAX_NAME_LENGTH = 256;
/** Longest `log` message, characters. Longer lines are a protocol violation; the runtime truncates first. */
export const MAX_LOG_MESSAGE_LENGTH = 4096;
/** Most keys in a `log` message's `fields`. */
export const MAX_LOG_FIELDS = 32;
/**
 * Serialised `fields` of one `log` line, UTF-8 bytes. The runtime replaces larger fields with
 * `{ fields_truncated: true }` before sending; the parent writes a marker for anything larger.
 */
export const MAX_LOG_FIELDS_BYTES = 4096;
/** Longest error code / `detail` / `reason` / error message carried on the wire. */
export const MAX_TEXT_LENGTH = 8192;
/**
 * Longest error message the parent hands a child (a failed tool call, a nested spawn that could
 * not start): enough to say what went wrong, short enough that a handler cannot relay bulk data.
 */
export const MAX_ERROR_MESSAGE_TO_CHILD = 1000;

/**
 * Deepest nesting of any value a subagent hands over (result output, tool arguments, spawn task,
 * log fields), counting each array or object as one level. The runtime refuses deeper values
 * before sending them.
 */
export const MAX_VALUE_DEPTH = 64;
/**
 * Deepest nesting of a whole frame. Checked by a linear scan of the frame's bytes before
 * JSON.parse, so nothing recursive (JSON.stringify, zod, pino) ever sees a deeper value. The
 * margin over {@link MAX_VALUE_DEPTH} covers the envelopes a value is carried in (a nested
 * subagent's output inside an Outcome inside a `spawn_result`).
 */
export const MAX_FRAME_DEPTH = MAX_VALUE_DEPTH + 8;
/** Most keys in any one object of a frame (zod and the audit log iterate them). */
export const MAX_OBJECT_KEYS = 10_000;

/** Largest frame body of any kind, bytes (1 MiB). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/**
 * Largest serialised value carried back to a subagent or out of one in a single frame: a
 * subagent's output (`result`) and a tool's result (`tool_result`). Leaves a quarter of
 * {@link MAX_FRAME_BYTES} for the envelope and JSON escaping. @default 786432 (768 KiB)
 */
export const MAX_PAYLOAD_BYTES = 768 * 1024;
/**
 * Largest frame body of the child -> parent message types that carry no bulk data (`ready`,
 * `log`, `sandbox_violation`), bytes. A `log` line is at most 4,096 characters (6 bytes each when
 * JSON-escaped) plus {@link MAX_LOG_FIELDS_BYTES} of fields, so 64 KiB is ample; only the types in
 * {@link LARGE_CHILD_FRAME_TYPES} may be larger, and they must say so in the first bytes of the
 * frame (`{"type":"result"`), so a large frame of another type is refused before it is decoded.
 */
export const MAX_SMALL_FRAME_BYTES = 64 * 1024;
/** Child -> parent message types that may use frames up to {@link MAX_FRAME_BYTES}. */
export const LARGE_CHILD_FRAME_TYPES: readonly string[] = Object.freeze(['result', 'tool_call', 'spawn']);

/**
 * Bytes the parent may have queued, unsent, towards one child (answers the child has not read).
 * A child that stops reading its IPC stream while calls keep being answered reaches it and ends
 * with `protocol_violation`.
 */
export const MAX_BUFFERED_SEND_BYTES = 4 * 1024 * 1024;

/**
 * `log` lines written to the audit log over one subagent's life; later lines are dropped and
 * counted, so one run cannot fill the audit sink however slowly it logs.
 */
export const MAX_LOG_LINES_PER_RUN = 1000;

/** Sustained `log` lines per second a subagent may send; lines over the rate are dropped and counted. */
export const LOG_LINES_PER_SECOND = 100;
/** Lines a subagent may send in a burst above {@link LOG_LINES_PER_SECOND}. */
export const LOG_BURST_LINES = 500;
/**
 * A flood far beyond the rate is a `protocol_violation`: every `log` frame, written or dropped,
 * costs the parent a decode and a validation (~20 µs for a short line), so dropping alone does not
 * bound the parent's work. Frames are counted against a second, much larger bucket: this many
 * lines per second with a burst of {@link LOG_FLOOD_BURST_LINES}; and likewise in bytes.
 * A subagent that logs below 1,000 lines/s only loses lines; one that logs in a tight loop ends
 * after about 10,000 lines.
 */
export const LOG_FLOOD_LINES_PER_SECOND = 1000;
/** See {@link LOG_FLOOD_LINES_PER_SECOND}. */
export const LOG_FLOOD_BURST_LINES = 10_000;
/** `log` frame bytes per second beyond which (after the burst) a subagent floods. */
export const LOG_FLOOD_BYTES_PER_SECOND = 1024 * 1024;
/** See {@link LOG_FLOOD_BYTES_PER_SECOND}. */
export const LOG_FLOOD_BURST_BYTES = 8 * 1024 * 1024;

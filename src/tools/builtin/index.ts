import type { BuiltinToolDefinition } from '../types.js';
import { sanitizedParseTool } from './sanitized-parse.js';
import { webFetchTool } from './web-fetch.js';

export { sanitizedParse, jsonDepth, SANITIZED_PARSE_LIMITS } from './sanitized-parse.js';
export { WEB_FETCH_LIMITS } from './web-fetch.js';

/** Built-in tools, by canonical name. A subagent still needs them in `tools_allowed`. */
export const BUILTIN_TOOLS: Readonly<Record<string, BuiltinToolDefinition>> = Object.freeze({
  web_fetch: webFetchTool,
  sanitized_parse: sanitizedParseTool,
});

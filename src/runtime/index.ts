/**
 * `subagent-guard/runtime`: what a subagent's entry module imports. Deliberately tiny: it is
 * loaded inside the sandbox on every spawn.
 *
 * @example
 * import { defineSubagent } from 'subagent-guard/runtime';
 * export default defineSubagent(async (task: { url: string }, ctx) => {
 *   const page = await ctx.tools.call('web_fetch', { url: task.url });
 *   return { length: JSON.stringify(page).length };
 * });
 */
import type { SubagentFunction } from './types.js';

export {
  SubagentCallError,
  type Outcome,
  type SubagentContext,
  type SubagentFunction,
  type SubagentTools,
} from './types.js';

/**
 * Declares a subagent. Identity at runtime; it only adds types, so a plain
 * `export default async (task, ctx) => { ... }` is an equally valid entry.
 */
export function defineSubagent<T = unknown, R = unknown>(fn: SubagentFunction<T, R>): SubagentFunction<T, R> {
  return fn;
}

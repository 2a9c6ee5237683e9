/**
 * Validation of parent -> child messages inside the child, without zod (loading zod would add
 * ~80 ms to every spawn). The parent is the trusted side, so this is a consistency check that
 * turns a broken parent into a clean exit rather than a crash deep in user code.
 */
import type { ParentMessage } from '../ipc/messages.js';

type Result = { success: true; data: ParentMessage } | { success: false; error: { issues: Issue[] } };
interface Issue {
  path: PropertyKey[];
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCallId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isWireError = (v: unknown): v is { code: string; message: string } =>
  isObject(v) && typeof v.code === 'string' && typeof v.message === 'string';

function hasOnly(o: Record<string, unknown>, keys: readonly string[]): boolean {
  return Object.keys(o).every((k) => keys.includes(k));
}

function check(v: unknown): ParentMessage | string {
  if (!isObject(v)) return 'message is not an object';
  switch (v.type) {
    case 'start': {
      const { id, agent, parent, egress, limits } = v;
      if (!hasOnly(v, ['type', 'id', 'agent', 'parent', 'task', 'egress', 'limits'])) return 'unexpected key';
      if (typeof id !== 'string' || typeof agent !== 'string' || typeof parent !== 'string')
        return 'bad names';
      if (!isObject(egress) || typeof egress.proxyUrl !== 'string') return 'bad egress';
      if (egress.socketPath !== undefined && typeof egress.socketPath !== 'string') return 'bad socketPath';
      if (
        egress.httpProxyPort !== undefined &&
        !(typeof egress.httpProxyPort === 'number' && Number.isInteger(egress.httpProxyPort))
      ) {
        return 'bad httpProxyPort';
      }
      if (!isObject(limits) || !isCallId(limits.maxOutputBytes)) return 'bad limits';
      return {
        type: 'start',
        id,
        agent,
        parent,
        task: v.task,
        egress: {
          proxyUrl: egress.proxyUrl,
          ...(typeof egress.socketPath === 'string' ? { socketPath: egress.socketPath } : {}),
          ...(typeof egress.httpProxyPort === 'number' ? { httpProxyPort: egress.httpProxyPort } : {}),
        },
        limits: { maxOutputBytes: limits.maxOutputBytes },
      };
    }
    case 'tool_result':
      if (!isCallId(v.callId)) return 'bad callId';
      if (v.ok === true) return { type: 'tool_result', callId: v.callId, ok: true, value: v.value };
      if (v.ok === false && isWireError(v.error)) {
        return { type: 'tool_result', callId: v.callId, ok: false, error: v.error };
      }
      return 'bad tool_result';
    case 'spawn_result':
      if (!isCallId(v.callId)) return 'bad callId';
      if (isWireError(v.error)) return { type: 'spawn_result', callId: v.callId, error: v.error };
      if ('outcome' in v) return { type: 'spawn_result', callId: v.callId, outcome: v.outcome };
      return 'bad spawn_result';
    case 'abort':
      return typeof v.reason === 'string' ? { type: 'abort', reason: v.reason } : 'bad abort';
    default:
      return 'unknown type';
  }
}

/** A zod-compatible validator (`safeParse`) for {@link ParentMessage}. */
export const parentMessageValidator = {
  safeParse(value: unknown): Result {
    const r = check(value);
    return typeof r === 'string'
      ? { success: false, error: { issues: [{ path: [], message: r }] } }
      : { success: true, data: r };
  },
};

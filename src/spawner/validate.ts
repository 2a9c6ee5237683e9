import { ISOLATION_REQUESTS } from '../sandbox/types.js';
import { SpawnerError } from '../errors.js';
import { MAX_OBJECT_KEYS, MAX_VALUE_DEPTH } from '../ipc/limits.js';
import { jsonShapeProblem } from '../ipc/shape.js';
import type { OrchestratorOptions, SpawnRequest } from './types.js';

const ISOLATION = new Set<string>(ISOLATION_REQUESTS);

function bad(what: string): never {
  throw new SpawnerError('SG_ORCHESTRATOR_INVALID_OPTIONS', `createOrchestrator(): ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/**
 * Checks the options' shape. The config itself is trusted to come from loadConfig/parseConfig
 * (a frozen, normalised model); here we only make sure it is one, so a raw openclaw.json object
 * passed by mistake fails loudly instead of running with undefined policies.
 */
export function validateOrchestratorOptions(opts: unknown): asserts opts is OrchestratorOptions {
  if (!isRecord(opts)) bad('options must be an object');
  const config = opts['config'];
  if (!isRecord(config)) bad('`config` is required (use loadConfig or parseConfig)');
  if (!isRecord(config['agents']) || !isRecord(config['gateway']) || !isRecord(config['audit'])) {
    bad(
      '`config` is not a normalised config: pass the result of loadConfig()/parseConfig(), not the raw JSON',
    );
  }
  if (typeof config['baseDir'] !== 'string') bad('`config.baseDir` must be a string');
  const iso = opts['isolation'];
  if (iso !== undefined && (typeof iso !== 'string' || !ISOLATION.has(iso))) {
    bad(`\`isolation\` must be one of ${ISOLATION_REQUESTS.map((r) => `'${r}'`).join(', ')}`);
  }
  const tools = opts['tools'];
  if (tools !== undefined && !isRecord(tools)) bad('`tools` must be an object of tool definitions');
  const resolver = opts['resolver'];
  if (resolver !== undefined && typeof resolver !== 'function') bad('`resolver` must be a function');
  const logger = opts['logger'];
  if (logger !== undefined && (!isRecord(logger) || typeof logger['info'] !== 'function')) {
    bad('`logger` must be a pino logger');
  }
  const maxQueued = opts['maxQueued'];
  if (
    maxQueued !== undefined &&
    (typeof maxQueued !== 'number' || !Number.isInteger(maxQueued) || maxQueued < 0)
  ) {
    bad('`maxQueued` must be an integer >= 0');
  }
  const warn = opts['warnWeakerIsolation'];
  if (warn !== undefined && typeof warn !== 'boolean') bad('`warnWeakerIsolation` must be a boolean');
  const runAs = opts['runAs'];
  const id = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 31;
  if (
    runAs !== undefined &&
    !(isRecord(runAs) && id(runAs['uid']) && id(runAs['gid']) && runAs['uid'] !== 0)
  ) {
    bad('`runAs` must be { uid, gid } with a non-zero uid (integers below 2^31)');
  }
}

/** Checks a spawn request's shape (names, entry, signal). */
export function checkRequest(req: unknown): asserts req is SpawnRequest {
  const bad = (what: string): never => {
    throw new SpawnerError('SG_SPAWN_INVALID_REQUEST', `spawn(): ${what}`);
  };
  if (typeof req !== 'object' || req === null) bad('the request must be an object');
  const r = req as Record<string, unknown>;
  if (typeof r['parent'] !== 'string' || r['parent'] === '') bad('`parent` must be a non-empty string');
  if (typeof r['agent'] !== 'string' || r['agent'] === '') bad('`agent` must be a non-empty string');
  if (r['entry'] !== undefined && (typeof r['entry'] !== 'string' || r['entry'] === ''))
    bad('`entry` must be a non-empty string');
  if (r['signal'] !== undefined && !(r['signal'] instanceof AbortSignal))
    bad('`signal` must be an AbortSignal');
}

/** A task must be JSON (it crosses the IPC boundary) and bounded in size. */
export function checkTask(task: unknown): void {
  // JSON.stringify is typed as returning string, but returns undefined for functions/symbols.
  let text: unknown;
  try {
    text = JSON.stringify(task);
  } catch (err) {
    throw new SpawnerError('SG_SPAWN_INVALID_REQUEST', 'spawn(): `task` is not JSON-serialisable', {
      cause: err,
    });
  }
  if (typeof text !== 'string' && task !== undefined) {
    throw new SpawnerError('SG_SPAWN_INVALID_REQUEST', 'spawn(): `task` is not JSON-serialisable');
  }
  const shape =
    typeof text === 'string'
      ? jsonShapeProblem(text, { maxDepth: MAX_VALUE_DEPTH, maxKeys: MAX_OBJECT_KEYS })
      : null;
  if (shape !== null) {
    // The child's decoder would refuse the start message: say so to the caller instead.
    throw new SpawnerError('SG_SPAWN_INVALID_REQUEST', `spawn(): \`task\` refused: ${shape}`);
  }
  const size = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : 0;
  if (size > 512 * 1024) {
    throw new SpawnerError(
      'SG_SPAWN_INVALID_REQUEST',
      `spawn(): \`task\` is ${size} bytes; at most 524288 are accepted`,
    );
  }
}

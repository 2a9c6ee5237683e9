/**
 * Reading a configuration file: JSON or JSON5 (by content, whatever the extension: OpenClaw's own
 * openclaw.json is JSON5), with parse errors reported as file:line:col.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import JSON5 from 'json5';
import { ConfigReadError, errorMessage } from '../errors.js';
import { parseConfig } from './parse.js';
import type { GuardConfig } from './types.js';

/** A configuration file is small; anything larger is refused before it is read into memory. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** A file's parsed content, before validation. */
export interface ConfigDocument {
  /** Absolute path of the file. */
  readonly source: string;
  /** Its directory: what relative paths in it are resolved against. */
  readonly baseDir: string;
  /** The parsed JSON/JSON5 value. */
  readonly value: unknown;
  /** Which syntax parsed it. */
  readonly syntax: 'json' | 'json5';
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/**
 * Reads and parses a configuration file without validating it.
 *
 * @throws ConfigReadError (`SG_CONFIG_READ`) when the file is missing, unreadable, too large or not JSON/JSON5.
 */
export async function readConfigFile(path: string): Promise<ConfigDocument> {
  const source = resolve(path);
  let text: string;
  try {
    const st = await stat(source);
    if (!st.isFile())
      throw new ConfigReadError(`cannot read config file ${source}: it is not a regular file`);
    if (st.size > MAX_CONFIG_BYTES) {
      throw new ConfigReadError(
        `cannot read config file ${source}: ${st.size} bytes is more than ${MAX_CONFIG_BYTES}`,
      );
    }
    text = await readFile(source, 'utf8');
  } catch (err) {
    if (err instanceof ConfigReadError) throw err;
    const code = errnoCode(err);
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? 'unreadable');
    throw new ConfigReadError(`cannot read config file ${source}: ${why}`, {
      cause: err,
      details: { path: source, ...(code === undefined ? {} : { errno: code }) },
    });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const baseDir = dirname(source);
  try {
    return { source, baseDir, value: JSON.parse(text) as unknown, syntax: 'json' };
  } catch {
    // Not strict JSON: comments, trailing commas and unquoted keys are JSON5 (OpenClaw's format).
  }
  try {
    return { source, baseDir, value: JSON5.parse(text), syntax: 'json5' };
  } catch (err) {
    const line =
      typeof err === 'object' && err !== null && 'lineNumber' in err ? Number(err.lineNumber) : NaN;
    const col =
      typeof err === 'object' && err !== null && 'columnNumber' in err ? Number(err.columnNumber) : NaN;
    const raw = errorMessage(err);
    const reason = raw.replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '');
    const where = Number.isFinite(line) && Number.isFinite(col) ? `${source}:${line}:${col}` : source;
    throw new ConfigReadError(`${where}: not valid JSON or JSON5: ${reason}`, {
      cause: err,
      details: { path: source, ...(Number.isFinite(line) ? { line, column: col } : {}) },
    });
  }
}

/**
 * Reads, validates and normalises a configuration file (JSON or JSON5, either input shape).
 * Relative paths in it are resolved against the file's directory.
 *
 * @throws ConfigReadError (`SG_CONFIG_READ`) when the file cannot be read or parsed.
 * @throws ConfigError (`SG_CONFIG_INVALID`) listing every problem with its JSON pointer.
 * @example const config = await loadConfig('./openclaw.json');
 */
export async function loadConfig(path: string): Promise<GuardConfig> {
  const doc = await readConfigFile(path);
  return parseConfig(doc.value, { source: doc.source, baseDir: doc.baseDir });
}

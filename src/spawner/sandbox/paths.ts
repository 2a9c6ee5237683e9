/**
 * Where things are: the compiled runtime, the packages it needs, and the user entry's package.
 * These become the only `--allow-fs-read` paths and (under bubblewrap) the only read-only binds.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpawnerError } from '../../errors.js';

/** Absolute path of the compiled child bootstrap (`<dist or build/src>/runtime/bootstrap.js`). */
export const runtimeBootstrapPath: string = fileURLToPath(
  new URL('../../runtime/bootstrap.js', import.meta.url),
);

/** The compiled source root (`dist/` or `build/src/`): the runtime imports only files below it. */
export const compiledRoot: string = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

function readName(pkgJson: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(pkgJson, 'utf8'));
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'name' in parsed &&
      typeof parsed.name === 'string'
    ) {
      return parsed.name;
    }
  } catch {
    // Unreadable or invalid package.json: treated as unnamed.
  }
  return undefined;
}

/** Walks up from `start` to the first directory holding a package.json (optionally with that name). */
export function findPackageDir(start: string, name?: string): string | undefined {
  let dir = start;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (name === undefined || readName(pj) === name)) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * Files and directories the child runtime must read: the compiled sources, this package's
 * package.json (the loader reads it to learn the module type) and undici (the egress dispatcher).
 * Computed once; realpaths, because the permission model and bind mounts see resolved paths.
 */
export function runtimeReadPaths(): readonly string[] {
  if (cachedRuntimePaths !== undefined) return cachedRuntimePaths;
  const paths = [realpathSync(compiledRoot)];
  const pkgDir = findPackageDir(compiledRoot);
  if (pkgDir !== undefined) paths.push(realpathSync(join(pkgDir, 'package.json')));
  const undiciMain = createRequire(import.meta.url).resolve('undici');
  const undiciDir = findPackageDir(dirname(undiciMain), 'undici');
  if (undiciDir === undefined)
    throw new SpawnerError('SG_SANDBOX_LAUNCH', 'cannot locate the undici package');
  paths.push(realpathSync(undiciDir));
  cachedRuntimePaths = Object.freeze(paths);
  return cachedRuntimePaths;
}
let cachedRuntimePaths: readonly string[] | undefined;

/**
 * The directory the user entry may read: its nearest package directory, else its own directory.
 * Everything below it becomes readable by the child, so agents belong in their own package, away
 * from secrets such as `.env` files.
 */
export function entryReadDir(entry: string): string {
  if (!isAbsolute(entry)) {
    throw new SpawnerError('SG_SANDBOX_ENTRY', `subagent entry must be an absolute path, got "${entry}"`);
  }
  let real: string;
  try {
    real = realpathSync(entry);
  } catch (err) {
    throw new SpawnerError('SG_SANDBOX_ENTRY', `subagent entry ${entry} does not exist or is unreadable`, {
      cause: err,
    });
  }
  const dir = findPackageDir(dirname(real)) ?? dirname(real);
  if (dir === '/') {
    throw new SpawnerError(
      'SG_SANDBOX_ENTRY',
      `subagent entry ${entry} would make the whole filesystem readable; put it in a directory with its own package.json`,
    );
  }
  return dir;
}

/**
 * Node 20 splits `--allow-fs-read` values on commas and treats `*` as a wildcard; a path with
 * either would widen what the child may read, so such paths are refused.
 */
export function assertSafePermissionPath(path: string): void {
  if (/[,*\n\0]/.test(path)) {
    throw new SpawnerError(
      'SG_SANDBOX_ENTRY',
      `path ${JSON.stringify(path)} contains a comma, "*" or control character, which the Node permission model would misread; move it`,
    );
  }
}

/**
 * Where things are: the compiled runtime, the packages it needs, the user entry's own directory and explicit grants.
 * These become the only `--allow-fs-read` paths and (under bubblewrap) the only read-only binds.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GuardConfig } from '../config/types.js';
import { SpawnerError } from '../errors.js';

/** Absolute path of the compiled child bootstrap (`<dist or build/src>/runtime/bootstrap.js`). */
export const runtimeBootstrapPath: string = fileURLToPath(
  new URL('../runtime/bootstrap.js', import.meta.url),
);

/** The compiled source root (`dist/` or `build/src/`): the runtime imports only files below it. */
export const compiledRoot: string = fileURLToPath(new URL('../', import.meta.url)).replace(/\/$/, '');

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

/** A symlink Node's resolver walks through (pnpm's layout), and the realpath it leads to. */
export interface ResolverLink {
  /** The symlink's own path, as the resolver reaches it. */
  readonly link: string;
  /** Its realpath. */
  readonly target: string;
}

/**
 * The symlinks of the `node_modules/<name>` Node's resolver finds first walking up from
 * `fromDir` (pnpm links every package from `.pnpm/`; npm installs real directories: none). The resolver
 * realpaths what it finds, and the permission model checks that call against the symlink's own
 * path, so granting only realpaths breaks every import through a link (ERR_ACCESS_DENIED).
 */
export function resolverLinks(fromDir: string, name: string): ResolverLink[] {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    let exists = false;
    try {
      lstatSync(candidate);
      exists = true;
    } catch {
      // Not here: keep walking up, as the resolver does.
    }
    if (exists) return linkChain(candidate);
    if (dirname(dir) === dir) return [];
  }
}

/** Every symlink from `path` to its realpath (a link may lead to another link), each with the final target. */
function linkChain(path: string): ResolverLink[] {
  let target: string;
  try {
    target = realpathSync(path);
  } catch {
    return []; // dangling: the resolver skips it too
  }
  const out: ResolverLink[] = [];
  for (let cur = path, hops = 0; hops < 32 && lstatSync(cur).isSymbolicLink(); hops++) {
    out.push({ link: cur, target });
    cur = resolve(dirname(cur), readlinkSync(cur));
  }
  return out;
}

/**
 * The symlinks the child's imports go through: undici from the runtime, and `subagent-guard`
 * from the entry when that link leads to this very package. Empty in npm's flat layout.
 */
export function runtimeLinks(entryDir?: string): readonly ResolverLink[] {
  // This package's own install does not move under a running process: its undici links, once.
  cachedUndiciLinks ??= Object.freeze(resolverLinks(realpathSync(compiledRoot), 'undici'));
  const out = [...cachedUndiciLinks];
  if (entryDir !== undefined) {
    const pkgDir = findPackageDir(compiledRoot);
    const self = resolverLinks(entryDir, 'subagent-guard');
    if (pkgDir !== undefined && self[0]?.target === realpathSync(pkgDir)) out.push(...self);
  }
  return out;
}

let cachedUndiciLinks: readonly ResolverLink[] | undefined;

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
 * The directory the user entry may read: the entry's own directory (never its package root,
 * which is typically the app root with `.env`, the config and the audit log in it).
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
  const dir = dirname(real);
  if (dir === '/') {
    throw new SpawnerError(
      'SG_SANDBOX_ENTRY',
      `subagent entry ${entry} would make the whole filesystem readable; put it in a directory of its own`,
    );
  }
  return dir;
}

/**
 * Names that are never readable by a child: environment files, VCS and package-manager
 * credentials, key material. Matched against every name below a read grant.
 */
export const SECRET_NAME =
  /^(?:\.env(?:\..*)?|\.git|\.git-credentials|\.npmrc|credentials\.json|\.htpasswd|\.yarnrc(?:\.yml)?|\.netrc|\.pypirc|\.pgpass|\.ssh|\.aws|\.gnupg|\.docker|\.kube|id_(?:rsa|dsa|ecdsa|ed25519)|.*\.(?:pem|key|p12|pfx|jks|keystore|kdbx))$/i;

/** Entries examined per grant before it is refused as too large to vouch for. */
const MAX_GRANT_ENTRIES = 10_000;

function inside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Realpath of `p`, or of its nearest existing ancestor joined with the rest (for files not yet created). */
function realish(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const up = dirname(p);
    return up === p ? p : join(realish(up), basename(p));
  }
}

function refuse(grant: string, why: string, path: string): never {
  throw new SpawnerError(
    'SG_SANDBOX_READ_GRANT',
    `read grant ${grant} ${why} (${path}); a subagent may read only its own code and explicit grants: move the agent into a directory of its own or narrow the grant`,
    { details: { grant, path } },
  );
}

/**
 * Refuses a read grant (file or directory, realpath) that would expose a protected file (the
 * config, the audit log), a secret by name ({@link SECRET_NAME}) or, through a symlink, anything
 * outside the grant. `node_modules` directories are not descended into (package code); the walk
 * is bounded and runs on libuv's thread pool, so a large grant does not block the event loop.
 *
 * @throws SpawnerError `SG_SANDBOX_READ_GRANT`
 */
export async function assertSafeGrant(grant: string, protectedPaths: readonly string[]): Promise<void> {
  for (const p of protectedPaths) {
    const real = realish(p);
    if (inside(real, grant)) refuse(grant, 'contains a protected file', real);
  }
  if (SECRET_NAME.test(basename(grant))) refuse(grant, 'is a secret file', grant);
  if (!(await stat(grant)).isDirectory()) return;
  const stack = [grant];
  let seen = 0;
  for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (++seen > MAX_GRANT_ENTRIES) {
        refuse(grant, `holds more than ${MAX_GRANT_ENTRIES} entries to check`, dir);
      }
      const full = join(dir, e.name);
      if (SECRET_NAME.test(e.name)) refuse(grant, 'contains a secret file', full);
      if (e.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(full);
        } catch {
          continue; // dangling: leads nowhere
        }
        if (!inside(target, grant)) refuse(grant, `holds a symlink to ${target}, outside it`, full);
      } else if (e.isDirectory() && e.name !== 'node_modules') {
        stack.push(full);
      }
    }
  }
}

/** Inputs of {@link agentReadPaths}. */
export interface AgentReadOptions {
  /** Extra files or directories the config grants explicitly (absolute). */
  readonly grants?: readonly string[];
  /** The config file and the audit log: no grant may contain them. */
  readonly protectedPaths?: readonly string[];
}

/**
 * What a subagent may read besides the runtime: its entry's own directory, the nearest
 * `package.json` above it (only that file: the loader reads it for the module type), and the
 * explicit grants, each checked with {@link assertSafeGrant}. Realpaths, deduplicated.
 *
 * @throws SpawnerError `SG_SANDBOX_ENTRY` for a bad entry, `SG_SANDBOX_READ_GRANT` for an unsafe grant.
 */
export async function agentReadPaths(entry: string, opts: AgentReadOptions = {}): Promise<string[]> {
  const dir = entryReadDir(entry);
  const protectedPaths = opts.protectedPaths ?? [];
  const out = [dir];
  for (const g of opts.grants ?? []) {
    let real: string;
    try {
      real = await realpath(g);
    } catch (err) {
      throw new SpawnerError('SG_SANDBOX_READ_GRANT', `read grant ${g} does not exist`, { cause: err });
    }
    if (real === '/') refuse(g, 'is the whole filesystem', real);
    out.push(real);
  }
  for (const g of out) await assertSafeGrant(g, protectedPaths);
  const pkg = findPackageDir(dir);
  if (pkg !== undefined && !inside(pkg, dir)) {
    const pj = realpathSync(join(pkg, 'package.json'));
    if (!protectedPaths.some((p) => realish(p) === pj) && lstatSync(pj).isFile()) out.push(pj);
  }
  return [...new Set(out)];
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

/** Files of the app that no subagent may read: the config file (when loaded from one) and the audit log. */
export function configProtectedPaths(config: GuardConfig): string[] {
  const out: string[] = [];
  if (config.source !== undefined && isAbsolute(config.source) && existsSync(config.source)) {
    out.push(config.source);
  }
  if (config.audit.path !== undefined) out.push(resolve(config.baseDir, config.audit.path));
  return out;
}

/** What `check` reports per agent: the paths it may read, or why its grant is refused. */
export type AgentReads =
  { readonly paths: readonly string[] } | { readonly code: string; readonly error: string };

/**
 * The read grants of every agent with an entry, as the launcher would compute them (runtime
 * paths included), or the refusal the launcher would raise.
 */
export async function configReadGrants(config: GuardConfig): Promise<Record<string, AgentReads>> {
  const protectedPaths = configProtectedPaths(config);
  const out: Record<string, AgentReads> = {};
  for (const [name, agent] of Object.entries(config.agents)) {
    if (agent.role !== 'subagent' || agent.entry === undefined) continue;
    try {
      out[name] = {
        paths: [
          ...new Set([
            ...runtimeReadPaths(),
            ...(await agentReadPaths(agent.entry, { protectedPaths, grants: agent.readPaths ?? [] })),
            ...runtimeLinks(entryReadDir(agent.entry)).map((l) => l.link),
          ]),
        ],
      };
    } catch (err) {
      if (!(err instanceof SpawnerError)) throw err;
      out[name] = { code: err.code, error: err.message };
    }
  }
  return out;
}

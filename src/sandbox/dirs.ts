/**
 * Private per-sandbox directories on the host: one 0700 directory holding the scratch dir and the
 * gateway socket, so teardown is a single recursive removal and other local users cannot reach
 * the socket.
 */
import { lstatSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpawnerError } from '../errors.js';

const PREFIX = 'sg-';
const OWNER_FILE = 'owner';

/** `pid:starttime` of a live process (start time in clock ticks since boot), or null if it is gone. */
export function ownerToken(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces and parentheses); starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[19];
    return start === undefined ? null : `${pid}:${start}`;
  } catch {
    return null;
  }
}

let ownTag: string | undefined;

/**
 * This process's owner marker for names that cannot hold a file (cgroups): `pid-starttime`, so a
 * sweep can tell a dead owner from a live one and from a later process that reused the pid.
 */
export function ownerTag(): string {
  ownTag ??= (ownerToken(process.pid) ?? `${process.pid}:0`).replace(':', '-');
  return ownTag;
}

/**
 * Removes sandbox directories left behind by orchestrators that no longer run (killed outright,
 * so their teardown never happened). A directory is removed only when it is a real directory
 * (not a symlink) owned by this user, carries our owner marker, and the process named there is
 * gone or is another process that reused its pid. Returns the paths removed.
 */
export function sweepStaleSandboxDirs(base: string = tmpdir()): string[] {
  const removed: string[] = [];
  const uid = process.getuid?.();
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return removed;
  }
  for (const name of entries) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(base, name);
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      const owner = readFileSync(join(dir, OWNER_FILE), 'utf8').trim();
      const pid = Number(owner.split(':')[0]);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      if (ownerToken(pid) === owner) continue; // its orchestrator still runs
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Not ours (no marker), or it vanished meanwhile: leave it.
    }
  }
  return removed;
}

/** Paths for one sandbox; pass `root` as `LaunchSpec.ownedDir` so `dispose()` removes it. */
export interface SandboxDirs {
  readonly root: string;
  readonly scratchDir: string;
  /** Where the gateway should `listenUnix` for this subagent (short: the sun_path limit is 108 bytes). */
  readonly gatewaySocketPath: string;
}

function layout(root: string): SandboxDirs {
  const scratchDir = join(root, 'scratch');
  const gatewaySocketPath = join(root, 'gw.sock');
  if (Buffer.byteLength(gatewaySocketPath) > 100) {
    throw new SpawnerError(
      'SG_SANDBOX_LAUNCH',
      `gateway socket path ${gatewaySocketPath} is too long for a Unix socket; use a shorter base directory`,
    );
  }
  return { root, scratchDir, gatewaySocketPath };
}

let ownMarker: string | undefined;

/**
 * Who owns a sandbox directory: an orchestrator killed outright cannot delete its sandboxes'
 * directories; the next one finds them through this marker (pid + start time, so a reused pid is
 * not mistaken). This process's own, read once.
 */
function ownerMarker(): string {
  ownMarker ??= `${ownerToken(process.pid) ?? process.pid}\n`;
  return ownMarker;
}

/** Creates `<base>/sg-<id>-XXXXXX/` (mode 0700) with `scratch/` in it. */
export function createSandboxDirs(id: string, base: string = tmpdir()): SandboxDirs {
  const root = mkdtempSync(join(base, `${PREFIX}${id.slice(0, 24)}-`));
  try {
    const dirs = layout(root);
    writeFileSync(join(root, OWNER_FILE), ownerMarker(), { mode: 0o600 });
    mkdirSync(dirs.scratchDir, { mode: 0o700 });
    return dirs;
  } catch (err) {
    // The caller never learns the path of a directory it could not use: remove it here.
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

/**
 * {@link createSandboxDirs} without blocking the event loop (the file system calls run on libuv's
 * thread pool): the launcher's path, so a burst of spawns does not stall the gateway and timers.
 */
export async function createSandboxDirsAsync(id: string, base: string = tmpdir()): Promise<SandboxDirs> {
  const root = await mkdtemp(join(base, `${PREFIX}${id.slice(0, 24)}-`));
  try {
    const dirs = layout(root);
    await writeFile(join(root, OWNER_FILE), ownerMarker(), { mode: 0o600 });
    await mkdir(dirs.scratchDir, { mode: 0o700 });
    return dirs;
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

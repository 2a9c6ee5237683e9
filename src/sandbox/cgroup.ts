/**
 * Kernel memory limits through cgroups. A cgroup is created for each sandbox below the cgroup
 * this process already lives in (never beside it: that would escape whatever limit our own
 * supervisor set), the limit is written before the child exists, and the child enters it itself
 * through a shim before it execs anything (so no byte is ever allocated outside the limit).
 */
import { mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoCode } from './proc.js';
import type { CgroupVersion } from './types.js';

/** Where per-sandbox cgroups can be created, as found by probing. */
export interface CgroupBase {
  readonly version: CgroupVersion;
  /** Directory under which `<id>` cgroups are created. */
  readonly dir: string;
}

interface Mount {
  readonly point: string;
  readonly fstype: string;
  readonly superOptions: string[];
}

function readMounts(): Mount[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const point = left[4];
    const fstype = right[0];
    if (point === undefined || fstype === undefined) continue;
    out.push({ point: point.replace(/\\040/g, ' '), fstype, superOptions: (right[2] ?? '').split(',') });
  }
  return out;
}

/** `/proc/self/cgroup` lines: hierarchy id, controllers, path. */
function readOwnCgroups(): { controllers: string[]; path: string }[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const first = l.indexOf(':');
      const second = l.indexOf(':', first + 1);
      return { controllers: l.slice(first + 1, second).split(','), path: l.slice(second + 1) };
    });
}

/** Our own cgroup directory under `mount`, or the mount root inside a cgroup namespace. */
function ownDir(mount: string, path: string): string {
  const candidate = join(mount, path);
  return existsSync(candidate) ? candidate : mount;
}

function tryBase(dir: string, version: CgroupVersion): CgroupBase | null {
  const probe = join(dir, `probe-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(dir, { recursive: true });
    if (version === 'v2') {
      // cgroup v2 only offers memory.max in a child if the parent delegates the controller.
      const controllers = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8');
      if (!controllers.split(/\s+/).includes('memory'))
        writeFileSync(join(dir, 'cgroup.subtree_control'), '+memory');
    }
    mkdirSync(probe);
    writeFileSync(
      join(probe, version === 'v2' ? 'memory.max' : 'memory.limit_in_bytes'),
      String(64 * 1024 * 1024),
    );
    return { version, dir };
  } catch {
    return null;
  } finally {
    try {
      rmdirSync(probe);
    } catch {
      // The probe was never created.
    }
  }
}

/**
 * Finds a place to create memory cgroups: v2 if this process's cgroup delegates the memory
 * controller, else v1 if the memory hierarchy is writable, else null (RSS polling only).
 */
export function probeCgroup(details: Record<string, string>): CgroupBase | null {
  const mounts = readMounts();
  const own = readOwnCgroups();
  const v2mount = mounts.find((m) => m.fstype === 'cgroup2');
  const v2own = own.find((c) => c.controllers.length === 1 && c.controllers[0] === '');
  if (v2mount !== undefined && v2own !== undefined) {
    let hasMemory = false;
    try {
      hasMemory = readFileSync(join(v2mount.point, 'cgroup.controllers'), 'utf8')
        .split(/\s+/)
        .includes('memory');
    } catch {
      hasMemory = false;
    }
    if (hasMemory) {
      const base = tryBase(join(ownDir(v2mount.point, v2own.path), 'subagent-guard'), 'v2');
      if (base !== null) {
        details.cgroup = `v2 at ${base.dir}`;
        return base;
      }
    }
  }
  const v1mount = mounts.find((m) => m.fstype === 'cgroup' && m.superOptions.includes('memory'));
  const v1own = own.find((c) => c.controllers.includes('memory'));
  if (v1mount !== undefined) {
    const base = tryBase(join(ownDir(v1mount.point, v1own?.path ?? '/'), 'subagent-guard'), 'v1');
    if (base !== null) {
      details.cgroup = `v1 at ${base.dir}`;
      return base;
    }
  }
  details.cgroup = 'none usable (memory enforced by RSS polling and the V8 heap cap)';
  return null;
}

/** One sandbox's memory cgroup. */
export class MemoryCgroup {
  readonly version: CgroupVersion;
  #dir: string;
  #removed = false;

  private constructor(version: CgroupVersion, dir: string) {
    this.version = version;
    this.#dir = dir;
  }

  /** The cgroup directory (changes once if the cgroup is renamed for the sandbox that claims it). */
  get dir(): string {
    return this.#dir;
  }

  /**
   * Creates `<base>/<name>` with the limit set (or none yet when `limitBytes` is null: a parked
   * launcher's cgroup, limited by {@link setLimit} before anything but the shim runs in it).
   * Throws if the cgroup cannot be created or limited: the caller falls back to polling only when
   * the base was never usable, not on a partial setup.
   */
  static create(base: CgroupBase, name: string, limitBytes: number | null): MemoryCgroup {
    const dir = join(base.dir, name);
    mkdirSync(dir);
    const cg = new MemoryCgroup(base.version, dir);
    try {
      if (limitBytes !== null) cg.setLimit(limitBytes);
    } catch (err) {
      cg.remove();
      throw err;
    }
    return cg;
  }

  /**
   * {@link create} without blocking the event loop (mkdir and the limit writes run on libuv's
   * thread pool; cgroupfs writes can wait in the kernel). Resolves only once the limit is set:
   * nothing can run in the cgroup before that.
   */
  static async createAsync(base: CgroupBase, name: string, limitBytes: number): Promise<MemoryCgroup> {
    const dir = join(base.dir, name);
    await mkdir(dir);
    const cg = new MemoryCgroup(base.version, dir);
    try {
      await cg.#setLimitAsync(limitBytes);
    } catch (err) {
      await cg.removeAsync();
      throw err;
    }
    return cg;
  }

  async #setLimitAsync(limitBytes: number): Promise<void> {
    const tryWrite = (file: string, value: string): Promise<void> =>
      writeFile(join(this.#dir, file), value).catch(() => undefined);
    if (this.version === 'v2') {
      await writeFile(join(this.#dir, 'memory.max'), String(limitBytes));
      await tryWrite('memory.swap.max', '0');
      await tryWrite('memory.oom.group', '1');
    } else {
      await tryWrite('memory.memsw.limit_in_bytes', String(limitBytes));
      await writeFile(join(this.#dir, 'memory.limit_in_bytes'), String(limitBytes));
      await tryWrite('memory.memsw.limit_in_bytes', String(limitBytes));
      await tryWrite('memory.swappiness', '0');
    }
  }

  /**
   * Sets the memory limit (and no swap beyond it). Throws if the limit itself cannot be written;
   * the optional knobs are best effort.
   */
  setLimit(limitBytes: number): void {
    if (this.version === 'v2') {
      writeFileSync(join(this.#dir, 'memory.max'), String(limitBytes));
      // Swap would let the sandbox exceed its limit without an OOM kill.
      this.#tryWrite('memory.swap.max', '0');
      this.#tryWrite('memory.oom.group', '1');
    } else {
      // memsw must stay >= the memory limit: lowering goes memory first, raising memsw first.
      this.#tryWrite('memory.memsw.limit_in_bytes', String(limitBytes));
      writeFileSync(join(this.#dir, 'memory.limit_in_bytes'), String(limitBytes));
      this.#tryWrite('memory.memsw.limit_in_bytes', String(limitBytes));
      this.#tryWrite('memory.swappiness', '0');
    }
  }

  /**
   * Renames the cgroup within its parent (allowed while processes are in it), so a claimed parked
   * cgroup carries the sandbox id like any other. Returns false (name unchanged) on failure.
   */
  rename(name: string): boolean {
    const to = join(dirname(this.#dir), name);
    try {
      renameSync(this.#dir, to);
      this.#dir = to;
      return true;
    } catch {
      return false;
    }
  }

  /** The file a process writes its own pid into to join. */
  get procsFile(): string {
    return join(this.dir, 'cgroup.procs');
  }

  /** Pids currently in the cgroup. */
  pids(): number[] {
    try {
      return readFileSync(this.procsFile, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map(Number)
        .filter((n) => Number.isSafeInteger(n) && n > 0);
    } catch {
      return [];
    }
  }

  /**
   * Resident memory charged to the cgroup, bytes: anonymous plus shared memory (memory.stat;
   * reclaimable file cache left out, as RSS leaves it out). Null if it cannot be read.
   */
  residentBytes(): number | null {
    try {
      const stat = readFileSync(join(this.#dir, 'memory.stat'), 'utf8');
      const keys = this.version === 'v2' ? ['anon', 'shmem'] : ['total_rss', 'total_shmem'];
      let sum = 0;
      for (const key of keys) {
        const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(stat);
        if (m === null) return null;
        sum += Number(m[1]);
      }
      return sum;
    } catch {
      return null;
    }
  }

  /** Whether the kernel OOM-killed a process of this cgroup. */
  oomKilled(): boolean {
    try {
      const file = this.version === 'v2' ? 'memory.events' : 'memory.oom_control';
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(this.#dir, file), 'utf8'));
      return m !== null && Number(m[1]) > 0;
    } catch {
      return false;
    }
  }

  /** Removes the cgroup (it must be empty: call after every process exited). Idempotent. */
  remove(): boolean {
    if (this.#removed) return true;
    try {
      rmdirSync(this.dir);
      this.#removed = true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') this.#removed = true;
    }
    return this.#removed;
  }

  /** {@link remove} without blocking the event loop (a v1 memory cgroup's rmdir can take milliseconds). */
  async removeAsync(): Promise<boolean> {
    if (this.#removed) return true;
    try {
      await rmdir(this.dir);
      this.#removed = true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') this.#removed = true;
    }
    return this.#removed;
  }

  #tryWrite(file: string, value: string): void {
    try {
      writeFileSync(join(this.#dir, file), value);
    } catch {
      // Optional knob missing on this kernel (no swap accounting, older kernel).
    }
  }
}

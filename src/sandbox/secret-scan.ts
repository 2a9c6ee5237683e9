/**
 * A bounded look for secret-looking files under the paths a subagent may read, for `doctor`.
 * Names only ({@link SECRET_NAME}): no file is opened, so nothing of a secret can be printed.
 */
import { lstatSync, readdirSync, type Dirent } from 'node:fs';
import { basename, join } from 'node:path';
import { SECRET_NAME } from './paths.js';

/** Bounds of one scan. */
export interface SecretScanLimits {
  /** Directory levels below each root that are read. @default 8 */
  readonly maxDepth?: number;
  /** Directory entries examined across all roots before the scan stops. @default 20000 */
  readonly maxEntries?: number;
}

/** What a scan found. */
export interface SecretScan {
  /** Secret-looking paths (files or directories such as `.ssh/`), each under one of the roots. */
  readonly found: readonly string[];
  /** Directory entries examined. */
  readonly entries: number;
  /**
   * Why the scan is incomplete, if it is: the entry or depth bound was reached, or a directory
   * could not be listed. A truncated scan that found nothing proves nothing.
   */
  readonly incomplete: readonly string[];
}

/**
 * Lists secret-looking names under each root (a root that is itself such a file counts). Symlinks
 * are reported by name but never followed; `node_modules` directories are not descended into
 * (package code, as for the spawner's own grant check).
 */
export function scanForSecrets(roots: readonly string[], limits: SecretScanLimits = {}): SecretScan {
  const maxDepth = limits.maxDepth ?? 8;
  const maxEntries = limits.maxEntries ?? 20_000;
  const found = new Set<string>();
  const incomplete: string[] = [];
  let entries = 0;
  for (const root of roots) {
    if (SECRET_NAME.test(basename(root))) found.add(root);
    let isDir = false;
    try {
      isDir = lstatSync(root).isDirectory();
    } catch {
      continue; // gone or unreadable: nothing to scan
    }
    if (!isDir) continue;
    const stack: { dir: string; depth: number }[] = [{ dir: root, depth: 0 }];
    for (let cur = stack.pop(); cur !== undefined; cur = stack.pop()) {
      let list: Dirent[];
      try {
        list = readdirSync(cur.dir, { withFileTypes: true });
      } catch (err) {
        incomplete.push(`cannot list ${cur.dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        continue;
      }
      for (const e of list) {
        if (++entries > maxEntries) {
          incomplete.push(`stopped after ${maxEntries} entries (in ${cur.dir})`);
          return { found: [...found], entries: maxEntries, incomplete };
        }
        const full = join(cur.dir, e.name);
        if (SECRET_NAME.test(e.name)) found.add(full);
        else if (e.isDirectory() && e.name !== 'node_modules') {
          if (cur.depth + 1 > maxDepth) incomplete.push(`not below depth ${maxDepth}: ${full}`);
          else stack.push({ dir: full, depth: cur.depth + 1 });
        }
      }
    }
  }
  return { found: [...found], entries, incomplete };
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'tsconfig.test.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package root above ${start}`);
    dir = up;
  }
  return dir;
}

/** The repository root (works from test/ sources and from their compiled copies in build/test). */
export const repoRoot: string = findRoot(dirname(fileURLToPath(import.meta.url)));
/** test/fixtures in the source tree (fixtures are not compiled). */
export const fixturesDir: string = join(repoRoot, 'test', 'fixtures');

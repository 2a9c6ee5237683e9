/**
 * Private per-sandbox directories on the host: one 0700 directory holding the scratch dir and the
 * gateway socket, so teardown is a single recursive removal and other local users cannot reach
 * the socket.
 */
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpawnerError } from '../../errors.js';

/** Paths for one sandbox; pass `root` as `LaunchSpec.ownedDir` so `dispose()` removes it. */
export interface SandboxDirs {
  readonly root: string;
  readonly scratchDir: string;
  /** Where the gateway should `listenUnix` for this subagent (short: the sun_path limit is 108 bytes). */
  readonly gatewaySocketPath: string;
}

/** Creates `<base>/sg-<id>-XXXXXX/` (mode 0700) with `scratch/` in it. */
export function createSandboxDirs(id: string, base: string = tmpdir()): SandboxDirs {
  const root = mkdtempSync(join(base, `sg-${id.slice(0, 24)}-`));
  const scratchDir = join(root, 'scratch');
  mkdirSync(scratchDir, { mode: 0o700 });
  const gatewaySocketPath = join(root, 'gw.sock');
  if (Buffer.byteLength(gatewaySocketPath) > 100) {
    throw new SpawnerError(
      'SG_SANDBOX_LAUNCH',
      `gateway socket path ${gatewaySocketPath} is too long for a Unix socket; use a shorter base directory`,
    );
  }
  return { root, scratchDir, gatewaySocketPath };
}

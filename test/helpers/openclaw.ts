// The pinned OpenClaw release installed by `node scripts/setup-openclaw.mjs` (tools/openclaw),
// run with the Node >= 24.16 it recorded. Tests that need it skip with a reason when it is absent;
// .ci/run always installs it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export const openclawDir: string = join(repoRoot, 'tools', 'openclaw', 'node_modules', 'openclaw');
export const openclawEntry: string = join(openclawDir, 'openclaw.mjs');
const node24File = join(repoRoot, 'tools', 'openclaw', 'node24.path');

export interface OpenclawInstall {
  /** Node >= 24.16 binary. */
  readonly node: string;
  /** tools/openclaw/node_modules/openclaw/openclaw.mjs */
  readonly entry: string;
  /** The package directory (docs/, dist/). */
  readonly dir: string;
  readonly version: string;
}

/** The installed OpenClaw, or a reason it is unavailable (pass it to t.skip). */
export function findOpenclaw(): OpenclawInstall | { readonly skip: string } {
  const setup = 'OpenClaw is not installed here (run `node scripts/setup-openclaw.mjs`)';
  if (!existsSync(openclawEntry) || !existsSync(node24File)) return { skip: setup };
  const node = process.env.SG_NODE24 ?? readFileSync(node24File, 'utf8').trim();
  if (!existsSync(node)) return { skip: `${setup}: ${node} is gone` };
  const pkg = JSON.parse(readFileSync(join(openclawDir, 'package.json'), 'utf8')) as { version: string };
  return { node, entry: openclawEntry, dir: openclawDir, version: pkg.version };
}

export interface OpenclawResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `openclaw <args>` with an isolated HOME and state directory and OPENCLAW_CONFIG_PATH set to
 * `configPath` (when given). Bounded by `timeoutMs`.
 */
export function runOpenclaw(
  oc: OpenclawInstall,
  args: readonly string[],
  opts: { configPath?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<OpenclawResult> {
  const home = mkdtempSync(join(tmpdir(), 'sg-openclaw-'));
  mkdirSync(join(home, 'state'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    OPENCLAW_STATE_DIR: join(home, 'state'),
    NO_COLOR: '1',
    ...(opts.configPath ? { OPENCLAW_CONFIG_PATH: opts.configPath } : {}),
    ...opts.env,
  };
  return new Promise((resolve) => {
    execFile(
      oc.node,
      [oc.entry, ...args],
      { env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        rmSync(home, { recursive: true, force: true });
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface OpenclawValidation {
  readonly valid: boolean;
  /** OpenClaw's own issues: `path` is dotted (e.g. `agents.entries.a`). */
  readonly issues: readonly { readonly path: string; readonly message: string }[];
  readonly raw: unknown;
  readonly stderr: string;
}

/** `openclaw config validate --json` on a config object or file. */
export async function openclawValidate(oc: OpenclawInstall, config: unknown): Promise<OpenclawValidation> {
  let path: string;
  let cleanup = (): void => undefined;
  if (typeof config === 'string') path = config;
  else {
    const dir = mkdtempSync(join(tmpdir(), 'sg-openclaw-cfg-'));
    path = join(dir, 'openclaw.json');
    writeFileSync(path, JSON.stringify(config, null, 2));
    cleanup = () => {
      rmSync(dir, { recursive: true, force: true });
    };
  }
  try {
    const r = await runOpenclaw(oc, ['config', 'validate', '--json'], { configPath: path });
    const start = r.stdout.indexOf('{');
    if (start < 0) throw new Error(`openclaw config validate printed no JSON (exit ${r.code}): ${r.stderr}`);
    const raw = JSON.parse(r.stdout.slice(start)) as { valid?: unknown; issues?: unknown };
    const issues = Array.isArray(raw.issues) ? (raw.issues as { path: string; message: string }[]) : [];
    return { valid: raw.valid === true && r.code === 0, issues, raw, stderr: r.stderr };
  } finally {
    cleanup();
  }
}

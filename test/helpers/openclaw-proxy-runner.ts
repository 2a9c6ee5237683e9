/**
 * One run of OpenClaw's own proxy lifecycle (`startProxy` from the pinned package's dist) against
 * `subagent-guard gateway serve`. Started by test/integration/openclaw-proxy.test.ts under Node 24
 * inside `unshare -Urnpfm` with /etc/hosts bind-mounted, so nothing can leave this namespace and
 * `api.allowed.test` / `blocked.test` resolve to 127.0.0.2 for the gateway's system resolver.
 *
 * argv: <openclaw dist dir> <config file> <audit file> <loopbackMode> <origin port>
 * Prints one JSON line with what each fetch got and every audit record.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './paths.js';

const [distDir = '', configPath = '', auditPath = '', loopbackMode = '', originPortText = ''] =
  process.argv.slice(2);
const originPort = Number(originPortText);
const CRED = 'OpenclawProcess_Cred_0123456789abcdef';

async function findStartProxy(): Promise<(c: object) => Promise<{ stop(): Promise<void> } | null>> {
  for (const f of readdirSync(distDir).filter((n) => /^proxy-lifecycle-.*\.mjs$/.test(n))) {
    const mod = (await import(pathToFileURL(join(distDir, f)).href)) as Record<string, unknown>;
    for (const v of Object.values(mod)) {
      if (typeof v === 'function' && v.name === 'startProxy')
        return v as (c: object) => Promise<{ stop(): Promise<void> } | null>;
    }
  }
  throw new Error(`no startProxy in ${distDir}/proxy-lifecycle-*.mjs`);
}

function listen(host: string, port: number, body: string): Promise<{ hits: () => number; close(): void }> {
  let hits = 0;
  const s = createServer((_req, res) => {
    hits++;
    res.end(body);
  });
  return new Promise((resolve) =>
    s.listen(port, host, () => {
      resolve({ hits: () => hits, close: () => s.close() });
    }),
  );
}

async function attempt(url: string): Promise<{ status?: number; body?: string; error?: string }> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: r.status, body: await r.text() };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return { error: `${String(err)}${cause instanceof Error ? ` / ${cause.message}` : ''}` };
  }
}

const allowedOrigin = await listen('127.0.0.2', originPort, 'allowed');
// The same port on 127.0.0.1: a loopback service only the port and the address tell apart.
const loopbackService = await listen('127.0.0.1', originPort, 'loopback');
const serve = spawn(
  process.execPath,
  [
    join(repoRoot, 'build', 'src', 'cli', 'main.js'),
    'gateway',
    'serve',
    '--config',
    configPath,
    '--listen',
    '127.0.0.1:0',
  ],
  {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SUBAGENT_GUARD_CRED_OPENCLAW: CRED },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
let out = '';
serve.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
serve.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
const deadline = Date.now() + 10_000;
while (!/proxy for openclaw/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const gwPort = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
if (gwPort === undefined) throw new Error(`gateway serve did not start: ${out}`);

const startProxy = await findStartProxy();
const handle = await startProxy({
  enabled: true,
  proxyUrl: `http://openclaw:${CRED}@127.0.0.1:${gwPort}`,
  loopbackMode,
});
const result = {
  mode: loopbackMode,
  active: handle !== null,
  allowed: await attempt(`http://api.allowed.test:${originPort}/`),
  refused: await attempt(`http://blocked.test:${originPort}/`),
  loopback: await attempt(`http://127.0.0.1:${originPort}/`),
  loopbackHits: loopbackService.hits(),
  allowedHits: allowedOrigin.hits(),
  audit: [] as unknown[],
  serveOut: out,
};
await handle?.stop();
serve.kill('SIGTERM');
await new Promise((r) => serve.once('close', r));
allowedOrigin.close();
loopbackService.close();
result.audit = readFileSync(auditPath, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as unknown);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);

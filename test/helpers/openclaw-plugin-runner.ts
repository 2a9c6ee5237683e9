/**
 * One real `openclaw gateway run` with the subagent-guard plugin loaded from unpacked `npm pack`
 * output (plugins.load.paths), driven through the Gateway's tool-invoke HTTP API as two agents.
 * Started by test/integration/openclaw-plugin.test.ts under Node 24 inside `unshare -Urnpfm`:
 * only this namespace's loopback exists, and when this process (PID 1 there) exits, every process
 * it started dies with it.
 *
 * argv: <openclaw.mjs> <config file> <audit file> <home dir> <gateway port> <origin port> <token>
 * Prints one JSON line with every answer, the origin hits and every audit record.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

const [
  entry = '',
  configPath = '',
  auditPath = '',
  home = '',
  gwPortText = '',
  originPortText = '',
  token = '',
] = process.argv.slice(2);
const gwPort = Number(gwPortText);
const originPort = Number(originPortText);
const started = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function origin(host: string, body: string): Promise<{ server: Server; hits: () => number }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
  return new Promise((resolve) => {
    server.listen(originPort, host, () => {
      resolve({ server, hits: () => hits });
    });
  });
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> | null;
}

async function invoke(body: Record<string, unknown>): Promise<Answer> {
  try {
    const res = await fetch(`http://127.0.0.1:${gwPort}/tools/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> | null = null;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { raw: text.slice(0, 2000) };
    }
    return { status: res.status, body: parsed };
  } catch (err) {
    return { status: 0, body: { error: String(err) } };
  }
}

const allowedOrigin = await origin('127.0.0.2', '{"hello":"allowed","__proto__":{"polluted":true}}');
const forbiddenOrigin = await origin('127.0.0.3', '{"secret":"must not leave"}');

const gatewayOut: string[] = [];
const state = { exited: false };
function startGateway(): ReturnType<typeof spawn> {
  state.exited = false;
  const child = spawn(process.execPath, [entry, 'gateway', 'run'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      OPENCLAW_STATE_DIR: join(home, 'state'),
      OPENCLAW_CONFIG_PATH: configPath,
      TMPDIR: join(home, 'tmp'),
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => gatewayOut.push(d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => gatewayOut.push(d));
  child.once('exit', () => {
    state.exited = true;
  });
  return child;
}

// Up once the tool-invoke API answers a real call (it refuses some during startup). OpenClaw gives
// its state lease 5 s to start; on a loaded machine a start can miss that and exit: start again.
let gateway = startGateway();
let attempts = 1;
let ready: Answer = { status: 0, body: null };
const deadline = Date.now() + 240_000;
while (Date.now() < deadline) {
  if (state.exited) {
    if (attempts >= 3) break;
    attempts++;
    gateway = startGateway();
  }
  ready = await invoke({ tool: 'sessions_list', args: {}, agentId: 'researcher' });
  if (ready.status === 200) break;
  await sleep(ready.status === 0 ? 500 : 1000);
}
const startupMs = Date.now() - started;

const result: Record<string, unknown> = { startupMs, attempts, ready };
if (ready.status === 200) {
  result.allowed = ready;
  result.hostNetwork = await invoke({
    tool: 'web_fetch',
    args: { url: `http://127.0.0.2:${originPort}/` },
    agentId: 'researcher',
  });
  result.helperDenied = await invoke({ tool: 'session_status', args: {}, agentId: 'helper' });
  result.fetchAllowed = await invoke({
    tool: 'guarded_fetch',
    args: { url: `http://127.0.0.2:${originPort}/data` },
    agentId: 'researcher',
  });
  result.fetchRefused = await invoke({
    tool: 'guarded_fetch',
    args: { url: `http://127.0.0.3:${originPort}/secret` },
    agentId: 'researcher',
  });
  result.helperFetch = await invoke({
    tool: 'guarded_fetch',
    args: { url: `http://127.0.0.2:${originPort}/data` },
    agentId: 'helper',
  });
  result.spawns = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      invoke({
        tool: 'sessions_spawn',
        args: { task: 'reply with one word', agentId: 'helper' },
        agentId: 'researcher',
        idempotencyKey: `spawn-${i}`,
      }),
    ),
  );
}
result.allowedHits = allowedOrigin.hits();
result.forbiddenHits = forbiddenOrigin.hits();

gateway.kill('SIGTERM');
const stopBy = Date.now() + 10_000;
while (!state.exited && Date.now() < stopBy) await sleep(100);
result.gatewayExited = state.exited;
if (!state.exited) gateway.kill('SIGKILL');
allowedOrigin.server.close();
forbiddenOrigin.server.close();
result.gatewayOut = gatewayOut.join('').slice(-6000);
result.audit = existsSync(auditPath)
  ? readFileSync(auditPath, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as unknown)
  : [];
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);

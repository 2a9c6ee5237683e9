/**
 * Runs `gateway validate` against a deliberately OPEN forward proxy. Started by
 * test/integration/gateway-cli.test.ts ONLY inside a network namespace of its own
 * (`unshare -Urn`), so even an open proxy has nothing to reach but this namespace's loopback.
 * Prints one JSON line: { code, report }.
 */
import { createServer } from 'node:http';
import { gateway } from '../../src/cli/commands/gateway.js';
import { startOpenProxy } from './gateway-open-proxy.js';
import { listen } from './gateway.js';

const open = await startOpenProxy();
const origin = createServer((_req, res) => res.end('allowed'));
const originPort = await listen(origin, '127.0.0.3');
let out = '';
const code = await gateway(
  [
    'validate',
    '--proxy-url',
    `http://u:pw-secret@127.0.0.1:${open.port}`,
    '--allowed-url',
    `http://127.0.0.3:${originPort}/`,
    '--timeout',
    '2s',
    '--json',
  ],
  {
    stdout: { write: (c: string) => (out += c) },
    stderr: { write: (c: string) => (out += c) },
    env: {},
    cwd: process.cwd(),
    stopSignal: new Promise<void>(() => undefined),
  },
);
await open.close();
origin.close();
process.stdout.write(`${JSON.stringify({ code, report: JSON.parse(out) as unknown, raw: out })}\n`);

/**
 * Child process for the inspector tests: an orchestrator (at the given level, with Node's
 * inspector port moved to `port` so the test never depends on 9229) that runs one subagent,
 * prints its outcome as one JSON line, then `ready`, then closes when its stdin ends, signals itself once more after close(), and exits 0.
 * The audit log goes to stderr (JSON lines).
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/index.js';
import { createOrchestrator } from '../../src/spawner/index.js';
import type { IsolationLevel } from '../../src/spawner/index.js';

const [level, entry, port] = process.argv.slice(2);
if (level === undefined || entry === undefined || port === undefined)
  throw new Error('usage: inspector-host LEVEL ENTRY PORT');
process.debugPort = Number(port);
const config = parseConfig(
  {
    agents: {
      main: { role: 'parent', subagents: { allowAgents: ['hostile'], maxConcurrent: 1, maxChildren: 1 } },
      hostile: { entry, constraints: { timeout_seconds: 20 } },
    },
  },
  { source: 'inspector test' },
);
const orchestrator = await createOrchestrator({
  config,
  isolation: level as IsolationLevel,
  logger: pino({ level: 'info' }, process.stderr),
});
const outcome = await orchestrator.run({ parent: 'main', agent: 'hostile', task: { port: Number(port) } });
process.stdout.write(`${JSON.stringify({ outcome, uid: process.getuid?.() ?? null })}\n`);
process.stdout.write('ready\n');
process.stdin.resume();
await once(process.stdin, 'end');
await orchestrator.close();
// After close(): the signal must still be neither fatal nor an open inspector.
process.kill(process.pid, 'SIGUSR1');
await sleep(300);
process.stdout.write('closed\n');
process.exit(0);

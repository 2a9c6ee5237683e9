/**
 * Child process for the "parent crash" test: an orchestrator that starts two never-ending
 * subagents at the requested isolation level, reports their ids on stdout, then waits to be
 * SIGKILLed (no clean-up code of ours gets to run).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/index.js';
import { createOrchestrator } from '../../src/spawner/index.js';
import type { IsolationLevel } from '../../src/spawner/index.js';

const [level, entry] = process.argv.slice(2);
if (level === undefined || entry === undefined)
  throw new Error('usage: orchestrator-crash-child LEVEL ENTRY');
const config = parseConfig(
  {
    agents: {
      main: { role: 'parent', subagents: { allowAgents: ['spin'], maxConcurrent: 2, maxChildren: 2 } },
      spin: { entry, constraints: { timeout_seconds: 120 } },
    },
  },
  { source: 'parent-crash test' },
);
const orchestrator = await createOrchestrator({
  config,
  isolation: level as IsolationLevel,
  logger: pino({ level: 'silent' }),
});
const handles = [0, 1].map(() => orchestrator.spawn({ parent: 'main', agent: 'spin', task: null }));
for (let i = 0; i < 500 && orchestrator.active().some((a) => a.state !== 'running'); i++) await sleep(20);
process.stdout.write(`${JSON.stringify({ ids: handles.map((h) => h.id) })}\n`);
setInterval(() => undefined, 60_000);

/**
 * Child process for the warm-pool crash test: an orchestrator (at the isolation level given, else
 * the default) whose agent keeps two pre-started sandboxes; once both are idle it says so on
 * stdout and waits to be SIGKILLed (none of our clean-up code gets to run).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/index.js';
import { createOrchestrator } from '../../src/spawner/index.js';
import type { IsolationLevel } from '../../src/spawner/types.js';

const [entry, level] = process.argv.slice(2);
if (entry === undefined) throw new Error('usage: pool-crash-child ENTRY [LEVEL]');
const config = parseConfig(
  {
    agents: {
      main: { role: 'parent', subagents: { allowAgents: ['probe'] } },
      probe: { entry, pool: { warm: 2 } },
    },
  },
  { source: 'pool crash test' },
);
const orchestrator = await createOrchestrator({
  config,
  logger: pino({ level: 'silent' }),
  ...(level === undefined ? {} : { isolation: level as IsolationLevel }),
});
for (let i = 0; i < 1000 && orchestrator.poolStats()[0]?.idle !== 2; i++) await sleep(20);
process.stdout.write(`${JSON.stringify(orchestrator.poolStats())}\n`);
setInterval(() => undefined, 60_000);

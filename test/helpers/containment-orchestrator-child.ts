/**
 * Child process for the containment tests: an orchestrator at the requested isolation level runs
 * the spawns of a job file concurrently, prints their outcomes as one JSON line and closes. Run in
 * its own process so that a hostile subagent crashing the orchestrator shows as an exit code (an
 * in-process test would die with it, or hide the crash behind the test runner's handlers).
 *
 * Usage: containment-orchestrator-child JOB.json
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { createOrchestrator } from '../../src/spawner/index.js';
import type { IsolationLevel, Outcome, ToolDefinition } from '../../src/spawner/index.js';
import { makeConfig, type AgentSpec } from './spawner-config.js';

/** What the test asks the child to do. */
export interface ContainmentJob {
  readonly level: IsolationLevel;
  readonly agents: Record<string, AgentSpec>;
  readonly runs: readonly { readonly agent: string; readonly task: unknown }[];
  /** File the audit log is written to (synchronously, so it is complete at exit). */
  readonly auditPath: string;
}

/** Tools every job may allow: `echo` answers its arguments, `big` answers `bytes` bytes. */
const TOOLS: Record<string, ToolDefinition> = {
  echo: {
    description: 'echo',
    inputSchema: { type: 'object' },
    handler: (args) => Promise.resolve({ echoed: args }),
  },
  big: {
    description: 'a large answer',
    inputSchema: {
      type: 'object',
      properties: { bytes: { type: 'integer', minimum: 0, maximum: 700000 } },
      required: ['bytes'],
    },
    handler: (args) => {
      const bytes = typeof args === 'object' && args !== null && 'bytes' in args ? Number(args.bytes) : 0;
      return Promise.resolve('z'.repeat(bytes));
    },
  },
};

const jobPath = process.argv[2];
if (jobPath === undefined) throw new Error('usage: containment-orchestrator-child JOB.json');
const job = JSON.parse(readFileSync(jobPath, 'utf8')) as ContainmentJob;
const config = makeConfig(job.agents);
const logger = pino({ level: 'debug' }, pino.destination({ dest: job.auditPath, sync: true }));
const orchestrator = await createOrchestrator({ config, isolation: job.level, logger, tools: TOOLS });
const outcomes: Outcome[] = await Promise.all(
  job.runs.map((r) => orchestrator.run({ parent: 'main', agent: r.agent, task: r.task })),
);
await orchestrator.close();
process.stdout.write(
  `${JSON.stringify({
    outcomes: outcomes.map((o) => ({
      id: o.id,
      agent: o.agent,
      status: o.status,
      ...(o.status === 'terminated' ? { reason: o.reason, detail: o.detail } : {}),
      ...(o.status === 'failed' ? { code: o.error.code, message: o.error.message } : {}),
      ...(o.status === 'completed' ? { output: o.output } : {}),
    })),
  })}\n`,
);

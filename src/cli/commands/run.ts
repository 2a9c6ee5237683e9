/**
 * `subagent-guard run --config F --parent P --agent A --task JSON [--entry E] [--isolation L] [--json]`:
 * runs one subagent under the config's policy (audit log as configured) and prints its outcome.
 * Exit codes: 0 completed, 1 failed or terminated, 2 usage / unreadable config / spawn refused.
 */
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.js';
import { UsageError, errorMessage } from '../../errors.js';
import { createOrchestrator } from '../../spawner/orchestrator.js';
import type { IsolationRequest, Outcome } from '../../spawner/types.js';
import { ExitCode, type Command } from '../io.js';
import { ISOLATION_REQUESTS } from '../../sandbox/types.js';

const USAGE =
  'usage: subagent-guard run --config F --parent P --agent A --task JSON [--entry E] [--isolation L] [--json]';

function isIsolationRequest(v: string): v is IsolationRequest {
  return (ISOLATION_REQUESTS as readonly string[]).includes(v);
}

/** Longest output text printed in table mode (JSON mode prints everything). */
const MAX_PRINTED_OUTPUT = 4000;

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/** The human form of an outcome: one `key  value` line each. */
export function formatOutcome(o: Outcome): string {
  const rows: [string, string][] = [
    ['id', o.id],
    ['agent', o.agent],
    ['parent', o.parent],
    ['status', o.status],
  ];
  switch (o.status) {
    case 'completed': {
      const text = JSON.stringify(o.output) as string | undefined;
      const shown = text === undefined ? 'undefined' : text;
      rows.push([
        'output',
        shown.length > MAX_PRINTED_OUTPUT ? `${shown.slice(0, MAX_PRINTED_OUTPUT)}… (truncated)` : shown,
      ]);
      break;
    }
    case 'failed':
      rows.push(['error', `${o.error.code}: ${o.error.message}`]);
      break;
    case 'terminated':
      rows.push(['reason', o.reason], ['detail', o.detail]);
      break;
  }
  const u = o.usage;
  rows.push(
    ['wall', `${u.wallMs} ms`],
    ['calls', `${u.toolCalls} tool, ${u.apiCalls} api`],
    ['cost', `$${u.costUsd.toFixed(4)}`],
    ['peak rss', `${u.peakRssMb.toFixed(1)} MiB`],
    [
      'egress',
      `${u.egressRequests} req, ${formatBytes(u.egressBytesOut)} out, ${formatBytes(u.egressBytesIn)} in`,
    ],
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

function parse(argv: readonly string[]): {
  config: string;
  parent: string;
  agent: string;
  entry: string | undefined;
  task: unknown;
  isolation: IsolationRequest;
  json: boolean;
} {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        parent: { type: 'string' },
        agent: { type: 'string' },
        entry: { type: 'string' },
        task: { type: 'string' },
        isolation: { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(`${errorMessage(err)}\n${USAGE}`);
  }
  const missing = (['config', 'parent', 'agent', 'task'] as const).filter((k) => values[k] === undefined);
  if (missing.length > 0)
    throw new UsageError(`missing ${missing.map((m) => `--${m}`).join(', ')}\n${USAGE}`);
  const isolation = values.isolation;
  if (!isIsolationRequest(isolation)) {
    throw new UsageError(`--isolation must be one of ${ISOLATION_REQUESTS.join(', ')}\n${USAGE}`);
  }
  let task: unknown;
  try {
    task = JSON.parse(values.task ?? '') as unknown;
  } catch {
    throw new UsageError(`--task must be JSON (e.g. --task '{"q":1}')\n${USAGE}`);
  }
  return {
    config: values.config ?? '',
    parent: values.parent ?? '',
    agent: values.agent ?? '',
    entry: values.entry,
    task,
    isolation,
    json: values.json,
  };
}

/** The `run` command. */
export const run: Command = async (argv, io) => {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.stdout.write(`${USAGE}\n`);
    return ExitCode.Ok;
  }
  const args = parse(argv);
  const config = await loadConfig(isAbsolute(args.config) ? args.config : resolve(io.cwd, args.config));
  // No logger passed: the orchestrator writes the audit log where the config says, and close() flushes it.
  const orchestrator = await createOrchestrator({ config, isolation: args.isolation });
  let outcome: Outcome;
  try {
    const handle = orchestrator.spawn({
      parent: args.parent,
      agent: args.agent,
      task: args.task,
      ...(args.entry === undefined
        ? {}
        : { entry: isAbsolute(args.entry) ? args.entry : resolve(io.cwd, args.entry) }),
    });
    // Ctrl-C cancels the subagent; teardown still runs before we print and exit.
    void io.stopSignal.then(() => handle.terminate('interrupted by the user'));
    outcome = await handle.result;
  } finally {
    await orchestrator.close();
  }
  io.stdout.write(args.json ? `${JSON.stringify(outcome)}\n` : formatOutcome(outcome));
  return outcome.status === 'completed' ? ExitCode.Ok : ExitCode.Failed;
};

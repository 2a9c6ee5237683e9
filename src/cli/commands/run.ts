/**
 * `subagent-guard run --config F --parent P --agent A --task JSON [--entry E] [--isolation L] [--json]`:
 * runs one subagent under the config's policy (audit log as configured) and prints its outcome.
 * Exit codes: 0 completed, 1 failed or terminated, 2 usage / unreadable config / spawn refused.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.js';
import type { GuardConfig } from '../../config/types.js';
import { UsageError, errorMessage } from '../../errors.js';
import { createOrchestrator } from '../../spawner/orchestrator.js';
import type { IsolationRequest, Outcome, ToolDefinition } from '../../spawner/types.js';
import { ExitCode, progressWriter, withJsonErrors, type Command } from '../io.js';
import { ISOLATION_REQUESTS } from '../../sandbox/types.js';

const USAGE =
  'usage: subagent-guard run --config F --parent P --agent A --task JSON|@FILE [--tools M] [--entry E] [--isolation L] [--json] [--progress]';

const HELP = `${USAGE}

Runs one subagent under the config's policy and prints its outcome.

Options:
  --config F       the openclaw.json (JSON or JSON5) to read (required)
  --parent P       the spawning agent: a role "parent" agent of the config (required)
  --agent A        the subagent to run (required)
  --task JSON      the task, as JSON, or @FILE to read it from a JSON file (required)
  --tools M        an ES module whose default export (or export \`tools\`) is an object of tool
                   definitions ({ description, inputSchema, handler, costUsd? }) by name
  --entry E        the program to run instead of the agent's \`entry\`
  --isolation L    auto (default), namespace, bubblewrap, unshare or process
  --json           print the outcome (or an error) as one JSON line on stdout
  --progress       progress lines on stderr (default: only when stderr is a terminal and
                   without --json)
  -h, --help       show this help

Output: id, agent, parent, status, output / error / reason, and usage: wall time, calls
(tool calls, and units of max_api_calls spent), cost, peak RSS, egress requests and bytes.
The audit log goes where the config's audit.path says (default stderr).

Exit codes: 0 completed, 1 failed or terminated, 2 usage / unreadable config / spawn refused.
`;

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
  task: string;
  tools: string | undefined;
  isolation: IsolationRequest;
  json: boolean;
  progress: boolean;
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
        tools: { type: 'string' },
        isolation: { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
        progress: { type: 'boolean', default: false },
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
  return {
    config: values.config ?? '',
    parent: values.parent ?? '',
    agent: values.agent ?? '',
    entry: values.entry,
    task: values.task ?? '',
    tools: values.tools,
    isolation,
    json: values.json,
    progress: values.progress,
  };
}

/** `--task`: inline JSON, or `@FILE` (relative to the working directory) holding JSON. */
function readTask(text: string, cwd: string): unknown {
  let source = text;
  let where = '--task';
  if (text.startsWith('@')) {
    const file = resolve(cwd, text.slice(1));
    where = `--task ${text}`;
    try {
      source = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`${where}: cannot read ${file}: ${errorMessage(err)}`);
    }
  }
  try {
    return JSON.parse(source) as unknown;
  } catch (err) {
    throw new UsageError(
      `${where} must be JSON (e.g. --task '{"q":1}' or --task @task.json): ${errorMessage(err)}\n${USAGE}`,
    );
  }
}

/** `--tools M`: the module's default export, or its `tools` export, as tool definitions by name. */
async function loadTools(spec: string, cwd: string): Promise<Record<string, ToolDefinition>> {
  const file = resolve(cwd, spec);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--tools ${spec}: cannot load ${file}: ${errorMessage(err)}`);
  }
  const tools = mod['default'] ?? mod['tools'];
  if (typeof tools !== 'object' || tools === null || Array.isArray(tools)) {
    throw new UsageError(
      `--tools ${spec}: the module must export an object of tool definitions by name (default export or \`tools\`)`,
    );
  }
  return tools as Record<string, ToolDefinition>;
}

/** The closest defined name within two edits, for "did you mean". */
export function closestName(name: string, names: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) {
        cur[j] = Math.min(
          (prev[j] ?? 0) + 1,
          (cur[j - 1] ?? 0) + 1,
          (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
      }
      prev = cur;
    }
    return prev[b.length] ?? Infinity;
  };
  let best: string | undefined;
  let bestD = 3;
  for (const n of names) {
    const d = distance(name.toLowerCase(), n.toLowerCase());
    if (d < bestD) {
      best = n;
      bestD = d;
    }
  }
  return best;
}

function checkAgentName(flag: string, name: string, config: GuardConfig): void {
  if (Object.prototype.hasOwnProperty.call(config.agents, name)) return;
  const names = Object.keys(config.agents);
  const guess = closestName(name, names);
  throw new UsageError(
    `${flag} '${name}' is not an agent of the config${guess === undefined ? '' : `; did you mean '${guess}'?`} (agents: ${names.join(', ')})`,
  );
}

/** The `run` command. */
export const run: Command = withJsonErrors(HELP, (argv, io) => runOnce(argv, io));

async function runOnce(argv: readonly string[], io: Parameters<Command>[1]): Promise<number> {
  const args = parse(argv);
  const progress = progressWriter(io, { json: args.json, forced: args.progress });
  const task = readTask(args.task, io.cwd);
  const tools = args.tools === undefined ? undefined : await loadTools(args.tools, io.cwd);
  const config = await loadConfig(isAbsolute(args.config) ? args.config : resolve(io.cwd, args.config));
  checkAgentName('--parent', args.parent, config);
  checkAgentName('--agent', args.agent, config);
  progress(`config ${config.source ?? args.config}: ${Object.keys(config.agents).length} agents`);
  // No logger passed: the orchestrator writes the audit log where the config says, and close() flushes it.
  const orchestrator = await createOrchestrator({
    config,
    isolation: args.isolation,
    ...(tools === undefined ? {} : { tools }),
  });
  progress(`orchestrator ready (isolation ${orchestrator.isolation})`);
  let outcome: Outcome;
  try {
    const handle = orchestrator.spawn({
      parent: args.parent,
      agent: args.agent,
      task,
      ...(args.entry === undefined
        ? {}
        : { entry: isAbsolute(args.entry) ? args.entry : resolve(io.cwd, args.entry) }),
    });
    progress(`subagent ${handle.id} (${args.agent}) started; waiting for its outcome`);
    // Ctrl-C cancels the subagent; teardown still runs before we print and exit.
    void io.stopSignal.then(() => {
      progress(`stopping subagent ${handle.id}`);
      return handle.terminate('interrupted by the user');
    });
    outcome = await handle.result;
    progress(`subagent ${handle.id} ${outcome.status} after ${outcome.usage.wallMs} ms`);
  } finally {
    await orchestrator.close();
  }
  io.stdout.write(args.json ? `${JSON.stringify(outcome)}\n` : formatOutcome(outcome));
  return outcome.status === 'completed' ? ExitCode.Ok : ExitCode.Failed;
}

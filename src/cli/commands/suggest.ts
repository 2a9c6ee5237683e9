/**
 * `subagent-guard suggest --from audit.log --agent NAME [--config F] [--include-refused] [--json]`:
 * prints the smallest `allowed_domains` / `allowed_ports` / `tools_allowed` that the recorded
 * traffic of one agent needed (typically recorded in report-only mode), in both config shapes,
 * what it tried that must stay refused, and with `--config` the difference to its current lists.
 * Exit codes: 0 suggestion printed, 1 no record of the agent to learn from, 2 usage / I/O error.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { analyzeAuditLog, type AuditAnalysis } from '../../audit/suggest.js';
import { buildSuggestion, type ListDiff, type Suggestion } from '../../audit/suggestion.js';
import { loadConfig } from '../../config/index.js';
import type { AgentConfig, GuardConfig } from '../../config/types.js';
import { UsageError, errorMessage } from '../../errors.js';
import { ExitCode, withJsonErrors, type CliIo, type Command } from '../io.js';
import { closestName } from './run.js';

const USAGE =
  'usage: subagent-guard suggest --from AUDIT_LOG --agent A [--config F] [--include-refused] [--json]';

const HELP = `${USAGE}

Reads an audit log (the NDJSON the audit logger writes; typically recorded with the agent in
report-only mode: network.mode / tools_mode "report") and prints the smallest allowlist that the
agent's recorded traffic needed, in both config shapes.

Options:
  --from FILE         the audit log to read (streamed; malformed lines are skipped and counted)
  --agent A           the agent to learn for
  --config F          the agent's config: also print the difference to its current lists
  --include-refused   also suggest what the allowlist refused while enforcing (the subagent was
                      terminated there; off by default, since that is what an attack would try)
  --json              print one JSON object on stdout
  -h, --help          show this help

Counted: egress allowed (also enforced: false) and closed connections; tool calls the allowlist
let through. Never suggested: cloud metadata, the gateway, private and other prohibited addresses,
blocked ports, tools_denied, undefined tools: listed as "refused, cannot be allowed".

Exit codes: 0 suggestion printed, 1 no record of the agent, 2 usage / I/O error.
`;

interface SuggestArgs {
  readonly from: string;
  readonly agent: string;
  readonly config: string | undefined;
  readonly includeRefused: boolean;
  readonly json: boolean;
}

function parse(argv: readonly string[]): SuggestArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        from: { type: 'string' },
        agent: { type: 'string' },
        config: { type: 'string' },
        'include-refused': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError(`${errorMessage(err)}\n${USAGE}`);
  }
  const missing = (['from', 'agent'] as const).filter((k) => values[k] === undefined);
  if (missing.length > 0)
    throw new UsageError(`missing ${missing.map((m) => `--${m}`).join(', ')}\n${USAGE}`);
  return {
    from: values.from ?? '',
    agent: values.agent ?? '',
    config: values.config,
    includeRefused: values['include-refused'],
    json: values.json,
  };
}

const q = (s: string): string => JSON.stringify(s);
const list = (xs: readonly (string | number)[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function diffLines(name: string, d: ListDiff<string | number>): string[] {
  const out: string[] = [];
  if (d.add.length === 0 && d.unused.length === 0) out.push(`  ${name}: no change`);
  else {
    if (d.add.length > 0) out.push(`  ${name}: add ${list(d.add)}`);
    if (d.unused.length > 0) out.push(`  ${name}: unused (remove?) ${list(d.unused)}`);
  }
  if (d.keep.length > 0) out.push(`  ${name}: keep ${list(d.keep)}`);
  return out;
}

/** The human form of a suggestion. */
export function formatSuggestion(
  s: Suggestion,
  a: AuditAnalysis,
  from: string,
  current: AgentConfig | undefined,
): string {
  const out: string[] = [];
  const recordsNote = `${plural(a.lines, 'line')}, ${plural(a.records, 'record')} of this agent`;
  out.push(`Suggested allowlist for agent ${q(s.agent)} (from ${from}: ${recordsNote})`, '');
  const network =
    s.allowedPorts.length > 0
      ? `{ "allowed_domains": ${list(s.allowedDomains)}, "allowed_ports": ${list(s.allowedPorts)} }`
      : `{ "allowed_domains": ${list(s.allowedDomains)} }`;
  out.push(
    `security-proxy shape (agents.${s.agent}):`,
    `  "tools_allowed": ${list(s.toolsAllowed)},`,
    `  "network": ${network}`,
    '',
    'OpenClaw shape:',
    `  agents.entries.${s.agent}.tools.allow: ${list(s.toolsAllowed)}`,
    `  plugins.entries["subagent-guard"].config.agents.${s.agent}.network: ${network}`,
  );
  if (s.reportOnly.hosts.length > 0 || s.reportOnly.tools.length > 0) {
    out.push(
      '',
      'let through only by report mode (enforced: false): ' +
        list([...s.reportOnly.hosts, ...s.reportOnly.tools]),
    );
  }
  if (s.diff !== undefined) {
    out.push('', `difference to the current policy of ${q(s.agent)}:`);
    out.push(...diffLines('allowed_domains', s.diff.allowedDomains));
    out.push(...diffLines('allowed_ports', s.diff.allowedPorts));
    out.push(...diffLines('tools_allowed', s.diff.toolsAllowed));
    const modes = [
      current?.network.mode === 'report' ? 'network.mode' : null,
      current?.tools.mode === 'report' ? 'tools_mode' : null,
    ].filter((m): m is string => m !== null);
    if (modes.length > 0)
      out.push(`  then set ${modes.join(' and ')} to "enforce" (or remove it): the agent is not enforcing`);
  }
  if (s.prohibited.length > 0) {
    out.push('', 'refused, cannot be allowed (never suggested):');
    for (const p of s.prohibited) {
      const rule = p.rule === null ? '' : ` (${p.rule})`;
      const addr = p.address === undefined ? '' : ` address ${p.address}`;
      out.push(
        `  ${p.kind === 'egress' ? 'egress' : 'tool  '} ${q(p.target)}${addr}: ${p.reason}${rule}, ${plural(p.count, 'time')}, first at line ${p.line}`,
      );
    }
    if (s.prohibited.some((p) => p.reason === 'address_prohibited' && p.rule !== 'gateway')) {
      out.push(
        '  a private destination is reachable only with an explicit allowed_cidrs exception (see README: Reaching a private address)',
      );
    }
  }
  if (s.invalid.length > 0) {
    out.push('', 'needed but not expressible as an allowlist entry:');
    for (const i of s.invalid) out.push(`  ${i.kind} ${q(i.value)}: ${i.message}`);
  }
  const left = s.refusedLeftOut;
  if (left.hosts.length > 0 || left.tools.length > 0) {
    out.push('', 'refused by the allowlist while enforcing (not suggested; --include-refused adds them):');
    for (const h of left.hosts)
      out.push(
        `  egress ${q(h.host)} ports ${list(h.ports)}, ${plural(h.count, 'time')}, first at line ${h.line}`,
      );
    for (const t of left.tools)
      out.push(`  tool   ${q(t.tool)}, ${plural(t.count, 'time')}, first at line ${t.line}`);
  }
  const notCounted = Object.entries(a.notCounted);
  if (notCounted.length > 0) {
    out.push(
      '',
      `not counted (say nothing about the allowlist): ${notCounted.map(([k, n]) => `${k} ×${n}`).join(', ')}`,
    );
  }
  if (a.malformed.count > 0) {
    const more = a.malformed.count > a.malformed.lines.length ? ', …' : '';
    out.push(
      '',
      `skipped ${plural(a.malformed.count, 'malformed line')} (not JSON records): line ${a.malformed.lines.join(', ')}${more}`,
    );
  }
  if (a.suppressed > 0) {
    out.push(
      '',
      `warning: the gateway left out ${plural(a.suppressed, 'egress record')} of this agent (egress.suppressed): the log is incomplete`,
    );
  }
  if (a.truncated)
    out.push('', 'warning: more than 10000 distinct entries in one list; the rest were not kept');
  return `${out.join('\n')}\n`;
}

/** The JSON form: the suggestion, both shapes, and what was read. */
function toJson(s: Suggestion, a: AuditAnalysis, from: string): Record<string, unknown> {
  return {
    agent: s.agent,
    from,
    lines: a.lines,
    records: a.records,
    suggestion: {
      tools_allowed: s.toolsAllowed,
      allowed_domains: s.allowedDomains,
      allowed_ports: s.allowedPorts,
    },
    shapes: s.shapes,
    reportOnly: s.reportOnly,
    needed: { hosts: a.hosts, tools: a.tools },
    prohibited: s.prohibited,
    invalid: s.invalid,
    refusedLeftOut: s.refusedLeftOut,
    ...(s.diff === undefined ? {} : { diff: s.diff }),
    notCounted: a.notCounted,
    malformed: a.malformed,
    suppressed: a.suppressed,
    truncated: a.truncated,
  };
}

function unknownAgent(agent: string, a: AuditAnalysis, config: GuardConfig | undefined): UsageError {
  const names = [...new Set([...a.agentsSeen.keys(), ...Object.keys(config?.agents ?? {})])].sort();
  const guess = closestName(agent, names);
  const known =
    names.length === 0 ? 'the log has no agent records' : `agents: ${names.slice(0, 50).join(', ')}`;
  return new UsageError(
    `--agent '${agent}' has no records in the audit log${config === undefined ? '' : ' and is not an agent of the config'}` +
      `${guess === undefined ? '' : `; did you mean '${guess}'?`} (${known})`,
  );
}

/** The `suggest` command. */
export const suggest: Command = withJsonErrors(HELP, (argv, io) => suggestOnce(argv, io));

async function suggestOnce(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv);
  const from = isAbsolute(args.from) ? args.from : resolve(io.cwd, args.from);
  let config: GuardConfig | undefined;
  if (args.config !== undefined) {
    config = await loadConfig(isAbsolute(args.config) ? args.config : resolve(io.cwd, args.config));
  }
  try {
    const st = await stat(from);
    if (!st.isFile()) throw new Error('not a regular file');
  } catch (err) {
    throw new UsageError(`--from ${args.from}: cannot read ${from}: ${errorMessage(err)}`);
  }
  let analysis: AuditAnalysis;
  try {
    analysis = await analyzeAuditLog(from, args.agent);
  } catch (err) {
    throw new UsageError(`--from ${args.from}: cannot read ${from}: ${errorMessage(err)}`);
  }
  const current =
    config !== undefined && Object.hasOwn(config.agents, args.agent) ? config.agents[args.agent] : undefined;
  if (current?.role === 'parent') {
    throw new UsageError(
      `--agent '${args.agent}' is a parent agent: it runs as your own code and has no allowlist to learn`,
    );
  }
  if (!analysis.agentsSeen.has(args.agent) && current === undefined) {
    throw unknownAgent(args.agent, analysis, config);
  }
  const s = buildSuggestion(analysis, {
    includeRefused: args.includeRefused,
    ...(current === undefined ? {} : { current }),
  });
  if (args.json) io.stdout.write(`${JSON.stringify(toJson(s, analysis, args.from))}\n`);
  if (analysis.records === 0) {
    // An empty suggestion would read as "needs nothing": say there was nothing to learn from instead.
    io.stderr.write(
      `subagent-guard suggest: no egress or tool record of agent '${args.agent}' in ${args.from} ` +
        `(${analysis.lines} lines, ${analysis.malformed.count} malformed); nothing to learn from\n`,
    );
    return ExitCode.Failed;
  }
  if (!args.json) io.stdout.write(formatSuggestion(s, analysis, args.from, current));
  return ExitCode.Ok;
}

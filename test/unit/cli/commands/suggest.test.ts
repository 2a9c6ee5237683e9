/**
 * `subagent-guard suggest` on crafted audit logs: which records count, what is never suggested,
 * malformed and overlong lines (skipped, counted, with line numbers), an unknown agent
 * (did-you-mean), the diff against a config, and the line reader's bounded memory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { AuditAccumulator, MAX_DISTINCT_ENTRIES, readAuditLines } from '../../../../src/audit/suggest.js';
import { suggest } from '../../../../src/cli/commands/suggest.js';
import type { CliIo } from '../../../../src/cli/io.js';
import { main } from '../../../../src/cli/main.js';
import { fixturesDir } from '../../../helpers/paths.js';

const NOOP = join(fixturesDir, 'config', 'agents', 'noop.mjs');

async function run(argv: string[], cwd: string, viaMain = false) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (c: string) => out.push(c) },
    stderr: { write: (c: string) => err.push(c) },
    env: {},
    cwd,
    stopSignal: new Promise<void>(() => undefined),
  };
  const code = viaMain ? await main(['suggest', ...argv], io) : await suggest(argv, io);
  return { code, out: out.join(''), err: err.join('') };
}

const base = {
  level: 30,
  time: '2026-01-01T00:00:00.000Z',
  pid: 1,
  hostname: 'h',
  service: 'subagent-guard',
};
const rec = (fields: Record<string, unknown>): string => JSON.stringify({ ...base, msg: 'm', ...fields });
const who = (agent: string) => ({ subagentId: 's1', agent, parent: 'main' });
const egress = (agent: string, host: string, port: number, decision: string, reason: string, more = {}) =>
  rec({
    event: 'egress.decision',
    ...who(agent),
    method: 'GET',
    host,
    port,
    decision,
    reason,
    status: decision === 'allow' ? 200 : 403,
    rule: null,
    ...more,
  });
const tool = (agent: string, name: string, decision: string, reason: string, more = {}) =>
  rec({ event: 'tool.decision', ...who(agent), tool: name, decision, reason, rule: null, ...more });

/** The log every test reads; line numbers matter (malformed lines are reported by number). */
const LOG_LINES = [
  /* 1 */ rec({ event: 'orchestrator.start', isolation: 'process' }),
  /* 2 */ rec({
    event: 'subagent.spawn',
    ...who('learner'),
    depth: 1,
    isolation: 'process',
    enforcing: false,
  }),
  /* 3 */ egress('learner', 'api.example.com', 8443, 'allow', 'port_not_allowed', {
    enforced: false,
    level: 40,
  }),
  /* 4 */ egress('learner', 'api.example.com', 443, 'allow', 'allowed', { rule: 'api.example.com' }),
  /* 5 */ rec({
    event: 'egress.close',
    ...who('learner'),
    method: 'CONNECT',
    host: 'cdn.example.net',
    port: 443,
    address: '93.184.216.34',
    status: 200,
    bytesIn: 1,
    bytesOut: 1,
    durationMs: 1,
    end: 'closed',
  }),
  /* 6 */ '{ this is not json',
  /* 7 */ egress('learner', '169.254.169.254', 80, 'deny', 'metadata_prohibited', {
    rule: '169.254.169.254/32',
    address: '169.254.169.254',
  }),
  /* 8 */ egress('learner', 'internal.example.com', 443, 'deny', 'address_prohibited', {
    rule: '10.0.0.0/8',
    address: '10.1.2.3',
  }),
  /* 9 */ egress('learner', 'ssh.example.com', 22, 'deny', 'port_blocked', { rule: '22' }),
  /* 10 */ tool('learner', 'lookup', 'allow', 'not_allowed', { enforced: false, level: 40 }),
  /* 11 */ tool('learner', 'web_fetch', 'allow', 'allowed', { rule: 'web_fetch' }),
  /* 12 */ tool('learner', 'exec', 'deny', 'denied_by_rule', { rule: 'exec' }),
  /* 13 */ tool('learner', 'ghost', 'deny', 'unknown_tool'),
  /* 14 */ '[1,2,3]',
  /* 15 */ egress('other', 'other.example.org', 443, 'allow', 'allowed'),
  /* 16 */ tool('other', 'secret_tool', 'allow', 'allowed'),
  /* 17 */ egress('learner', 'attacker.example', 443, 'deny', 'host_not_allowed'),
  /* 18 */ tool('learner', 'shell_out', 'deny', 'not_allowed'),
  /* 19 */ egress('learner', 'flaky.example.com', 443, 'deny', 'dns_error'),
  /* 20 */ JSON.stringify({ level: 30, msg: 'a record of another logger' }),
  /* 21 */ tool('learner', 'paid', 'deny', 'cost_exceeded'),
  /* 22 */ egress('learner', '2001:db8::1', 443, 'allow', 'host_not_allowed', { enforced: false }),
  /* 23 */ rec({
    event: 'plugin.tool_decision',
    agentId: 'learner',
    tool: 'read',
    allow: true,
    reason: 'allowed',
  }),
];

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sg-suggest-'));
  writeFileSync(join(dir, 'audit.log'), `${LOG_LINES.join('\n')}\n`);
  writeFileSync(
    join(dir, 'openclaw.json'),
    JSON.stringify({
      agents: {
        main: { role: 'parent', subagents: { allowAgents: ['learner', 'quiet'] } },
        learner: {
          entry: NOOP,
          tools_allowed: ['web_fetch', 'sanitized_parse'],
          tools_mode: 'report',
          network: {
            allowed_domains: ['*.example.com', 'old.example.org'],
            allowed_ports: [443, 80],
            mode: 'report',
          },
        },
        quiet: { entry: NOOP },
      },
    }),
  );
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface SuggestJson {
  suggestion: { tools_allowed: string[]; allowed_domains: string[]; allowed_ports: number[] };
  shapes: { securityProxy: unknown; openclaw: unknown };
  prohibited: { kind: string; target: string; reason: string; rule: string | null; line: number }[];
  invalid: { kind: string; value: string }[];
  refusedLeftOut: { hosts: { host: string }[]; tools: { tool: string }[] };
  reportOnly: { hosts: string[]; tools: string[] };
  malformed: { count: number; lines: number[] };
  notCounted: Record<string, number>;
  lines: number;
  diff?: Record<string, { add: unknown[]; keep: unknown[]; unused: unknown[] }>;
}

void describe('subagent-guard suggest', () => {
  void test('suggests exactly the hosts, ports and tools the allowed traffic used, in both shapes', async () => {
    const r = await run(['--from', 'audit.log', '--agent', 'learner', '--json'], dir);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as SuggestJson;
    assert.deepEqual(j.suggestion, {
      tools_allowed: ['lookup', 'paid', 'read', 'web_fetch'],
      allowed_domains: ['[2001:db8::1]', 'api.example.com', 'cdn.example.net'],
      allowed_ports: [443, 8443],
    });
    const network = { allowed_domains: j.suggestion.allowed_domains, allowed_ports: [443, 8443] };
    assert.deepEqual(j.shapes.securityProxy, {
      agents: { learner: { tools_allowed: j.suggestion.tools_allowed, network } },
    });
    assert.deepEqual(j.shapes.openclaw, {
      agents: { entries: { learner: { tools: { allow: j.suggestion.tools_allowed } } } },
      plugins: { entries: { 'subagent-guard': { config: { agents: { learner: { network } } } } } },
    });
    assert.deepEqual(j.reportOnly, { hosts: ['[2001:db8::1]', 'api.example.com'], tools: ['lookup'] });
    assert.equal(j.lines, LOG_LINES.length);
  });

  void test('never suggests metadata, private ranges, blocked ports, tools_denied or undefined tools: lists them as refused', async () => {
    const r = await run(['--from', 'audit.log', '--agent', 'learner', '--json'], dir);
    const j = JSON.parse(r.out) as SuggestJson;
    assert.deepEqual(
      j.prohibited.map((p) => [p.kind, p.target, p.reason, p.rule, p.line]),
      [
        ['egress', '169.254.169.254:80', 'metadata_prohibited', '169.254.169.254/32', 7],
        ['egress', 'internal.example.com:443', 'address_prohibited', '10.0.0.0/8', 8],
        ['egress', 'ssh.example.com:22', 'port_blocked', '22', 9],
        ['tool', 'exec', 'denied_by_rule', 'exec', 12],
        ['tool', 'ghost', 'unknown_tool', null, 13],
      ],
    );
    for (const p of j.prohibited) {
      const name = p.target.replace(/:\d+$/, '');
      assert.ok(!j.suggestion.allowed_domains.includes(name), name);
      assert.ok(!j.suggestion.tools_allowed.includes(name), name);
    }
    assert.ok(!j.suggestion.allowed_ports.includes(22));
    assert.deepEqual(j.notCounted, { 'egress.decision:dns_error': 1 });
  });

  void test('allowlist refusals while enforcing are left out, and added only with --include-refused', async () => {
    const r = await run(['--from', 'audit.log', '--agent', 'learner', '--json'], dir);
    const j = JSON.parse(r.out) as SuggestJson;
    assert.deepEqual(
      j.refusedLeftOut.hosts.map((h) => h.host),
      ['attacker.example'],
    );
    assert.deepEqual(
      j.refusedLeftOut.tools.map((t) => t.tool),
      ['shell_out'],
    );
    assert.ok(!j.suggestion.allowed_domains.includes('attacker.example'));
    const all = JSON.parse(
      (await run(['--from', 'audit.log', '--agent', 'learner', '--include-refused', '--json'], dir)).out,
    ) as SuggestJson;
    assert.ok(all.suggestion.allowed_domains.includes('attacker.example'));
    assert.ok(all.suggestion.tools_allowed.includes('shell_out'));
    assert.deepEqual(all.refusedLeftOut, { hosts: [], tools: [] });
  });

  void test('skips malformed lines and reports them with their line numbers', async () => {
    const r = await run(['--from', 'audit.log', '--agent', 'learner'], dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /skipped 2 malformed lines \(not JSON records\): line 6, 14/);
    const j = JSON.parse(
      (await run(['--from', 'audit.log', '--agent', 'learner', '--json'], dir)).out,
    ) as SuggestJson;
    assert.deepEqual(j.malformed, { count: 2, lines: [6, 14] });
  });

  void test('prints both shapes and the refused list as text', async () => {
    const r = await run(['--from', 'audit.log', '--agent', 'learner'], dir);
    assert.match(r.out, /security-proxy shape \(agents\.learner\):/);
    assert.match(r.out, /"tools_allowed": \["lookup", "paid", "read", "web_fetch"\],/);
    assert.match(r.out, /agents\.entries\.learner\.tools\.allow: \["lookup", "paid", "read", "web_fetch"\]/);
    assert.match(
      r.out,
      /plugins\.entries\["subagent-guard"\]\.config\.agents\.learner\.network: \{ "allowed_domains": \["\[2001:db8::1\]", "api\.example\.com", "cdn\.example\.net"\], "allowed_ports": \[443, 8443\] \}/,
    );
    assert.match(r.out, /refused, cannot be allowed \(never suggested\):/);
    assert.match(r.out, /egress "169\.254\.169\.254:80" address 169\.254\.169\.254: metadata_prohibited/);
    assert.match(r.out, /allowed_cidrs exception/);
  });

  void test('--config prints the diff against the agent’s current lists', async () => {
    const r = await run(
      ['--from', 'audit.log', '--agent', 'learner', '--config', 'openclaw.json', '--json'],
      dir,
    );
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as SuggestJson;
    assert.deepEqual(j.diff, {
      allowedDomains: {
        add: ['[2001:db8::1]', 'cdn.example.net'],
        keep: ['*.example.com'],
        unused: ['old.example.org'],
      },
      allowedPorts: { add: [8443], keep: [443], unused: [80] },
      toolsAllowed: { add: ['lookup', 'paid', 'read'], keep: ['web_fetch'], unused: ['sanitized_parse'] },
    });
    const text = await run(['--from', 'audit.log', '--agent', 'learner', '--config', 'openclaw.json'], dir);
    assert.match(text.out, /allowed_domains: add \["\[2001:db8::1\]", "cdn\.example\.net"\]/);
    assert.match(text.out, /allowed_domains: unused \(remove\?\) \["old\.example\.org"\]/);
    assert.match(text.out, /then set network\.mode and tools_mode to "enforce"/);
  });

  void test('an unknown agent is a usage error with a did-you-mean', async () => {
    const r = await run(['--from', 'audit.log', '--agent', 'lerner'], dir, true);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /--agent 'lerner' has no records in the audit log; did you mean 'learner'\? \(agents: learner, other\) \[SG_USAGE\]/,
    );
    const j = await run(['--from', 'audit.log', '--agent', 'lerner', '--json'], dir, true);
    assert.equal(j.code, 2);
    const e = JSON.parse(j.out) as { status: string; error: { code: string } };
    assert.deepEqual([e.status, e.error.code], ['error', 'SG_USAGE']);
  });

  void test('an agent of the config without records exits 1 saying there is nothing to learn from', async () => {
    const r = await run(['--from', 'audit.log', '--agent', 'quiet', '--config', 'openclaw.json'], dir, true);
    assert.equal(r.code, 1);
    assert.match(r.err, /no egress or tool record of agent 'quiet' in audit\.log \(23 lines, 2 malformed\)/);
    assert.equal(r.out, '', 'no empty suggestion that would read as "needs nothing"');
  });

  void test('a missing log, a missing option and a parent agent are usage errors', async () => {
    const missing = await run(['--from', 'nope.log', '--agent', 'learner'], dir, true);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--from nope\.log: cannot read .*nope\.log/);
    const noAgent = await run(['--from', 'audit.log'], dir, true);
    assert.equal(noAgent.code, 2);
    assert.match(noAgent.err, /missing --agent/);
    const parent = await run(
      ['--from', 'audit.log', '--agent', 'main', '--config', 'openclaw.json'],
      dir,
      true,
    );
    assert.equal(parent.code, 2);
    assert.match(parent.err, /is a parent agent/);
  });

  void test('control characters a subagent put into a host or tool name are escaped in the output', async () => {
    const file = join(dir, 'hostile.log');
    writeFileSync(
      file,
      [
        tool('learner', 'evil\u001b[31mred', 'deny', 'unknown_tool'),
        egress('learner', 'x\u001b]0;title\u0007', 0, 'deny', 'host_invalid'),
        tool('learner', 'group:fs', 'allow', 'allowed'),
      ].join('\n'),
    );
    const r = await run(['--from', 'hostile.log', '--agent', 'learner'], dir);
    assert.equal(r.code, 0, r.err);
    assert.ok(!r.out.includes('\u001b'), 'no raw escape character is printed');
    assert.match(r.out, /\\u001b\[31mred/);
    assert.match(r.out, /tool "group:fs": a recorded tool name cannot be a pattern or a group/);
  });

  void test('warns that the log is incomplete when the gateway suppressed records of the agent', async () => {
    writeFileSync(
      join(dir, 'suppressed.log'),
      [
        egress('learner', 'api.example.com', 443, 'allow', 'allowed'),
        rec({
          event: 'egress.suppressed',
          ...who('learner'),
          cap: 10000,
          final: true,
          decisions: 7,
          closes: 5,
        }),
      ].join('\n'),
    );
    const r = await run(['--from', 'suppressed.log', '--agent', 'learner'], dir);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /warning: the gateway left out 12 egress records of this agent \(egress\.suppressed\)/,
    );
    const j = JSON.parse(
      (await run(['--from', 'suppressed.log', '--agent', 'learner', '--json'], dir)).out,
    ) as {
      suppressed: number;
    };
    assert.equal(j.suppressed, 12);
  });

  void test('--help prints the usage and what counts', async () => {
    const r = await run(['--help'], dir, true);
    assert.equal(r.code, 0);
    assert.match(r.out, /usage: subagent-guard suggest --from AUDIT_LOG --agent A/);
    assert.match(r.out, /Never suggested: cloud metadata/);
  });
});

void describe('audit log reading', () => {
  void test('a line longer than the cap is skipped as malformed without being buffered, and reading goes on', async () => {
    const long = 'x'.repeat(5000);
    const chunks = [
      Buffer.from('{"a":1}\n'),
      Buffer.from(long),
      Buffer.from(long),
      Buffer.from('\n{"b":2}\r\nlast'),
    ];
    const lines: [string, number][] = [];
    const overlong: number[] = [];
    await readAuditLines(
      Readable.from(chunks),
      (t, n) => {
        lines.push([t, n]);
      },
      (n) => {
        overlong.push(n);
      },
      4096,
    );
    assert.deepEqual(lines, [
      ['{"a":1}', 1],
      ['{"b":2}', 3],
      ['last', 4],
    ]);
    assert.deepEqual(overlong, [2]);
  });

  void test('a multi-megabyte file of records streams through with every record counted', async () => {
    const file = join(dir, 'big.log');
    const line = egress('learner', 'api.example.com', 443, 'allow', 'allowed');
    const n = 20_000;
    writeFileSync(file, `${Array.from({ length: n }, () => line).join('\n')}\n`);
    const r = await run(['--from', 'big.log', '--agent', 'learner', '--json'], dir);
    const j = JSON.parse(r.out) as SuggestJson & { records: number };
    assert.equal(j.records, n);
    assert.equal(j.lines, n);
    assert.deepEqual(j.suggestion.allowed_domains, ['api.example.com']);
  });

  void test('distinct entries are capped and the result says it is truncated', () => {
    const acc = new AuditAccumulator('learner');
    for (let i = 0; i <= MAX_DISTINCT_ENTRIES; i++) {
      acc.line(egress('learner', `h${i}.example.com`, 443, 'allow', 'allowed'), i + 1);
    }
    const r = acc.result();
    assert.equal(r.hosts.length, MAX_DISTINCT_ENTRIES);
    assert.equal(r.truncated, true);
  });
});

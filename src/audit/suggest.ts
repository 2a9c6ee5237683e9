/**
 * Learns an allowlist from an audit log: reads the NDJSON records our audit logger writes (one
 * pass, streamed, bounded memory) and keeps, for one agent, what its recorded traffic needed
 * (`allowed_domains`, `allowed_ports`, `tools_allowed`) apart from what must stay refused.
 *
 * Which records count as "needed":
 * - `egress.decision` allows, enforced or let through by report mode (`enforced: false`), and
 *   `egress.close` (written for every allowed connection, also when `log_all_traffic` is off);
 * - `tool.decision` allows (either mode), and calls the ACL let through that a quota or the
 *   arguments then refused (`api_calls_exceeded`, `args_invalid`, `cost_exceeded`, `cost_invalid`);
 *   `plugin.tool_decision` allows (OpenClaw plugin, keyed by `agentId`).
 * Refusals of the allowlist while enforcing (`host_not_allowed`, `port_not_allowed`, `no_network`,
 * tool `not_allowed`) are kept apart: the subagent was terminated there, and what a subagent tried
 * once while enforcing is exactly what an injected prompt would try. They count only on request.
 * Refusals that no allowlist can lift (cloud metadata, the gateway itself, other prohibited address
 * classes, blocked ports, bad schemes, `tools_denied`, undefined tools) are listed as such and never
 * suggested. Faults (DNS, connect, upstream) and rate/connection caps say nothing about the
 * allowlist and are only counted.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { AuditEvent } from './events.js';

/** Longest line read; a longer one is skipped as malformed without being buffered. */
export const MAX_AUDIT_LINE_BYTES = 1024 * 1024;
/** Distinct hosts, tools, refusals (each) kept per analysis; beyond it the result says it is truncated. */
export const MAX_DISTINCT_ENTRIES = 10_000;
/** Distinct agent names remembered (for "did you mean"). */
const MAX_AGENT_NAMES = 1000;
/** Malformed line numbers remembered (all are counted). */
const MAX_MALFORMED_SHOWN = 20;
/** Longest host / tool name taken from a record; longer values are not ours. */
const MAX_HOST = 300;
const MAX_TOOL = 128;

/** Egress refusals an allowlist entry would lift. */
const ALLOWLIST_EGRESS = new Set(['host_not_allowed', 'port_not_allowed', 'no_network']);
/** Egress refusals no allowlist entry lifts (report mode keeps refusing them too). */
const PROHIBITED_EGRESS = new Set([
  'metadata_prohibited',
  'address_prohibited',
  'port_blocked',
  'scheme_not_allowed',
  'host_invalid',
  'host_mismatch',
  'bad_request',
]);
/** Tool denials that came after the ACL had let the call through. */
const TOOL_AFTER_ACL = new Set(['api_calls_exceeded', 'args_invalid', 'cost_exceeded', 'cost_invalid']);
/** Tool denials no `tools_allowed` entry lifts. */
const PROHIBITED_TOOL = new Set(['denied_by_rule', 'unknown_tool', 'host_network_tool']);

/** One host the agent reached (or tried to reach). */
export interface HostUse {
  /** As `allowed_domains` writes it: a canonical name, an IPv4 literal or `[IPv6]`. */
  readonly host: string;
  readonly ports: readonly number[];
  /** Records that counted. */
  readonly count: number;
  /** Some of it was let through only by report mode (`enforced: false`). */
  readonly reportOnly: boolean;
  /** First line it was seen on. */
  readonly line: number;
}

/** One tool the agent called (or tried to call). */
export interface ToolUse {
  readonly tool: string;
  readonly count: number;
  readonly reportOnly: boolean;
  readonly line: number;
}

/** Something the agent tried that must stay refused. */
export interface Prohibited {
  readonly kind: 'egress' | 'tool';
  /** `host:port` for egress, the tool name for tools. */
  readonly target: string;
  /** The refusal reason as recorded (`metadata_prohibited`, `denied_by_rule`, ...). */
  readonly reason: string;
  /** The rule or range that refused it (`169.254.169.254/32`, `exec`), when recorded. */
  readonly rule: string | null;
  /** The resolved address refused, for egress, when recorded. */
  readonly address?: string;
  readonly count: number;
  readonly line: number;
}

/** What one pass over an audit log found for one agent. */
export interface AuditAnalysis {
  readonly agent: string;
  /** Agent names seen in the log with how many records each (at most 1000 names). */
  readonly agentsSeen: ReadonlyMap<string, number>;
  /** Records of this agent that counted for anything. */
  readonly records: number;
  readonly hosts: readonly HostUse[];
  readonly tools: readonly ToolUse[];
  /** Allowlist refusals while enforcing (not suggested unless asked for). */
  readonly refusedHosts: readonly HostUse[];
  readonly refusedTools: readonly ToolUse[];
  readonly prohibited: readonly Prohibited[];
  /** Records of this agent that say nothing about the allowlist, by `event:reason`. */
  readonly notCounted: Readonly<Record<string, number>>;
  /** Egress records the gateway left out (`egress.suppressed`): the log is incomplete. */
  readonly suppressed: number;
  readonly lines: number;
  readonly malformed: { readonly count: number; readonly lines: readonly number[] };
  /** A distinct-entry cap was reached: some entries are missing. */
  readonly truncated: boolean;
}

interface HostAcc {
  host: string;
  ports: Set<number>;
  count: number;
  reportOnly: boolean;
  line: number;
}
interface ToolAcc {
  tool: string;
  count: number;
  reportOnly: boolean;
  line: number;
}
interface ProhibitedAcc {
  kind: 'egress' | 'tool';
  target: string;
  reason: string;
  rule: string | null;
  address?: string;
  count: number;
  line: number;
}

function str(v: unknown, max: number): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= max ? v : undefined;
}

function port(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535 ? v : undefined;
}

/** How `allowed_domains` writes a recorded host: IPv6 literals in brackets. */
export function hostEntry(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Accumulates the records of one agent; feed it lines with {@link AuditAccumulator.line}. */
export class AuditAccumulator {
  readonly #agent: string;
  readonly #agents = new Map<string, number>();
  readonly #hosts = new Map<string, HostAcc>();
  readonly #refusedHosts = new Map<string, HostAcc>();
  readonly #tools = new Map<string, ToolAcc>();
  readonly #refusedTools = new Map<string, ToolAcc>();
  readonly #prohibited = new Map<string, ProhibitedAcc>();
  readonly #notCounted = new Map<string, number>();
  #records = 0;
  #suppressed = 0;
  #lines = 0;
  #malformed = 0;
  readonly #malformedLines: number[] = [];
  #truncated = false;

  constructor(agent: string) {
    this.#agent = agent;
  }

  /** A line that could not be used as a record (not JSON, not an object, too long). */
  malformedLine(lineNo: number): void {
    this.#lines = Math.max(this.#lines, lineNo);
    this.#malformed++;
    if (this.#malformedLines.length < MAX_MALFORMED_SHOWN) this.#malformedLines.push(lineNo);
  }

  /** One complete line (without its newline). */
  line(text: string, lineNo: number): void {
    this.#lines = Math.max(this.#lines, lineNo);
    if (text.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch {
      this.malformedLine(lineNo);
      return;
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
      this.malformedLine(lineNo);
      return;
    }
    this.#record(rec as Record<string, unknown>, lineNo);
  }

  #record(r: Record<string, unknown>, lineNo: number): void {
    const event = str(r['event'], 64);
    if (event === undefined) return; // not one of ours (another logger sharing the file)
    const agent = str(event.startsWith('plugin.') ? r['agentId'] : r['agent'], 256);
    if (agent === undefined) return;
    const seen = this.#agents.get(agent);
    if (seen !== undefined) this.#agents.set(agent, seen + 1);
    else if (this.#agents.size < MAX_AGENT_NAMES) this.#agents.set(agent, 1);
    if (agent !== this.#agent) return;
    switch (event) {
      case AuditEvent.EgressDecision:
        this.#egressDecision(r, lineNo);
        return;
      case AuditEvent.EgressClose: {
        const host = str(r['host'], MAX_HOST);
        const p = port(r['port']);
        if (host !== undefined && p !== undefined) this.#use(this.#hosts, host, p, false, lineNo);
        return;
      }
      case AuditEvent.EgressSuppressed: {
        const n = (Number(r['decisions']) || 0) + (Number(r['closes']) || 0);
        this.#suppressed += Number.isFinite(n) && n > 0 ? n : 0;
        return;
      }
      case AuditEvent.ToolDecision:
      case AuditEvent.PluginToolDecision:
        this.#toolDecision(r, event, lineNo);
        return;
      default:
        return;
    }
  }

  #egressDecision(r: Record<string, unknown>, lineNo: number): void {
    const host = str(r['host'], MAX_HOST);
    const p = port(r['port']);
    const reason = str(r['reason'], 64) ?? 'unknown';
    if (host === undefined || p === undefined) {
      this.#count(`egress.decision:${reason}`);
      return;
    }
    if (r['decision'] === 'allow') {
      this.#use(this.#hosts, host, p, r['enforced'] === false, lineNo);
    } else if (ALLOWLIST_EGRESS.has(reason)) {
      this.#use(this.#refusedHosts, host, p, false, lineNo);
    } else if (PROHIBITED_EGRESS.has(reason)) {
      const address = str(r['address'], 64);
      this.#prohibit(
        {
          kind: 'egress',
          target: `${hostEntry(host)}:${p}`,
          reason,
          rule: str(r['rule'], 256) ?? null,
          ...(address === undefined ? {} : { address }),
        },
        lineNo,
      );
    } else {
      this.#count(`egress.decision:${reason}`);
    }
  }

  #toolDecision(r: Record<string, unknown>, event: string, lineNo: number): void {
    const tool = str(r['tool'], MAX_TOOL);
    const reason = str(r['reason'], 64) ?? 'unknown';
    const allow = event === AuditEvent.PluginToolDecision ? r['allow'] === true : r['decision'] === 'allow';
    if (tool === undefined) {
      this.#count(`${event}:${reason}`);
      return;
    }
    if (allow || TOOL_AFTER_ACL.has(reason)) {
      this.#useTool(this.#tools, tool, r['enforced'] === false, lineNo);
    } else if (reason === 'not_allowed') {
      this.#useTool(this.#refusedTools, tool, false, lineNo);
    } else if (PROHIBITED_TOOL.has(reason)) {
      this.#prohibit({ kind: 'tool', target: tool, reason, rule: str(r['rule'], 256) ?? null }, lineNo);
    } else {
      this.#count(`${event}:${reason}`);
    }
  }

  #room(map: Map<string, unknown>, key: string): boolean {
    if (map.has(key) || map.size < MAX_DISTINCT_ENTRIES) return true;
    this.#truncated = true;
    return false;
  }

  #use(map: Map<string, HostAcc>, rawHost: string, p: number, reportOnly: boolean, lineNo: number): void {
    this.#records++;
    const host = hostEntry(rawHost);
    if (!this.#room(map, host)) return;
    const h = map.get(host);
    if (h === undefined) {
      map.set(host, { host, ports: new Set([p]), count: 1, reportOnly, line: lineNo });
      return;
    }
    h.count++;
    h.reportOnly ||= reportOnly;
    if (h.ports.size < 1000) h.ports.add(p);
  }

  #useTool(map: Map<string, ToolAcc>, tool: string, reportOnly: boolean, lineNo: number): void {
    this.#records++;
    if (!this.#room(map, tool)) return;
    const t = map.get(tool);
    if (t === undefined) {
      map.set(tool, { tool, count: 1, reportOnly, line: lineNo });
      return;
    }
    t.count++;
    t.reportOnly ||= reportOnly;
  }

  #prohibit(p: Omit<ProhibitedAcc, 'count' | 'line'>, lineNo: number): void {
    this.#records++;
    const key = `${p.kind}\0${p.target}\0${p.reason}\0${p.address ?? ''}`;
    if (!this.#room(this.#prohibited, key)) return;
    const e = this.#prohibited.get(key);
    if (e === undefined) this.#prohibited.set(key, { ...p, count: 1, line: lineNo });
    else e.count++;
  }

  #count(key: string): void {
    this.#records++;
    if (!this.#room(this.#notCounted, key)) return;
    this.#notCounted.set(key, (this.#notCounted.get(key) ?? 0) + 1);
  }

  /** The analysis so far. */
  result(): AuditAnalysis {
    const hosts = (m: Map<string, HostAcc>): HostUse[] =>
      [...m.values()]
        .map((h) => ({ ...h, ports: [...h.ports].sort((a, b) => a - b) }))
        .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
    const tools = (m: Map<string, ToolAcc>): ToolUse[] =>
      [...m.values()].map((t) => ({ ...t })).sort((a, b) => (a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : 0));
    return {
      agent: this.#agent,
      agentsSeen: new Map(this.#agents),
      records: this.#records,
      hosts: hosts(this.#hosts),
      tools: tools(this.#tools),
      refusedHosts: hosts(this.#refusedHosts),
      refusedTools: tools(this.#refusedTools),
      prohibited: [...this.#prohibited.values()].map((p) => ({ ...p })).sort((a, b) => a.line - b.line),
      notCounted: Object.fromEntries([...this.#notCounted].sort(([a], [b]) => (a < b ? -1 : 1))),
      suppressed: this.#suppressed,
      lines: this.#lines,
      malformed: { count: this.#malformed, lines: [...this.#malformedLines] },
      truncated: this.#truncated,
    };
  }
}

/**
 * Splits a byte stream into lines without ever holding more than {@link MAX_AUDIT_LINE_BYTES} of
 * one line: a longer line is dropped as malformed while it streams past.
 */
export async function readAuditLines(
  stream: Readable,
  onLine: (text: string, lineNo: number) => void,
  onOverlong: (lineNo: number) => void,
  maxLineBytes = MAX_AUDIT_LINE_BYTES,
): Promise<void> {
  // One object, not closed-over lets: the flow analysis cannot see the callbacks change them.
  const cur = { parts: [] as Buffer[], size: 0, overlong: false, lineNo: 0 };
  const finish = (): void => {
    cur.lineNo++;
    if (cur.overlong) onOverlong(cur.lineNo);
    else {
      let text = Buffer.concat(cur.parts, cur.size).toString('utf8');
      if (text.endsWith('\r')) text = text.slice(0, -1);
      onLine(text, cur.lineNo);
    }
    cur.parts = [];
    cur.size = 0;
    cur.overlong = false;
  };
  const add = (chunk: Buffer): void => {
    if (cur.overlong) return;
    if (cur.size + chunk.length > maxLineBytes) {
      cur.overlong = true;
      cur.parts = [];
      cur.size = 0;
      return;
    }
    cur.parts.push(chunk);
    cur.size += chunk.length;
  };
  for await (const raw of stream as AsyncIterable<Buffer | string>) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      add(chunk.subarray(start, nl));
      finish();
      start = nl + 1;
    }
    // Copy the tail: the stream may reuse its buffer.
    if (start < chunk.length) add(Buffer.from(chunk.subarray(start)));
  }
  if (cur.size > 0 || cur.overlong) finish();
}

/** Reads an audit log file (or stream) once and analyses the records of `agent`. */
export async function analyzeAuditLog(source: string | Readable, agent: string): Promise<AuditAnalysis> {
  const acc = new AuditAccumulator(agent);
  const stream = typeof source === 'string' ? createReadStream(source, { highWaterMark: 64 * 1024 }) : source;
  await readAuditLines(
    stream,
    (text, n) => {
      acc.line(text, n);
    },
    (n) => {
      acc.malformedLine(n);
    },
  );
  return acc.result();
}

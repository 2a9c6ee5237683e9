/**
 * Shared parts of the containment tests: hostile subagent programs that speak raw frames on the
 * IPC stream (fd 3), and a runner for an orchestrator in its own process
 * (containment-orchestrator-child.ts) whose exit code shows whether a subagent crashed it.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainmentJob } from './containment-orchestrator-child.js';
import { repoRoot } from './paths.js';
import type { AgentSpec } from './spawner-config.js';

/** Agent programs of the containment tests. */
export const CONTAINMENT_AGENTS: Readonly<Record<string, string>> = {
  // Writes the frames of task.frames (JSON texts; "@DEEP<n>@" stands for n nested arrays,
  // "@KEYS<n>@" for an object with n keys, "@STR<n>@" for n x's) to fd 3, bypassing the
  // runtime, then lingers briefly and exits without a result.
  'raw-frames.mjs': `import { writeSync } from 'node:fs';
function expand(text) {
  return text
    .replace(/@DEEP(\\d+)@/g, (_, n) => '['.repeat(Number(n)) + ']'.repeat(Number(n)))
    .replace(/@STR(\\d+)@/g, (_, n) => 'x'.repeat(Number(n)))
    .replace(/@KEYS(\\d+)@/g, (_, n) => '{' + Array.from({ length: Number(n) }, (_, i) => '"k' + i + '":0').join(',') + '}');
}
async function writeAll(buf) {
  for (let off = 0; off < buf.length; ) {
    try { off += writeSync(3, buf, off); }
    catch (e) { if (e.code !== 'EAGAIN') throw e; await new Promise((r) => setTimeout(r, 1)); }
  }
}
export default async (task) => {
  for (const f of task.frames) {
    const body = Buffer.from(expand(f), 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    await writeAll(Buffer.concat([head, body]));
  }
  await new Promise((r) => setTimeout(r, task.lingerMs ?? 3000));
  process.exit(0);
};`,
  // Calls each name in task.tools and spawns each name in task.agents; reports what came back.
  'names.mjs': `export default async (task, ctx) => {
  const out = [];
  for (const n of task.tools ?? []) {
    try { out.push({ tool: n, value: await ctx.tools.call(n, {}) }); } catch (e) { out.push({ tool: n, error: e.code }); }
  }
  for (const n of task.agents ?? []) {
    try { out.push({ agent: n, value: await ctx.spawn(n, {}) }); } catch (e) { out.push({ agent: n, error: e.code }); }
  }
  return out;
};`,
  // A subagent that hands over values deeper than the protocol carries, through the runtime:
  // log fields (replaced by a marker), tool arguments (the call fails) and its output.
  'too-deep.mjs': `export default async (task, ctx) => {
  let deep = null;
  for (let i = 0; i < task.depth; i++) deep = [deep];
  ctx.log('deep fields', { deep });
  let call = 'answered';
  try { await ctx.tools.call('echo', { deep }); } catch (e) { call = e.code ?? String(e); }
  ctx.log('tool call ' + call);
  return deep;
};`,
  // A benign sibling: task.calls echo calls spaced by task.gapMs, then its answer.
  'benign.mjs': `export default async (task, ctx) => {
  let n = 0;
  for (let i = 0; i < task.calls; i++) {
    const r = await ctx.tools.call('echo', { i });
    if (r.echoed.i === i) n++;
    ctx.log('benign step', { i });
    await new Promise((res) => setTimeout(res, task.gapMs));
  }
  return { answered: n };
};`,
  // Writes task.count tool_call frames for the 'big' tool to fd 3 and then blocks its thread, so
  // the runtime never reads the answers.
  'no-read.mjs': `import { writeSync } from 'node:fs';
export default async (task) => {
  for (let i = 0; i < task.count; i++) {
    const body = Buffer.from(JSON.stringify({ type: 'tool_call', callId: 1000 + i, name: 'big', args: { bytes: task.bytes } }));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    writeSync(3, Buffer.concat([head, body]));
  }
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, task.blockMs);
  return 'unblocked';
};`,
};

/** What the orchestrator process reported, with its audit records and exit status. */
export interface ContainmentResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderr: string;
  readonly outcomes: readonly {
    id: string;
    agent: string;
    status: string;
    reason?: string;
    detail?: string;
    code?: string;
    message?: string;
    output?: unknown;
  }[];
  readonly audit: readonly Record<string, unknown>[];
}

/** A temp dir with the containment agents in it; `remove()` deletes it. */
export function writeContainmentAgents(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sgtest-containment-'));
  // A root orchestrator runs process-level children as an unprivileged uid: they must reach it.
  chmodSync(dir, 0o755);
  for (const [name, src] of Object.entries(CONTAINMENT_AGENTS)) writeFileSync(join(dir, name), src);
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs a job in an orchestrator of its own process. Resolves when that process exits (killed
 * after `timeoutMs`), with whatever it printed.
 */
export async function runContainmentJob(
  job: Omit<ContainmentJob, 'auditPath'>,
  timeoutMs: number,
): Promise<ContainmentResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sgtest-containment-job-'));
  const jobPath = join(dir, 'job.json');
  const auditPath = join(dir, 'audit.log');
  writeFileSync(jobPath, JSON.stringify({ ...job, auditPath }));
  writeFileSync(auditPath, '');
  const script = join(repoRoot, 'build', 'test', 'helpers', 'containment-orchestrator-child.js');
  try {
    const child = spawn(process.execPath, [script, jobPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
      child.on('exit', (c, s) => {
        resolve([c, s]);
      });
    });
    clearTimeout(timer);
    const line = stdout.split('\n').find((l) => l.startsWith('{"outcomes"'));
    const outcomes =
      line === undefined ? [] : (JSON.parse(line) as { outcomes: ContainmentResult['outcomes'] }).outcomes;
    const audit = readFileSync(auditPath, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { code, signal, stderr, outcomes, audit };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A subagent agent spec for these tests (tight limits, the test tools allowed). */
export function containmentAgent(entry: string, tools: string[] = ['echo', 'big']): AgentSpec {
  return {
    entry,
    tools: { allowed: tools, denied: [] },
    constraints: { maxMemoryMb: 192, maxApiCalls: 200, timeoutSeconds: 15 },
  };
}

/**
 * Regression (issue 10, item 10, goal): a hostile subagent acting within its quotas costs the
 * orchestrator no more than a stated budget of memory and event-loop time, and a benign sibling's
 * tool latency stays within 2x of its quiet figure. On main, web_fetch against an origin answering
 * in 1-byte chunks held one Buffer per chunk (86 -> 355 MB RSS for 13 calls) and sanitized_parse
 * blocked the loop ~250 ms per MB: the sibling's median went from 7 to 113 ms.
 *
 * The hostile agent keeps four web_fetch calls on a 1-byte-chunk origin and one sanitized_parse
 * of a ~700 KB text in flight; the sibling calls a cheap tool in a loop, first alone (quiet), then
 * alongside it (load), in the same test.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { Orchestrator, Outcome, ToolDefinition } from '../../src/spawner/types.js';
import { collectAudit } from '../helpers/spawner-audit.js';
import { makeConfig } from '../helpers/spawner-config.js';
import { startHostileOrigin, type HostileOrigin } from '../helpers/hostile-origins.js';
import { liveChildren, removeDir, testResolver, writeAgents } from '../helpers/spawner-harness.js';

const ALLOWED = 'drip.allowed.test';
const ORIGIN_IP = '127.0.0.2';
const LEVELS = ['bubblewrap', 'unshare', 'process'] as const;
/**
 * Stated bounds (docs): sibling median within 2x of quiet + this slack; loop delay p99 (10 ms
 * resolution, included) under this. Typical here: 35-75 ms; the bound leaves room for a shared,
 * loaded machine. On main a single ~620 KB sanitized_parse blocked the loop ~150 ms.
 */
const SLACK_MS = 5;
const LOOP_DELAY_P99_MS = 200;
/** RSS the orchestrator may grow by while the hostile agent runs (its in-flight budget is 2 MiB). */
const RSS_GROWTH_MB = 150;

const HOSTILE = `export default async (task, ctx) => {
  const until = Date.now() + task.ms;
  const big = JSON.stringify(Array.from({ length: 14000 }, (_, i) => ({ id: i, name: 'n' + i, tags: ['a', 'b'] })));
  let fetches = 0, parses = 0, errors = 0;
  const fetchLoop = async () => {
    while (Date.now() < until) {
      try { await ctx.tools.call('web_fetch', { url: task.url, maxBytes: 256 * 1024 }); fetches++; } catch { errors++; }
    }
  };
  const parseLoop = async () => {
    while (Date.now() < until) {
      try { await ctx.tools.call('sanitized_parse', { text: big, maxBytes: 768 * 1024 }); parses++; } catch { errors++; }
    }
  };
  await Promise.all([...Array.from({ length: task.fetchers }, fetchLoop), ...Array.from({ length: task.parsers }, parseLoop)]);
  return { fetches, parses, errors, bytes: big.length };
};`;

const SIBLING = `export default async (task, ctx) => {
  const ms = [];
  for (let i = 0; i < task.n; i++) {
    const t0 = performance.now();
    await ctx.tools.call('ping', { i });
    ms.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 5));
  }
  return ms;
};`;

const ping: ToolDefinition = {
  description: 'a cheap tool',
  inputSchema: { type: 'object' },
  handler: () => Promise.resolve({ pong: true }),
};

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function output(o: Outcome): unknown {
  assert.equal(o.status, 'completed', o.status === 'completed' ? '' : JSON.stringify(o));
  return (o as { output: unknown }).output;
}

const detected = await detectIsolation();
let agentsDir = '';
let origin: HostileOrigin;

before(async () => {
  agentsDir = writeAgents();
  writeFileSync(join(agentsDir, 'hostile.mjs'), HOSTILE);
  writeFileSync(join(agentsDir, 'sibling.mjs'), SIBLING);
  origin = await startHostileOrigin(ORIGIN_IP);
});

after(async () => {
  await origin.close();
  removeDir(agentsDir);
});

for (const level of LEVELS) {
  void describe(`a hostile subagent's tool calls and a benign sibling at '${level}'`, () => {
    let orchestrator: Orchestrator | undefined;
    const skip = detected.available.includes(level)
      ? false
      : `isolation level '${level}' is not available here`;

    before(async () => {
      if (skip !== false) return;
      const network = {
        allowedDomains: [ALLOWED],
        allowedPorts: [origin.port],
        allowedCidrs: [`${ORIGIN_IP}/32`],
        maxEgressBytes: 512 * 1024 * 1024,
      };
      const config = makeConfig(
        {
          main: {
            role: 'parent',
            subagents: { allowAgents: '*', maxConcurrent: 4, maxChildren: 8, maxSpawnsPerMinute: 1000 },
          },
          hostile: {
            entry: join(agentsDir, 'hostile.mjs'),
            tools: { allowed: ['web_fetch', 'sanitized_parse'] },
            constraints: { maxMemoryMb: 256, maxApiCalls: 10_000, timeoutSeconds: 60 },
            network,
          },
          sibling: {
            entry: join(agentsDir, 'sibling.mjs'),
            tools: { allowed: ['ping'] },
            constraints: { maxMemoryMb: 256, maxApiCalls: 1000, timeoutSeconds: 60 },
          },
        },
        { baseDir: agentsDir },
      );
      const r = testResolver({ [ALLOWED]: ORIGIN_IP });
      orchestrator = await createOrchestrator({
        config,
        logger: collectAudit().logger.child({}, { level: 'warn' }),
        resolver: r.resolver,
        tools: { ping },
        isolation: level,
      });
    });

    after(async () => {
      await orchestrator?.close();
      assert.deepEqual(liveChildren(), [], 'no process left after close()');
    });

    const scenarios = [
      {
        name: 'sanitized_parse of ~620 KB texts and web_fetch of 256 KiB bodies',
        task: { fetchers: 4, parsers: 1, path: `/big?bytes=${256 * 1024}` },
        todo: false as const,
      },
      {
        name: 'web_fetch against an origin answering in 1-byte chunks',
        // 16 KiB answers: the gateway relays at most TARGET_CHUNKS_PER_SECOND chunks a second
        // for one subagent, so a bigger 1-byte-chunk answer would outlast web_fetch's deadline.
        task: { fetchers: 4, parsers: 0, path: `/drip?bytes=${16 * 1024}` },
        // Both web_fetch's reader and the gateway's relay coalesce 1-byte chunks.
        todo: false as const,
      },
    ];
    for (const sc of scenarios) {
      void test(
        `${sc.name}: the sibling keeps its latency and the parent its event loop`,
        { skip, todo: sc.todo, timeout: 120_000 },
        async () => {
          const o = orchestrator;
          assert.ok(o !== undefined);
          const sibling = async (): Promise<number[]> =>
            output(await o.run({ parent: 'main', agent: 'sibling', task: { n: 60 } })) as number[];
          await sibling(); // warm-up: first spawn, JIT
          const quiet = median(await sibling());

          const rssBefore = process.memoryUsage().rss;
          let rssPeak = rssBefore;
          const sampler = setInterval(() => {
            rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
          }, 50);
          // Over the hostile agent's whole run (~6 s, ~600 samples): one scheduler hiccup on a
          // busy machine is not its p99.
          const loop = monitorEventLoopDelay({ resolution: 10 });
          loop.enable();
          const hostile = o.run({
            parent: 'main',
            agent: 'hostile',
            task: { ms: 6000, ...sc.task, url: `http://${ALLOWED}:${origin.port}${sc.task.path}` },
          });
          try {
            await new Promise((r) => setTimeout(r, 1000)); // its calls are in flight
            const load = median(await sibling());
            const h = output(await hostile) as { fetches: number; parses: number; errors: number };
            loop.disable();
            const p99 = loop.percentile(99) / 1e6;
            const growth = (rssPeak - rssBefore) / 1048576;
            const figures = `quiet ${quiet.toFixed(2)} ms, load ${load.toFixed(2)} ms, loop p99 ${p99.toFixed(1)} ms, rss +${growth.toFixed(0)} MB, hostile ${JSON.stringify(h)}`;
            console.log(`[${level}] ${sc.name}: ${figures}`);
            assert.ok(
              h.fetches >= 4 && h.parses >= sc.task.parsers,
              `the hostile agent really ran: ${figures}`,
            );
            assert.equal(h.errors, 0, `its calls stayed within its quotas: ${figures}`);
            assert.ok(load <= 2 * quiet + SLACK_MS, `sibling median within 2x + ${SLACK_MS} ms: ${figures}`);
            assert.ok(
              p99 < LOOP_DELAY_P99_MS,
              `event-loop delay p99 under ${LOOP_DELAY_P99_MS} ms: ${figures}`,
            );
            assert.ok(growth < RSS_GROWTH_MB, `RSS growth under ${RSS_GROWTH_MB} MB: ${figures}`);
          } finally {
            clearInterval(sampler);
            loop.disable();
            await hostile.catch(() => undefined);
          }
        },
      );
    }
  });
}

/**
 * The goal of the containment work, measured: a subagent fetching from an origin that answers in
 * 1-byte chunks, as fast as the gateway lets it and within its quotas, must not make a sibling's
 * fetches much slower than they are on a quiet parent, nor grow the parent's memory without
 * bound. Both figures are measured in the same test, at every isolation level.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHostileOrigin, type HostileOrigin } from '../helpers/gateway-hostile-origin.js';
import {
  ALLOWED,
  ALLOWED_IP,
  LEVELS,
  describeOutcome,
  startContainment,
  type ContainmentEnv,
} from '../helpers/containment-level.js';
import type { Outcome } from '../../src/spawner/types.js';

const MB = 1024 * 1024;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** The sibling's fetch latencies (ms), warm-up dropped. */
async function siblingLatencies(env: ContainmentEnv, times: number): Promise<number[]> {
  const o = await env.run('fetch-loop.mjs', { url: env.smallUrl, times: times + 3 }, 'sibling');
  assert.equal(o.status, 'completed', describeOutcome(o));
  return (o.output as { ms: number[] }).ms.slice(3);
}

for (const level of LEVELS) {
  void describe(`a sibling's latency next to a 1-byte-chunk fetcher at isolation level '${level}'`, () => {
    let env: ContainmentEnv | null = null;
    let origin: HostileOrigin;
    before(async () => {
      origin = await startHostileOrigin(ALLOWED_IP);
      env = await startContainment(level, { extraPorts: [origin.port] });
    });
    after(async () => {
      await env?.close();
      await origin.close();
    });

    void test(
      'the sibling’s median stays within 2x of its quiet median (+ slack); the parent’s RSS growth stays bounded',
      { timeout: 90_000 },
      async (t) => {
        if (env === null) {
          t.skip(`isolation level '${level}' is not available on this machine`);
          return;
        }
        const e = env;
        const quietBefore = median(await siblingLatencies(e, 25));
        const rssBefore = process.memoryUsage().rss;
        let rssPeak = rssBefore;
        const sampler = setInterval(() => {
          rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        }, 25);
        let hostile: Outcome | undefined;
        try {
          const running = e
            .run('drip-fetch.mjs', {
              url: `http://${ALLOWED}:${origin.port}/ones?n=100000`,
              ms: 6000,
              parallel: 4,
            })
            .then((o) => (hostile = o));
          // Let it start and reach full speed before the sibling measures.
          const started = origin.written();
          const until = Date.now() + 10_000;
          while (origin.written() - started < 2 * MB && Date.now() < until)
            await new Promise((r) => setTimeout(r, 20));
          const loaded = median(await siblingLatencies(e, 25));
          const early = hostile;
          await running;
          assert.equal(
            early,
            undefined,
            `the fetcher ended before the sibling had measured: ${early === undefined ? '' : describeOutcome(early)}`,
          );
          // Quiet again once it is gone: the machine's own load changes while the test runs (other
          // work shares its cores), so the quiet figure is the slower of the two around the load.
          const quiet = Math.max(quietBefore, median(await siblingLatencies(e, 25)));
          // Slack: a few ms of scheduling noise on a small shared machine.
          assert.ok(
            loaded <= 2 * quiet + 10,
            `sibling median ${loaded.toFixed(1)} ms vs quiet ${quiet.toFixed(1)} ms`,
          );
          t.diagnostic(`sibling median ${loaded.toFixed(1)} ms under load vs quiet ${quiet.toFixed(1)} ms`);
        } finally {
          clearInterval(sampler);
        }
        assert.ok(hostile !== undefined);
        assert.equal(hostile.status, 'completed', describeOutcome(hostile));
        const moved = hostile.output as { bytes: number; requests: number };
        assert.ok(moved.requests > 4, `the fetcher made ${moved.requests} requests`);
        assert.ok(
          rssPeak - rssBefore <= 96 * MB,
          `parent RSS grew by ${((rssPeak - rssBefore) / MB).toFixed(1)} MiB`,
        );
        t.diagnostic(
          `fetcher moved ${(moved.bytes / MB).toFixed(1)} MiB in ${moved.requests} requests; RSS +${((rssPeak - rssBefore) / MB).toFixed(1)} MiB`,
        );
      },
    );
  });
}

/**
 * Regressions (issue 10, item 10): what web_fetch, which runs in the orchestrator, costs it and
 * who decides its refusals, at every isolation level available here.
 *  - A redirect the ORIGIN chose to a target the agent's policy refuses is a tool error
 *    (SG_TOOL_REDIRECT_DENIED), not a violation: on main it terminated the subagent egress_denied.
 *    The subagent's own first hop to such a target stays a violation, and so does a redirect to an
 *    allowed NAME whose DNS answer is prohibited (decided by the gateway, after DNS).
 *  - A call at web_fetch's own maxBytes maximum fits the broker's result cap (on main it always
 *    failed it), a body that grows under JSON escaping is cut to fit.
 *  - 32 concurrent calls print no MaxListenersExceededWarning (on main: more than 10 did).
 *  - Every call has a total deadline: a 1 byte / 200 ms origin and a never-ending chunk extension
 *    cannot hold a call (on main only the 15 s per-chunk idle timeout applied, reset per chunk).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { Orchestrator, Outcome } from '../../src/spawner/types.js';
import { WEB_FETCH_LIMITS } from '../../src/tools/builtin/index.js';
import { MAX_TOOL_RESULT_BYTES } from '../../src/tools/limits.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import { startHostileOrigin, type HostileOrigin } from '../helpers/hostile-origins.js';
import {
  eventually,
  liveChildren,
  removeDir,
  testResolver,
  writeAgents,
} from '../helpers/spawner-harness.js';

const ALLOWED = 'api.allowed.test';
/** Allowed by name, but it resolves to an address outside allowed_cidrs. */
const TRAPPED_NAME = 'trapped.allowed.test';
const ORIGIN_IP = '127.0.0.2';
const TRAP_IP = '127.0.0.9';
const LEVELS = ['bubblewrap', 'unshare', 'process'] as const;

const PARALLEL = `export default async (task, ctx) => Promise.all(task.calls.map((c) => {
  const t0 = performance.now();
  return ctx.tools.call(c.name, c.args).then(
    (value) => ({
      ok: true,
      // Large answers come back as their measurements (the subagent's own output is capped too).
      value: task.summarize
        ? { bodyLength: value.body.length, truncated: value.truncated, resultBytes: new TextEncoder().encode(JSON.stringify(value)).length }
        : value,
      ms: performance.now() - t0,
    }),
    (e) => ({ ok: false, code: e?.code ?? null, message: String(e?.message ?? e), ms: performance.now() - t0 }),
  );
}));`;

type CallResult = {
  ok: boolean;
  value?: Record<string, unknown>;
  code?: string;
  message?: string;
  ms: number;
};

const detected = await detectIsolation();
let agentsDir = '';
let origin: HostileOrigin;
let trap: HostileOrigin;

before(async () => {
  agentsDir = writeAgents();
  writeFileSync(join(agentsDir, 'parallel.mjs'), PARALLEL);
  origin = await startHostileOrigin(ORIGIN_IP);
  trap = await startHostileOrigin(TRAP_IP);
});

after(async () => {
  await origin.close();
  await trap.close();
  removeDir(agentsDir);
});

function describeOutcome(o: Outcome): string {
  return o.status === 'terminated'
    ? `terminated ${o.reason}: ${o.detail}`
    : o.status === 'failed'
      ? `failed ${o.error.code}: ${o.error.message}`
      : 'completed';
}

function results(o: Outcome): CallResult[] {
  assert.equal(o.status, 'completed', describeOutcome(o));
  return (o as { output: CallResult[] }).output;
}

for (const level of LEVELS) {
  void describe(`web_fetch in the parent at isolation level '${level}'`, () => {
    let orchestrator: Orchestrator | undefined;
    let audit: CollectedAudit;
    const skip = detected.available.includes(level)
      ? false
      : `isolation level '${level}' is not available here`;

    before(async () => {
      if (skip !== false) return;
      const net: AgentSpec['network'] = {
        allowedDomains: [ALLOWED, TRAPPED_NAME, TRAP_IP],
        allowedPorts: [origin.port, trap.port],
        allowedCidrs: [`${ORIGIN_IP}/32`],
        maxEgressBytes: 64 * 1024 * 1024,
      };
      const config = makeConfig(
        {
          main: {
            role: 'parent',
            subagents: { allowAgents: '*', maxConcurrent: 4, maxChildren: 8, maxSpawnsPerMinute: 1000 },
          },
          worker: {
            entry: join(agentsDir, 'parallel.mjs'),
            tools: { allowed: ['web_fetch'] },
            constraints: { maxMemoryMb: 256, maxApiCalls: 100, timeoutSeconds: 60 },
            network: net,
          },
        },
        { baseDir: agentsDir },
      );
      audit = collectAudit();
      const r = testResolver({ [ALLOWED]: ORIGIN_IP, [TRAPPED_NAME]: TRAP_IP });
      orchestrator = await createOrchestrator({
        config,
        logger: audit.logger,
        resolver: r.resolver,
        isolation: level,
      });
    });

    after(async () => {
      await orchestrator?.close();
      assert.deepEqual(liveChildren(), [], 'no process left after close()');
    });

    const run = (calls: { name: string; args: unknown }[], summarize = false): Promise<Outcome> => {
      if (orchestrator === undefined) throw new Error('no orchestrator');
      return orchestrator.run({ parent: 'main', agent: 'worker', task: { calls, summarize } });
    };
    const url = (path: string, host = ALLOWED, port = origin.port): string => `http://${host}:${port}${path}`;
    const redirectTo = (to: string): string => url(`/redirect?to=${encodeURIComponent(to)}`);

    void test(
      'a redirect chosen by an allowed origin to a refused target is a tool error; the subagent completes',
      { skip, timeout: 30_000 },
      async () => {
        const targets = [
          { to: url('/', 'exfil.attacker.test'), reason: 'host_not_allowed' },
          { to: url('/', TRAP_IP, trap.port), reason: 'address_prohibited' },
          { to: url('/', ALLOWED, 1), reason: 'port_not_allowed' },
        ];
        const o = await run(targets.map((t) => ({ name: 'web_fetch', args: { url: redirectTo(t.to) } })));
        const out = results(o);
        for (const [i, t] of targets.entries()) {
          const r = out[i];
          assert.equal(r?.ok, false, t.to);
          assert.equal(r.code, 'SG_TOOL_REDIRECT_DENIED', r.message);
        }
        const denied = audit
          .events('tool.result')
          .filter((e) => e['subagentId'] === o.id)
          .map((e) => (e['denied'] as { reason?: string } | undefined)?.reason);
        assert.deepEqual(
          denied.sort(),
          targets.map((t) => t.reason).sort(),
          'each refusal audited once, with its reason',
        );
        assert.equal(
          audit.events('egress.decision').filter((e) => e['subagentId'] === o.id && e['decision'] !== 'allow')
            .length,
          0,
          'the gateway never saw a refused hop',
        );
        assert.equal(audit.events('subagent.violation').filter((e) => e['subagentId'] === o.id).length, 0);
      },
    );

    void test(
      "the subagent's own first hop to a refused target stays an egress_denied violation",
      { skip, timeout: 30_000 },
      async () => {
        const o = await run([{ name: 'web_fetch', args: { url: url('/', 'exfil.attacker.test') } }]);
        assert.equal(o.status, 'terminated', describeOutcome(o));
        assert.equal(o.reason, 'egress_denied');
      },
    );

    void test(
      'residual: a redirect to an allowed name whose DNS answer is prohibited is refused by the gateway as a violation',
      { skip, timeout: 30_000 },
      async () => {
        const o = await run([
          { name: 'web_fetch', args: { url: redirectTo(url('/', TRAPPED_NAME, trap.port)) } },
        ]);
        assert.equal(o.status, 'terminated', describeOutcome(o));
        assert.equal(o.reason, 'egress_denied');
      },
    );

    void test(
      'a call at maxBytes = hardMaxBytes fits the result cap; an escaping-heavy body is cut to fit',
      { skip, timeout: 60_000 },
      async () => {
        const max = WEB_FETCH_LIMITS.hardMaxBytes;
        assert.ok(max < MAX_TOOL_RESULT_BYTES);
        const o = await run(
          [
            { name: 'web_fetch', args: { url: url(`/big?bytes=${max}`), maxBytes: max } },
            { name: 'web_fetch', args: { url: url(`/ctl?bytes=${max}`), maxBytes: max } },
          ],
          true,
        );
        const [plain, ctl] = results(o);
        assert.equal(plain?.ok, true, plain?.message);
        assert.equal(plain.value?.['bodyLength'], max, 'the whole body');
        assert.equal(plain.value['truncated'], false);
        assert.ok(Number(plain.value['resultBytes']) <= MAX_TOOL_RESULT_BYTES);
        assert.equal(ctl?.ok, true, ctl?.message);
        assert.equal(ctl.value?.['truncated'], true);
        assert.ok(Number(ctl.value['bodyLength']) > 0);
        assert.ok(Number(ctl.value['resultBytes']) <= MAX_TOOL_RESULT_BYTES);
      },
    );

    void test(
      '32 concurrent calls succeed without a MaxListenersExceededWarning',
      { skip, timeout: 60_000 },
      async () => {
        const warnings: string[] = [];
        const onWarning = (w: Error): void => {
          if (w.name === 'MaxListenersExceededWarning') warnings.push(w.message);
        };
        process.on('warning', onWarning);
        try {
          const o = await run(
            Array.from({ length: 32 }, () => ({ name: 'web_fetch', args: { url: url('/drip?bytes=2000') } })),
          );
          const out = results(o);
          assert.equal(
            out.filter((r) => r.ok && String(r.value?.['body']).length === 2000).length,
            32,
            JSON.stringify(out.find((r) => !r.ok)),
          );
          // Warnings are emitted on process.nextTick: give them a turn.
          await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(warnings, []);
        } finally {
          process.off('warning', onWarning);
        }
      },
    );

    void test('a total deadline ends a call held by a slow origin', { skip, timeout: 60_000 }, async () => {
      const o = await run([{ name: 'web_fetch', args: { url: url('/slow'), timeoutMs: 1500 } }]);
      const [slow] = results(o);
      assert.equal(slow?.ok, false);
      assert.match(slow.message ?? '', /no complete answer within 1500 ms/);
      assert.ok(slow.ms < 10_000, `call ended after ${Math.round(slow.ms)} ms`);
      assert.equal(WEB_FETCH_LIMITS.totalTimeoutMs, 30_000, 'the documented default');
      assert.ok(await eventually(() => liveChildren({ exceptParked: true }).length === 0));
    });

    void test(
      'a never-ending chunk extension is counted in wire bytes and ends in egress_bytes_exceeded',
      { skip, timeout: 60_000 },
      async () => {
        const started = performance.now();
        const o = await run([{ name: 'web_fetch', args: { url: url('/ext'), timeoutMs: 20_000 } }]);
        // The extension carries no body byte: only counting what came off the wire catches it
        // (on main the call moved gigabytes with egressBytesIn 0), long before any deadline.
        assert.ok(o.status === 'terminated', describeOutcome(o));
        assert.equal(o.reason, 'egress_bytes_exceeded');
        assert.ok(o.usage.egressBytesIn >= 32 * 1024 * 1024, `egressBytesIn ${o.usage.egressBytesIn}`);
        assert.ok(performance.now() - started < 15_000, 'ended well before the call deadline');
        assert.ok(await eventually(() => liveChildren({ exceptParked: true }).length === 0));
      },
    );
  });
}

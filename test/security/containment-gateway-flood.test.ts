/**
 * A live subagent leaning on its gateway, at every isolation level: connections held open in a
 * loop (the parent's descriptors), and requests without its credential in a loop (the audit
 * log). Each must end bounded, the hostile one terminated wherever it can be told apart, and a
 * sibling spawned right after must complete.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHostileOrigin, type HostileOrigin } from '../helpers/gateway-hostile-origin.js';
import {
  ALLOWED,
  ALLOWED_IP,
  LEVELS,
  describeOutcome,
  openFds,
  startContainment,
  type ContainmentEnv,
} from '../helpers/containment-level.js';

/** Per-subagent connection cap of these orchestrators. */
const CAP = 24;

/** Runs `fn` while sampling this process's descriptors; resolves its result and the peak. */
async function sampleFds<T>(fn: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = openFds();
  const timer = setInterval(() => {
    peak = Math.max(peak, openFds());
  }, 10);
  try {
    const result = await fn();
    return { result, peak: Math.max(peak, openFds()) };
  } finally {
    clearInterval(timer);
  }
}

for (const level of LEVELS) {
  void describe(`gateway flood by a live subagent at isolation level '${level}'`, () => {
    let env: ContainmentEnv | null = null;
    let origin: HostileOrigin;
    before(async () => {
      origin = await startHostileOrigin(ALLOWED_IP);
      env = await startContainment(level, {
        gateway: { maxConnectionsPerSubagent: CAP },
        extraPorts: [origin.port],
      });
    });
    after(async () => {
      await env?.close();
      await origin.close();
    });

    void test(
      'an origin hiding 4 MiB in a chunk extension ends the run as egress_bytes_exceeded at 64 KiB',
      { timeout: 60_000 },
      async (t) => {
        if (env === null) {
          t.skip(`isolation level '${level}' is not available on this machine`);
          return;
        }
        const url = `http://${ALLOWED}:${origin.port}/ext?bytes=${4 * 1024 * 1024}`;
        const o = await env.run('ext-fetch.mjs', { url }, 'capped');
        assert.equal(o.status === 'terminated' && o.reason, 'egress_bytes_exceeded', describeOutcome(o));
        assert.ok(o.usage.egressBytesIn <= 64 * 1024, `egressBytesIn ${o.usage.egressBytesIn}`);
        assert.ok(
          o.usage.egressBytesIn > 16 * 1024,
          `the extension bytes were counted: ${o.usage.egressBytesIn}`,
        );
      },
    );

    void test(
      'connections held open in a loop end in protocol_violation; the parent’s descriptors stay bounded; a sibling completes',
      { timeout: 60_000 },
      async (t) => {
        if (env === null) {
          t.skip(`isolation level '${level}' is not available on this machine`);
          return;
        }
        const e = env;
        const before = openFds();
        const { result: o, peak } = await sampleFds(() =>
          // At process level only a connection that proved its credential is this subagent's.
          e.run('conn-flood.mjs', { url: e.smallUrl, max: 400, ms: 10_000, prove: level === 'process' }),
        );
        assert.equal(o.status === 'terminated' && o.reason, 'protocol_violation', describeOutcome(o));
        assert.match(describeOutcome(o), /connection_limit/);
        // Its capped connections, its sandbox's pipes and the pooled connections to the API.
        assert.ok(peak - before <= CAP + 40, `descriptors grew from ${before} to ${peak}`);
        const sibling = await e.run('fetch-loop.mjs', { url: e.smallUrl, times: 3 }, 'sibling');
        assert.equal(sibling.status, 'completed', describeOutcome(sibling));
      },
    );

    void test(
      'requests without the credential in a loop: bounded, attributed records; terminated where the socket is its own',
      { timeout: 60_000 },
      async (t) => {
        if (env === null) {
          t.skip(`isolation level '${level}' is not available on this machine`);
          return;
        }
        const e = env;
        const unattributed = (): number =>
          e.audit.events('egress.decision').filter((r) => r['subagentId'] === null).length;
        const nullBefore = unattributed();
        const started = performance.now();
        const o = await e.run('auth-flood.mjs', { url: e.smallUrl, max: 5000, ms: 4000 });
        const seconds = (performance.now() - started) / 1000;
        const mine = e.audit.events('egress.decision').filter((r) => r['subagentId'] === o.id);
        const nullGrowth = unattributed() - nullBefore;
        if (level === 'process') {
          // The shared TCP listener cannot tell who sent a request without a credential: not
          // attributable, not a violation, but its records are rate-bounded (burst 100, 10/s).
          assert.equal(o.status, 'completed', describeOutcome(o));
          const statuses = o.output as { statuses: Record<string, number> };
          // 0: the program wrote its next request before it saw the gateway close the connection.
          assert.ok(
            Object.keys(statuses.statuses).every((k) => k === '407' || k === '0') &&
              (statuses.statuses['407'] ?? 0) > 100,
            JSON.stringify(statuses),
          );
          assert.ok(nullGrowth <= 100 + Math.ceil(seconds * 10) + 1, `${nullGrowth} records in ${seconds} s`);
        } else {
          assert.equal(o.status === 'terminated' && o.reason, 'protocol_violation', describeOutcome(o));
          assert.match(describeOutcome(o), /auth_failures/);
          assert.ok(mine.length >= 9 && mine.length <= 16, `${mine.length} records attributed to it`);
          assert.ok(
            mine.every((r) => r['status'] === 407 || r['status'] === 429),
            'its records are the refusals it caused',
          );
          assert.equal(nullGrowth, 0, 'nothing it sent is left unattributed');
        }
        const sibling = await e.run('fetch-loop.mjs', { url: e.smallUrl, times: 3 }, 'sibling');
        assert.equal(sibling.status, 'completed', describeOutcome(sibling));
      },
    );
  });
}

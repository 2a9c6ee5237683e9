/**
 * The orchestrator's finer guarantees, at the strongest isolation level this machine has:
 * web_fetch re-checks every redirect hop at the gateway, a subagent's credential is refused once
 * it ended, child stdout/stderr reach the audit log (bounded, credential masked) and explain a
 * crash, every usage figure of the outcome is measured, and a V8 heap hog is stopped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { isAbsolute, join } from 'node:path';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { Orchestrator, Outcome, ToolDefinition } from '../../src/spawner/types.js';
import { collectAudit, type CollectedAudit } from '../helpers/spawner-audit.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import {
  establishedOnPort,
  eventually,
  liveChildren,
  removeDir,
  startLoopbackServer,
  tempEntries,
  testResolver,
  writeAgents,
  type LoopbackServer,
} from '../helpers/spawner-harness.js';
import { fixturesDir } from '../helpers/paths.js';

const ALLOWED = 'api.allowed.test';
const ALLOWED_TOO = 'api2.allowed.test';
const ALLOWED_IP = '127.0.0.2';
const TRAP_IP = '127.0.0.9';

let agentsDir = '';
let api: LoopbackServer;
let trap: LoopbackServer;
let wss: WebSocketServer;
let orchestrator: Orchestrator;
let audit: CollectedAudit;
let queries: string[] = [];
let reported: (proxy: string) => void = () => undefined;

const paid: ToolDefinition = {
  description: 'a paid tool',
  inputSchema: { type: 'object' },
  costUsd: 0.1,
  handler: () => Promise.resolve({ paid: true }),
};

const report: ToolDefinition = {
  description: 'receives what the subagent reports',
  inputSchema: { type: 'object', properties: { proxy: { type: 'string' } }, required: ['proxy'] },
  handler: (args) => {
    reported((args as { proxy: string }).proxy);
    return Promise.resolve(true);
  },
};

before(async () => {
  agentsDir = writeAgents();
  api = await startLoopbackServer(ALLOWED_IP);
  trap = await startLoopbackServer(TRAP_IP);
  wss = new WebSocketServer({ host: ALLOWED_IP, port: 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (socket) => {
    socket.on('message', (m: Buffer) => {
      socket.send(`echo ${m.toString('utf8')}`);
    });
  });
  const net: AgentSpec['network'] = {
    allowedDomains: [ALLOWED, ALLOWED_TOO, TRAP_IP],
    allowedPorts: [api.port, trap.port, (wss.address() as AddressInfo).port],
    allowedCidrs: [`${ALLOWED_IP}/32`],
    maxEgressBytes: 256 * 1024,
  };
  const worker = (entry: string, over: AgentSpec = {}): AgentSpec => ({
    entry: isAbsolute(entry) ? entry : join(agentsDir, entry),
    tools: { allowed: ['web_fetch', 'paid', 'report'] },
    constraints: { maxMemoryMb: 160, maxApiCalls: 30, maxCostUsd: 1, timeoutSeconds: 15 },
    network: net,
    ...over,
  });
  const config = makeConfig(
    {
      main: {
        role: 'parent',
        subagents: { allowAgents: '*', maxConcurrent: 4, maxChildren: 8, maxSpawnsPerMinute: 1000 },
      },
      tools: worker('tools.mjs'),
      print: worker('print.mjs'),
      crasher: worker('stderr-exit.mjs'),
      reporter: worker('report.mjs'),
      usage: worker('usage.mjs'),
      lazy: worker('lazy.mjs'),
      websocket: worker('websocket.mjs'),
      flood: worker(join(fixturesDir, 'agents', 'stdout-flood.mjs')),
      heap: worker(join(fixturesDir, 'agents', 'heap-bomb.mjs')),
    },
    { baseDir: agentsDir },
  );
  audit = collectAudit();
  const r = testResolver({ [ALLOWED]: ALLOWED_IP, [ALLOWED_TOO]: ALLOWED_IP });
  queries = r.queries;
  const { best } = await detectIsolation();
  orchestrator = await createOrchestrator({
    config,
    logger: audit.logger,
    resolver: r.resolver,
    tools: { paid, report },
    isolation: best,
  });
});

after(async () => {
  await orchestrator.close();
  await api.close();
  await trap.close();
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => {
    wss.close(() => {
      resolve();
    });
  });
  removeDir(agentsDir);
  assert.equal(trap.connections(), 0, 'the trap server must never be reached');
  assert.ok(!queries.includes('exfil.attacker.test'), 'denied names are never resolved');
});

/** Nothing of the finished subagents is left: processes, scratch dirs, gateway connections. */
async function assertNothingLeft(): Promise<void> {
  assert.deepEqual(orchestrator.active(), []);
  assert.ok(
    await eventually(() => liveChildren({ exceptParked: true }).length === 0),
    `live children: ${liveChildren({ exceptParked: true }).join(',')}`,
  );
  const prefixes = audit.events('subagent.spawn').map((e) => `sg-${String(e['subagentId']).slice(0, 24)}-`);
  assert.deepEqual(
    tempEntries().filter((e) => prefixes.some((p) => e.startsWith(p))),
    [],
  );
  const port = orchestrator.gateway.address.port;
  assert.ok(await eventually(() => establishedOnPort(port) === 0), 'no gateway connection stays open');
}

function run(agent: string, task: unknown): Promise<Outcome> {
  return orchestrator.run({ parent: 'main', agent, task });
}

function describeOutcome(o: Outcome): string {
  return o.status === 'terminated'
    ? `terminated ${o.reason}: ${o.detail}`
    : o.status === 'failed'
      ? `failed ${o.error.code}: ${o.error.message}`
      : 'completed';
}

type ToolCallResult = { ok: boolean; value?: Record<string, unknown>; code?: string; message?: string };

function toolResults(o: Outcome): ToolCallResult[] {
  assert.equal(o.status, 'completed', describeOutcome(o));
  return (o as { output: ToolCallResult[] }).output;
}

/** Hosts of one subagent's allowed egress decisions, in order. */
function allowedHops(id: string): string[] {
  return audit
    .events('egress.decision')
    .filter((e) => e['subagentId'] === id && e['decision'] === 'allow')
    .map((e) => String(e['host']));
}

/** One request through the gateway's TCP listener with a credential; resolves the status code. */
function viaGateway(proxyUrl: string): Promise<number> {
  const u = new URL(proxyUrl);
  const auth = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString(
    'base64',
  );
  const gw = orchestrator.gateway.address;
  return new Promise((resolve, reject) => {
    const req = request({
      host: gw.host,
      port: gw.port,
      method: 'GET',
      path: `http://${ALLOWED}:${api.port}/small`,
      headers: {
        host: `${ALLOWED}:${api.port}`,
        'proxy-authorization': `Basic ${auth}`,
        connection: 'close',
      },
      timeout: 5000,
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('gateway request timed out')));
    req.on('error', reject);
    req.end();
  });
}

void describe('web_fetch through the gateway', () => {
  void test(
    'follows a redirect to another allowed name, one gateway decision per hop',
    { timeout: 20_000 },
    async () => {
      const target = `http://${ALLOWED_TOO}:${api.port}/small`;
      const o = await run('tools', {
        calls: [
          {
            name: 'web_fetch',
            args: { url: `http://${ALLOWED}:${api.port}/redirect?to=${encodeURIComponent(target)}` },
          },
        ],
      });
      const [r] = toolResults(o);
      assert.equal(r?.ok, true, r?.message);
      assert.equal(r.value?.['status'], 200);
      assert.equal(r.value['redirects'], 1);
      assert.equal(r.value['url'], target);
      assert.deepEqual(allowedHops(o.id), [ALLOWED, ALLOWED_TOO]);
      assert.equal(o.usage.egressRequests, 2, 'each hop is its own gateway request');
      await assertNothingLeft();
    },
  );

  const deniedHops = [
    { name: 'a name outside the allowlist', to: () => `http://exfil.attacker.test:${api.port}/` },
    { name: 'a prohibited address', to: () => `http://${TRAP_IP}:${trap.port}/` },
  ];
  for (const hop of deniedHops) {
    // The origin chose the target, not the subagent: a tool error, and the subagent runs on
    // (containment-tools-redirect.test.ts covers every level and the residual DNS case).
    void test(
      `a redirect to ${hop.name} is a tool error, not followed, and the subagent completes`,
      { timeout: 20_000 },
      async () => {
        const o = await run('tools', {
          calls: [
            {
              name: 'web_fetch',
              args: { url: `http://${ALLOWED}:${api.port}/redirect?to=${encodeURIComponent(hop.to())}` },
            },
          ],
        });
        const [r] = toolResults(o);
        assert.equal(r?.ok, false);
        assert.equal(r.code, 'SG_TOOL_REDIRECT_DENIED', r.message);
        assert.equal(trap.connections(), 0);
        await assertNothingLeft();
      },
    );
  }

  void test(
    'stops after 5 redirects with a tool error (not a violation); 5 are fine',
    { timeout: 20_000 },
    async () => {
      const o = await run('tools', {
        calls: [
          { name: 'web_fetch', args: { url: `http://${ALLOWED}:${api.port}/chain?n=5` } },
          { name: 'web_fetch', args: { url: `http://${ALLOWED}:${api.port}/chain?n=6` } },
        ],
      });
      const [five, six] = toolResults(o);
      assert.equal(five?.ok, true, five?.message);
      assert.equal(five.value?.['redirects'], 5);
      assert.equal(five.value['body'], 'end of chain');
      assert.equal(six?.ok, false);
      assert.equal(six.code, 'SG_TOOL_FAILED');
      assert.match(six.message ?? '', /more than 5 redirects/);
      assert.equal(o.usage.egressRequests, 12, '6 requests per call');
    },
  );

  void test('truncates a body over maxBytes and says so', { timeout: 20_000 }, async () => {
    const o = await run('tools', {
      calls: [
        { name: 'web_fetch', args: { url: `http://${ALLOWED}:${api.port}/big?bytes=5000`, maxBytes: 1000 } },
        { name: 'web_fetch', args: { url: `http://${ALLOWED}:${api.port}/big?bytes=500`, maxBytes: 1000 } },
      ],
    });
    const [big, small] = toolResults(o);
    assert.equal(big?.ok, true, big?.message);
    assert.equal(big.value?.['truncated'], true);
    assert.equal(String(big.value['body']).length, 1000);
    assert.equal(small?.value?.['truncated'], false);
    assert.equal(String(small.value['body']).length, 500);
  });
});

void describe('teardown and accounting', () => {
  void test(
    'a subagent’s credential works while it runs and gets 407 once it ended',
    { timeout: 20_000 },
    async () => {
      const proxyUrl = new Promise<string>((resolve) => {
        reported = resolve;
      });
      const handle = orchestrator.spawn({ parent: 'main', agent: 'reporter', task: null });
      const inside = await proxyUrl;
      // In namespaced modes HTTP_PROXY is the in-namespace forwarder; the credential is the same.
      assert.match(inside, /^http:\/\/[^:]+:[^@]+@/);
      assert.equal(await viaGateway(inside), 200, 'the live credential is accepted');
      const o = await handle.terminate('test over');
      assert.equal(o.status === 'terminated' && o.reason, 'cancelled');
      assert.equal(await viaGateway(inside), 407, 'the revoked credential is refused');
      await assertNothingLeft();
    },
  );

  void test('every usage figure of the outcome is measured', { timeout: 20_000 }, async () => {
    const o = await run('usage', { url: `http://${ALLOWED}:${api.port}/big?bytes=20000` });
    assert.equal(o.status, 'completed', describeOutcome(o));
    const u = o.usage;
    assert.ok(u.wallMs > 150, `wallMs ${u.wallMs}`);
    assert.equal(u.toolCalls, 2);
    assert.equal(u.egressRequests, 2, 'one brokered, one direct fetch');
    // The unit: one per tool call and one per request the subagent itself sends; web_fetch's
    // own request is paid by its call.
    assert.equal(u.apiCalls, u.toolCalls + u.egressRequests - 1);
    assert.equal(u.apiCalls, 3);
    assert.ok(Math.abs(u.costUsd - 0.1) < 1e-9, `costUsd ${u.costUsd}`);
    assert.ok(u.peakRssMb > 24 && u.peakRssMb < 160, `peakRssMb ${u.peakRssMb}`);
    assert.ok(u.egressBytesIn >= 2 * 20000, `egressBytesIn ${u.egressBytesIn}`);
    assert.ok(u.egressBytesOut > 0, `egressBytesOut ${u.egressBytesOut}`);
    assert.deepEqual(
      { bytesIn: u.egressBytesIn, bytesOut: u.egressBytesOut, requests: u.egressRequests },
      orchestrator.gateway.usage(o.id),
      'the outcome carries the gateway’s own byte counts',
    );
    const closes = audit.events('egress.close').filter((e) => e['subagentId'] === o.id);
    const sum = (k: string): number => closes.reduce((n, e) => n + Number(e[k] ?? 0), 0);
    assert.equal(sum('bytesIn'), u.egressBytesIn, 'bytes in = the audited connections’ bytes');
    assert.equal(sum('bytesOut'), u.egressBytesOut);
    const exit = audit.events('subagent.exit').find((e) => e['subagentId'] === o.id);
    assert.deepEqual(exit?.['usage'], u, 'the exit audit event carries the same usage');
  });
});

void describe('egress inside the child', () => {
  void test(
    'undici is loaded on the first request only, and the dispatcher slot cannot be replaced',
    { timeout: 20_000 },
    async () => {
      const o = await run('lazy', { url: `http://${ALLOWED}:${api.port}/small` });
      assert.equal(o.status, 'completed', describeOutcome(o));
      assert.deepEqual((o as { output: unknown }).output, {
        before: false,
        after: true,
        status: 200,
        frozen: true,
        replaced: false,
        same: true,
      });
      assert.equal(o.usage.egressRequests, 1);
    },
  );

  void test('a WebSocket from the child goes through the gateway', { timeout: 20_000 }, async () => {
    const port = (wss.address() as AddressInfo).port;
    const o = await run('websocket', { url: `ws://${ALLOWED}:${port}/` });
    assert.equal(o.status, 'completed', describeOutcome(o));
    assert.deepEqual((o as { output: unknown }).output, { got: 'echo ping' });
    assert.equal(o.usage.egressRequests, 1);
    assert.deepEqual(allowedHops(o.id), [ALLOWED]);
  });
});

void describe('child output', () => {
  void test(
    'stdout and stderr lines reach the audit log with the credential masked',
    { timeout: 20_000 },
    async () => {
      const o = await run('print', null);
      assert.equal(o.status, 'completed', describeOutcome(o));
      const lines = audit.events('subagent.output').filter((e) => e['subagentId'] === o.id);
      assert.deepEqual(
        lines.map((l) => l['stream']),
        ['stdout', 'stderr'],
      );
      assert.equal(lines[0]?.['text'], 'hello on stdout');
      assert.match(String(lines[1]?.['text']), /^proxy is http:\/\/[^:]+:\*\*\*@/);
      const logged = audit.events('subagent.log').find((e) => e['subagentId'] === o.id);
      assert.match(String(logged?.['text']), /:\*\*\*@/);
      assert.match(JSON.stringify(logged?.['fields']), /:\*\*\*@/);
      // No credential-looking userinfo anywhere in the audit log.
      assert.doesNotMatch(audit.text(), /http:\/\/[A-Za-z0-9_-]+:(?!\*\*\*@)[A-Za-z0-9_-]{16,}@/);
    },
  );

  void test(
    'a subagent that dies without a result is failed with its stderr tail',
    { timeout: 20_000 },
    async () => {
      const o = await run('crasher', null);
      assert.equal(o.status, 'failed', describeOutcome(o));
      assert.match(
        o.error.message,
        /exited with code 3 without a result; stderr: fatal: the widget config is missing/,
      );
    },
  );

  void test(
    'a stdout flood is drained: the subagent completes, the audit keeps a bounded prefix',
    { timeout: 20_000 },
    async () => {
      const o = await run('flood', { mb: 16 });
      assert.equal(o.status, 'completed', describeOutcome(o));
      const lines = audit.events('subagent.output').filter((e) => e['subagentId'] === o.id);
      const chars = lines.reduce((n, l) => n + String(l['text']).length, 0);
      assert.ok(lines.length >= 2 && chars <= 20 * 1024, `${lines.length} lines, ${chars} chars`);
      assert.match(String(lines.at(-1)?.['text']), /output truncated/);
      await assertNothingLeft();
    },
  );
});

void describe('memory', () => {
  void test('a V8 heap hog is terminated memory_exceeded', { timeout: 20_000 }, async () => {
    const o = await run('heap', null);
    assert.equal(o.status, 'terminated', describeOutcome(o));
    assert.equal(o.reason, 'memory_exceeded');
    await assertNothingLeft();
  });
});

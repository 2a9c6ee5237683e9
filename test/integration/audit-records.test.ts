/**
 * Every record real runs write validates against the published per-event schema: an orchestrator
 * (spawns, a refused spawn, tool calls allowed and denied, egress allowed and denied, ctx.log,
 * stdout/stderr, violations, exits of each kind) and a standalone gateway (auth failure, allowed
 * and refused requests, a tunnel, revoke, close), both writing through the package's own audit
 * logger to a file. Also: `pino-pretty -L warn`, the real CLI, filters that file by level.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createAuditLogger } from '../../src/audit/logger.js';
import { AuditEvent, type AuditEventName } from '../../src/audit/events.js';
import { validateAuditRecord } from '../../src/audit/record-schema.js';
import { SpawnDeniedError } from '../../src/errors.js';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { paidTool } from '../helpers/cost-tools.js';
import { basic, rawExchange } from '../helpers/gateway.js';
import { startBench } from '../helpers/gateway-fixture.js';
import { makeConfig, type AgentSpec } from '../helpers/spawner-config.js';
import {
  removeDir,
  startLoopbackServer,
  testResolver,
  writeAgents,
  type LoopbackServer,
} from '../helpers/spawner-harness.js';
import { repoRoot } from '../helpers/paths.js';

const ALLOWED = 'api.allowed.test';
const ALLOWED_IP = '127.0.0.2';
const TRAP_IP = '127.0.0.9';

let dir = '';
let agentsDir = '';
let api: LoopbackServer;
let trap: LoopbackServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sgtest-audit-rec-'));
  agentsDir = writeAgents();
  api = await startLoopbackServer(ALLOWED_IP);
  trap = await startLoopbackServer(TRAP_IP);
});

after(async () => {
  await api.close();
  await trap.close();
  removeDir(agentsDir);
  rmSync(dir, { recursive: true, force: true });
});

type Rec = Record<string, unknown> & { event: AuditEventName; level: number };

function readRecords(file: string): Rec[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Rec);
}

/** Validates with zod and with ajv against the shipped JSON Schema; returns what failed. */
function invalid(records: readonly Rec[]): string[] {
  const shipped = JSON.parse(
    readFileSync(join(repoRoot, 'schemas', 'audit-record.schema.json'), 'utf8'),
  ) as object;
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  const check = ajv.compile(shipped);
  const bad: string[] = [];
  for (const r of records) {
    const z = validateAuditRecord(r);
    if (!z.ok) bad.push(`${r.event} (zod): ${z.issues.join('; ')} in ${JSON.stringify(r)}`);
    const shaped: boolean = check(r);
    if (!shaped)
      bad.push(`${r.event} (JSON Schema): ${ajv.errorsText(check.errors)} in ${JSON.stringify(r)}`);
  }
  return bad;
}

const paid = paidTool;

void describe('audit records of real runs', () => {
  void test('every record an orchestrator writes validates, for every kind of run', async () => {
    const file = join(dir, 'orchestrator.log');
    const net: AgentSpec['network'] = {
      allowedDomains: [ALLOWED, TRAP_IP],
      allowedPorts: [api.port, trap.port],
      allowedCidrs: [`${ALLOWED_IP}/32`],
    };
    const worker = (entry: string, over: AgentSpec = {}): AgentSpec => ({
      entry: join(agentsDir, entry),
      tools: { allowed: ['web_fetch', 'sanitized_parse', 'paid'], denied: ['exec'] },
      constraints: { maxMemoryMb: 160, maxApiCalls: 8, maxCostUsd: 0.25, timeoutSeconds: 10 },
      network: net,
      ...over,
    });
    const config = makeConfig(
      {
        main: {
          role: 'parent',
          subagents: {
            allowAgents: '*',
            maxConcurrent: 2,
            maxChildren: 16,
            maxSpawnDepth: 2,
            maxSpawnsPerMinute: 1000,
          },
        },
        echo: worker('echo.mjs'),
        tools: worker('tools.mjs'),
        fetcher: worker('fetch.mjs'),
        crash: worker('crash.mjs'),
        logger: worker('log.mjs'),
        printer: worker('print.mjs'),
        nester: worker('spawner.mjs', {
          subagents: { allowAgents: ['echo'], maxChildren: 1, maxSpawnDepth: 1 },
        }),
      },
      { baseDir: agentsDir, auditPath: file },
    );
    const { resolver } = testResolver({ [ALLOWED]: ALLOWED_IP });
    const orch = await createOrchestrator({ config, tools: { paid }, resolver });
    const run = (agent: string, task: unknown) => orch.spawn({ parent: 'main', agent, task });
    try {
      const runs = await Promise.all([
        run('echo', { q: 1 }).result,
        run('tools', {
          calls: [
            { name: 'web_fetch', args: { url: `http://${ALLOWED}:${api.port}/small` } },
            { name: 'sanitized_parse', args: { text: '{"a":1}' } },
            { name: 'sanitized_parse', args: { nope: 1 } },
            { name: 'paid', args: {} },
          ],
        }).result,
        run('tools', { calls: [{ name: 'exec', args: {} }] }).result,
        run('fetcher', { url: `http://${TRAP_IP}:${trap.port}/` }).result,
        run('crash', {}).result,
        run('logger', {}).result,
        run('printer', {}).result,
        run('nester', { agent: 'echo', task: { deep: true } }).result,
      ]);
      assert.deepEqual(
        runs.map((r) => r.status),
        [
          'completed',
          'completed',
          'terminated',
          'terminated',
          'failed',
          'completed',
          'completed',
          'completed',
        ],
        JSON.stringify(runs.map((r) => (r.status === 'completed' ? r.status : r))),
      );
      assert.throws(() => run('nobody', {}), SpawnDeniedError);
    } finally {
      await orch.close();
    }
    const records = readRecords(file);
    assert.deepEqual(invalid(records), []);
    const seen = new Set(records.map((r) => r.event));
    for (const e of [
      AuditEvent.OrchestratorStart,
      AuditEvent.OrchestratorClose,
      AuditEvent.Spawn,
      AuditEvent.SpawnDenied,
      AuditEvent.ToolDecision,
      AuditEvent.ToolResult,
      AuditEvent.EgressDecision,
      AuditEvent.EgressClose,
      AuditEvent.SubagentLog,
      AuditEvent.SubagentOutput,
      AuditEvent.Violation,
      AuditEvent.Exit,
      AuditEvent.GatewayListen,
      AuditEvent.GatewayRegister,
      AuditEvent.GatewayRevoke,
      AuditEvent.GatewayClose,
    ]) {
      assert.ok(seen.has(e), `no ${e} record among ${[...seen].join(', ')}`);
    }
    // A nested spawn names its parent subagent.
    assert.ok(records.some((r) => r.event === AuditEvent.Spawn && typeof r.parentId === 'string'));
    for (const r of records) {
      assert.equal(r.pid, process.pid);
      assert.equal(r.hostname, hostname());
    }
  });

  void test('every record a standalone gateway writes validates (auth failure, allow, deny, tunnel)', async () => {
    const file = join(dir, 'gateway.log');
    const audit = createAuditLogger({ path: file });
    const b = await startBench({ gateway: { logger: audit.logger } });
    try {
      const get = (host: string, port: number, auth: string): Promise<{ status: number }> =>
        rawExchange(
          b.port,
          `GET http://${host}:${port}/small HTTP/1.1\r\nHost: ${host}:${port}\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
        );
      assert.equal((await get('api.allowed.test', b.originPort, b.auth)).status, 200);
      assert.equal((await get('not.listed.test', b.originPort, b.auth)).status, 403);
      assert.equal((await get('trap.allowed.test', b.trapPort, b.auth)).status, 403);
      assert.equal((await get('api.allowed.test', b.originPort, basic(b.id, 'wrong'))).status, 407);
      const tunnel = await rawExchange(
        b.port,
        `CONNECT api.allowed.test:${b.originPort} HTTP/1.1\r\nHost: api.allowed.test:${b.originPort}\r\nProxy-Authorization: ${b.auth}\r\n\r\n`,
      );
      assert.equal(tunnel.status, 200);
      b.gw.revoke(b.id);
    } finally {
      await b.close();
      await audit.close();
    }
    const records = readRecords(file);
    assert.deepEqual(invalid(records), []);
    const seen = new Set(records.map((r) => r.event));
    for (const e of [
      AuditEvent.GatewayListen,
      AuditEvent.GatewayRegister,
      AuditEvent.EgressDecision,
      AuditEvent.EgressClose,
      AuditEvent.GatewayRevoke,
      AuditEvent.GatewayClose,
    ]) {
      assert.ok(seen.has(e), `no ${e} record among ${[...seen].join(', ')}`);
    }
    assert.ok(records.some((r) => r.event === AuditEvent.EgressDecision && r.decision === 'deny'));
    assert.ok(records.some((r) => r.event === AuditEvent.EgressDecision && r.subagentId === null));
  });

  void test('pino-pretty -L warn keeps the warn and error records of an audit file and drops the info ones', async (t) => {
    const require = createRequire(import.meta.url);
    let bin: string;
    try {
      bin = join(require.resolve('pino-pretty/package.json'), '..', 'bin.js');
    } catch {
      t.skip('pino-pretty (a dev dependency) is not installed');
      return;
    }
    const file = join(dir, 'levels.log');
    const audit = createAuditLogger({ path: file });
    audit.logger.info({ event: AuditEvent.GatewayListen, host: '127.0.0.1', port: 1 }, 'INFO-MARKER');
    audit.logger.warn({ event: AuditEvent.GatewayError, err: 'x' }, 'WARN-MARKER');
    audit.logger.error(
      { event: AuditEvent.Exit, subagentId: 'a', agent: 'b', parent: 'c', teardownError: 'y' },
      'ERROR-MARKER',
    );
    await audit.close();
    const levels = readRecords(file).map((r) => r.level);
    assert.deepEqual(levels, [30, 40, 50], 'numeric pino levels');
    const run = (args: string[]): string => {
      const r = spawnSync(process.execPath, [bin, '--no-color', ...args], {
        input: readFileSync(file),
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const warn = run(['-L', 'warn']);
    assert.ok(!warn.includes('INFO-MARKER'), warn);
    assert.ok(warn.includes('WARN-MARKER') && warn.includes('ERROR-MARKER'), warn);
    assert.match(warn, /WARN/);
    const all = run([]);
    assert.ok(all.includes('INFO-MARKER') && all.includes('WARN-MARKER'), all);
  });
});

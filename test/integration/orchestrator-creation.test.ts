/**
 * What createOrchestrator refuses or says before any subagent runs: a config whose subagents are
 * allowed tools nobody defined (SG_TOOL_UNDEFINED, every name with its agent and JSON path), and a
 * weaker-than-sandbox isolation level said on stderr as a process warning (SG_ISOLATION_WEAKER).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { ToolError, type GuardError } from '../../src/errors.js';
import { openOrchestrator } from '../../src/spawner/orchestrator.js';
import type { ToolDefinition } from '../../src/spawner/types.js';
import { createInlineLauncher } from '../helpers/inline-launcher.js';
import { collectAudit } from '../helpers/spawner-audit.js';
import { makeConfig } from '../helpers/spawner-config.js';
import { removeDir, writeAgents } from '../helpers/spawner-harness.js';

let agentsDir = '';
before(() => {
  agentsDir = writeAgents();
});
after(() => {
  removeDir(agentsDir);
});

const quote: ToolDefinition = {
  description: 'a price',
  inputSchema: { type: 'object' },
  handler: () => Promise.resolve(1),
};

function config(allowed: string[], denied: string[] = []): ReturnType<typeof makeConfig> {
  return makeConfig({
    main: { role: 'parent', subagents: { allowAgents: '*' } },
    fetcher: { entry: join(agentsDir, 'echo.mjs'), tools: { allowed, denied } },
    other: { entry: join(agentsDir, 'echo.mjs'), tools: { allowed: ['quote', 'lookup'] } },
  });
}

/** Collects the process warnings with `code` emitted while `fn` runs (they arrive on nextTick). */
async function warningsDuring(code: string, fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error & { code?: string }): void => {
    if (w.code === code) seen.push(w.message);
  };
  process.on('warning', onWarning);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

void describe('createOrchestrator refuses tools allowed by name that nobody defined', () => {
  void test('throws SG_TOOL_UNDEFINED listing every undefined name with its agent and JSON path', async () => {
    const launcher = createInlineLauncher();
    let started = false;
    await assert.rejects(
      openOrchestrator(
        { config: config(['web_fetch', 'quote', 'web_fecth']), logger: collectAudit().logger, tools: {} },
        () => {
          started = true;
          return Promise.resolve(launcher);
        },
      ),
      (err: GuardError) => {
        assert.ok(err instanceof ToolError);
        assert.equal(err.code, 'SG_TOOL_UNDEFINED');
        assert.match(err.message, /'web_fecth' \(agent 'fetcher', \/agents\/fetcher\/tools_allowed\)/);
        assert.match(err.message, /'quote' \(agent 'fetcher'/);
        assert.match(err.message, /'lookup' \(agent 'other'/);
        assert.doesNotMatch(err.message, /'web_fetch'/, 'a built-in is defined');
        assert.deepEqual(
          (err.details?.['tools'] as { agent: string; tool: string; path: string }[])
            .map((t) => t.tool)
            .sort(),
          ['lookup', 'quote', 'quote', 'web_fecth'],
        );
        return true;
      },
    );
    assert.equal(started, true);
    assert.equal(launcher.alive().length, 0);
  });

  void test('accepts names defined in `tools`, built-ins, wildcards, groups and names also denied', async () => {
    const cfg = config(['quote', 'web_fetch', 'sanitized_parse', 'look*', 'group:web', 'ghost'], ['ghost']);
    const defined = { quote, lookup: quote };
    const o = await openOrchestrator(
      { config: cfg, logger: collectAudit().logger, tools: defined, warnWeakerIsolation: false },
      () => Promise.resolve(createInlineLauncher()),
    );
    await o.close();
  });
});

void describe('a weaker isolation level is said on stderr, not only in the audit log', () => {
  const ok = (): ReturnType<typeof makeConfig> => config(['quote']);
  const tools = { quote, lookup: quote };

  void test('emits one SG_ISOLATION_WEAKER process warning naming the level', async () => {
    const seen = await warningsDuring('SG_ISOLATION_WEAKER', async () => {
      const o = await openOrchestrator({ config: ok(), logger: collectAudit().logger, tools }, () =>
        Promise.resolve(createInlineLauncher()),
      );
      await o.close();
    });
    assert.equal(seen.length, 1, seen.join('\n'));
    assert.match(seen[0] ?? '', /isolation 'process'/);
  });

  void test('warnWeakerIsolation: false keeps only the audit record', async () => {
    const audit = collectAudit();
    const seen = await warningsDuring('SG_ISOLATION_WEAKER', async () => {
      const o = await openOrchestrator(
        { config: ok(), logger: audit.logger, tools, warnWeakerIsolation: false },
        () => Promise.resolve(createInlineLauncher()),
      );
      await o.close();
    });
    assert.deepEqual(seen, []);
    assert.equal(audit.events('orchestrator.start')[0]?.['level'], 40);
  });

  void test('rejects a non-boolean warnWeakerIsolation with SG_ORCHESTRATOR_INVALID_OPTIONS', async () => {
    await assert.rejects(
      openOrchestrator({ config: ok(), tools, warnWeakerIsolation: 'no' as unknown as boolean }, () =>
        Promise.resolve(createInlineLauncher()),
      ),
      { code: 'SG_ORCHESTRATOR_INVALID_OPTIONS' },
    );
  });
});

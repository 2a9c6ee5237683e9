/**
 * One orchestrator per isolation level over the programs in test/fixtures/containment: an allowed
 * loopback API, a collected audit log, and gateway caps small enough to reach quickly.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createOrchestrator } from '../../src/spawner/orchestrator.js';
import { detectIsolation } from '../../src/sandbox/index.js';
import type { GatewayConfig } from '../../src/config/types.js';
import type { IsolationLevel, Orchestrator, Outcome } from '../../src/spawner/types.js';
import { repoRoot } from './paths.js';
import { collectAudit, type CollectedAudit } from './spawner-audit.js';
import { makeConfig, type AgentSpec } from './spawner-config.js';
import { startLoopbackServer, testResolver, type LoopbackServer } from './spawner-harness.js';

export const CONTAINMENT_DIR = join(repoRoot, 'test', 'fixtures', 'containment');
export const ALLOWED = 'api.allowed.test';
export const ALLOWED_IP = '127.0.0.2';
export const LEVELS: readonly IsolationLevel[] = ['bubblewrap', 'unshare', 'process'];

/** One level's orchestrator. */
export interface ContainmentEnv {
  readonly level: IsolationLevel;
  readonly orchestrator: Orchestrator;
  readonly audit: CollectedAudit;
  readonly api: LoopbackServer;
  /** `http://api.allowed.test:PORT/small` */
  readonly smallUrl: string;
  run(program: string, task: unknown, agent?: string): Promise<Outcome>;
  close(): Promise<void>;
}

/** Open file descriptors of this process. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * Starts an orchestrator at `level` (null when the level is not available here). `extraPorts`
 * are allowed besides the API's (another loopback origin on the same address).
 */
export async function startContainment(
  level: IsolationLevel,
  opts: { gateway?: Partial<GatewayConfig>; extraPorts?: number[]; agents?: Record<string, AgentSpec> } = {},
): Promise<ContainmentEnv | null> {
  if (!(await detectIsolation({ gvisor: level === 'gvisor' })).available.includes(level)) return null;
  const api = await startLoopbackServer(ALLOWED_IP);
  const audit = collectAudit();
  const r = testResolver({ [ALLOWED]: ALLOWED_IP });
  const agent: AgentSpec = {
    entry: join(CONTAINMENT_DIR, 'fetch-loop.mjs'),
    network: {
      allowedDomains: [ALLOWED],
      allowedPorts: [api.port, ...(opts.extraPorts ?? [])],
      allowedCidrs: [`${ALLOWED_IP}/32`],
      logAllTraffic: true,
      maxEgressBytes: 1024 * 1024 * 1024,
    },
    constraints: { maxMemoryMb: 256, maxApiCalls: 100_000, timeoutSeconds: 30 },
  };
  const base = makeConfig(
    {
      main: {
        role: 'parent',
        subagents: {
          allowAgents: '*',
          maxConcurrent: 4,
          maxChildren: 64,
          maxSpawnDepth: 1,
          maxSpawnsPerMinute: 10_000,
        },
      },
      hostile: agent,
      sibling: agent,
      // 64 KiB of egress: for origins that try to move more than they are counted for.
      capped: { ...agent, network: { ...agent.network, maxEgressBytes: 64 * 1024 } },
      ...opts.agents,
    },
    { baseDir: CONTAINMENT_DIR },
  );
  const orchestrator = await createOrchestrator({
    config: { ...base, gateway: { ...base.gateway, ...opts.gateway } },
    logger: audit.logger,
    resolver: r.resolver,
    isolation: level,
  });
  return {
    level,
    orchestrator,
    audit,
    api,
    smallUrl: `http://${ALLOWED}:${api.port}/small`,
    run: (program, task, name = 'hostile') =>
      orchestrator.run({ parent: 'main', agent: name, task, entry: join(CONTAINMENT_DIR, program) }),
    close: async () => {
      await orchestrator.close();
      await api.close();
    },
  };
}

/** Describes an outcome for assertion messages. */
export function describeOutcome(o: Outcome): string {
  if (o.status === 'terminated') return `terminated ${o.reason}: ${o.detail}`;
  if (o.status === 'failed') return `failed ${o.error.code}: ${o.error.message}`;
  return `completed: ${JSON.stringify(o.output).slice(0, 300)}`;
}

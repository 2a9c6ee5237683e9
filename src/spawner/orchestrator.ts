/**
 * `createOrchestrator`: the parent-side spawner a main orchestrator calls. It owns one egress
 * gateway, one tool broker and the spawn quotas; every subagent is a {@link SubagentRun}.
 */
import { existsSync } from 'node:fs';
import { url as inspectorUrl } from 'node:inspector';
import { isAbsolute, resolve } from 'node:path';
import { nanoid } from 'nanoid';
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import { createAuditLogger } from '../audit/logger.js';
import type { AgentConfig, GuardConfig } from '../config/types.js';
import { SpawnDeniedError, SpawnerError } from '../errors.js';
import { createEgressGateway } from '../gateway/index.js';
import { gatewayOptionsFromConfig } from '../gateway/from-config.js';
import type { EgressGateway } from '../gateway/types.js';
import { EgressPolicy } from '../policy/egress.js';
import { ToolAcl } from '../policy/tools.js';
import { ToolBroker } from '../tools/broker.js';
import { SpawnQuotas, ownAgent, type SpawnReservation } from './quotas.js';
import { detectIsolation, launch, sweepStaleSandboxDirs } from './sandbox/index.js';
import { guardInspectorSignal } from './inspector-guard.js';
import { LaunchPark } from './sandbox/park.js';
import { configProtectedPaths } from './sandbox/paths.js';
import { SubagentRun } from './subagent.js';
import type {
  IsolationLevel,
  IsolationRequest,
  Orchestrator,
  OrchestratorOptions,
  Outcome,
  SpawnRequest,
  SubagentHandle,
  SubagentInfo,
} from './types.js';
import { checkRequest, checkTask, validateOrchestratorOptions } from './validate.js';

/** Chooses the level: asking for one that is not available is an error, never a silent downgrade. */
export function chooseIsolation(
  requested: IsolationRequest,
  available: readonly IsolationLevel[],
  best: IsolationLevel,
): IsolationLevel {
  if (requested === 'auto') return best;
  const level =
    requested === 'namespace'
      ? (['bubblewrap', 'unshare'] as const).find((l) => available.includes(l))
      : available.includes(requested)
        ? requested
        : undefined;
  if (level === undefined) {
    const need =
      requested === 'namespace'
        ? "bubblewrap or 'unshare -Urn'"
        : requested === 'unshare'
          ? "'unshare -Urn'"
          : requested;
    throw new SpawnerError(
      'SG_ISOLATION_UNAVAILABLE',
      `isolation '${requested}' needs ${need}; available here: ${available.join(', ')}`,
      { details: { requested, available: [...available] } },
    );
  }
  return level;
}

/**
 * Creates an orchestrator: validates the options, detects isolation, starts the egress gateway and
 * the audit logger, and logs `orchestrator.start` with the chosen level.
 *
 * @example
 * ```ts
 * const orchestrator = await createOrchestrator({ config: await loadConfig('openclaw.json') });
 * const outcome = await orchestrator.run({ parent: 'main_orchestrator', agent: 'security_proxy_untrusted', task: { q: 1 } });
 * await orchestrator.close();
 * ```
 * @throws SpawnerError SG_ORCHESTRATOR_INVALID_OPTIONS / SG_ISOLATION_UNAVAILABLE, ToolError SG_TOOL_UNKNOWN
 */
export async function createOrchestrator(opts: OrchestratorOptions): Promise<Orchestrator> {
  validateOrchestratorOptions(opts);
  const detected = await detectIsolation();
  const level = chooseIsolation(opts.isolation ?? 'auto', detected.available, detected.best);
  // Directories of sandboxes whose orchestrator was killed outright (no teardown ran).
  const staleDirsRemoved = sweepStaleSandboxDirs().length;
  const owned = opts.logger === undefined ? createAuditLogger(opts.config.audit) : undefined;
  const logger = opts.logger ?? owned?.logger;
  if (logger === undefined) throw new Error('internal: no logger');
  try {
    // Built before the gateway: an invalid tool definition must not leave a listening socket behind.
    const broker = new ToolBroker({ tools: opts.tools, logger });
    const gateway = await createEgressGateway(
      gatewayOptionsFromConfig(opts.config, {
        logger,
        ...(opts.resolver === undefined ? {} : { resolver: opts.resolver }),
      }),
    );
    // Process level is much weaker (no network or PID namespace): say so at warn level.
    logger[level === 'process' ? 'warn' : 'info'](
      {
        event: AuditEvent.OrchestratorStart,
        isolation: level,
        staleDirsRemoved,
        available: detected.available,
        cgroup: detected.cgroup,
        gateway: gateway.url,
        weaker: level === 'process' ? 'process-level isolation only: no network or PID namespace' : undefined,
        // Opened before we could prevent it (--inspect): whoever reaches it can run code here.
        inspectorOpen: inspectorUrl() === undefined ? undefined : true,
      },
      `orchestrator started (isolation: ${level})`,
    );
    // Last: nothing after it can fail, so the parked launcher cannot outlive a failed start.
    const park = new LaunchPark();
    await park.start();
    return new LocalOrchestrator({
      config: opts.config,
      logger,
      gateway,
      broker,
      level,
      maxQueued: opts.maxQueued,
      ownedLogger: owned,
      park,
      runAs: opts.runAs,
    });
  } catch (err) {
    await owned?.close();
    throw err;
  }
}

interface LocalOrchestratorParts {
  readonly config: GuardConfig;
  readonly logger: Logger;
  readonly gateway: EgressGateway;
  readonly broker: ToolBroker;
  readonly level: IsolationLevel;
  readonly maxQueued: number | undefined;
  readonly ownedLogger: { close(): Promise<void> } | undefined;
  readonly park: LaunchPark;
  readonly runAs: { readonly uid: number; readonly gid: number } | undefined;
}

function clip(text: string): string {
  return text.length > 128 ? `${text.slice(0, 128)}…` : text;
}

/** The local (this machine) orchestrator. */
class LocalOrchestrator implements Orchestrator {
  readonly gateway: EgressGateway;
  readonly isolation: IsolationLevel;
  readonly #config: GuardConfig;
  readonly #logger: Logger;
  readonly #broker: ToolBroker;
  readonly #quotas: SpawnQuotas;
  readonly #ownedLogger: { close(): Promise<void> } | undefined;
  readonly #runs = new Map<string, SubagentRun>();
  readonly #acls = new Map<string, ToolAcl>();
  readonly #egressPolicies = new Map<string, EgressPolicy>();
  readonly #onProcessExit: () => void;
  readonly #park: LaunchPark;
  readonly #unguard: () => void;
  /** The config file and the audit log: no subagent read grant may contain them. */
  readonly #protectedPaths: readonly string[];
  readonly #runAs: { readonly uid: number; readonly gid: number } | undefined;
  #closing: Promise<void> | undefined;

  constructor(parts: LocalOrchestratorParts) {
    this.gateway = parts.gateway;
    this.isolation = parts.level;
    this.#config = parts.config;
    this.#logger = parts.logger;
    this.#broker = parts.broker;
    this.#ownedLogger = parts.ownedLogger;
    this.#park = parts.park;
    this.#protectedPaths = configProtectedPaths(parts.config);
    this.#runAs = parts.runAs;
    this.#quotas = new SpawnQuotas(
      parts.config,
      parts.maxQueued === undefined ? {} : { maxQueued: parts.maxQueued },
    );
    // If the parent process exits without close(), no sandbox may outlive it: SIGKILL them all
    // synchronously (bubblewrap's --die-with-parent covers a parent killed by a signal).
    this.#onProcessExit = () => {
      for (const run of this.#runs.values()) run.killNow();
      this.#park.killNow();
    };
    process.on('exit', this.#onProcessExit);
    this.#unguard = guardInspectorSignal(() => {
      this.#logger.warn(
        { event: AuditEvent.OrchestratorSignalIgnored, signal: 'SIGUSR1' },
        'SIGUSR1 ignored: it would open the inspector',
      );
    });
  }

  spawn(req: SpawnRequest): SubagentHandle {
    if (this.#closing !== undefined) {
      throw new SpawnerError(
        'SG_ORCHESTRATOR_CLOSED',
        'the orchestrator is closed; no more spawns are accepted',
      );
    }
    checkRequest(req);
    const instance = this.#denyAudited(req.parent, req.agent, () => this.#quotas.root(req.parent));
    const reservation = this.#denyAudited(req.parent, req.agent, () =>
      this.#quotas.reserve(instance, req.agent),
    );
    const run = this.#accept(reservation, req.agent, req.parent, undefined, req.task, req.entry, req.signal);
    const signal = req.signal;
    if (signal !== undefined) {
      const onAbort = (): void => {
        run.terminate('cancelled', 'the spawn request was aborted by the caller');
      };
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        void run.result.then(() => {
          signal.removeEventListener('abort', onAbort);
        });
      }
    }
    return {
      id: run.id,
      agent: run.agent.name,
      result: run.result,
      terminate: (detail?: string) => {
        run.terminate('cancelled', detail ?? 'terminated by the caller');
        return run.result;
      },
    };
  }

  run(req: SpawnRequest): Promise<Outcome> {
    try {
      return this.spawn(req).result;
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  active(): SubagentInfo[] {
    const out: SubagentInfo[] = [];
    for (const run of this.#runs.values()) {
      const info = run.info();
      if (info !== null) out.push(info);
    }
    return out;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const runs = [...this.#runs.values()];
    for (const run of runs) run.terminate('shutdown', 'the orchestrator is closing');
    await Promise.all(runs.map((r) => r.result));
    await this.#park.close();
    await this.gateway.close();
    process.removeListener('exit', this.#onProcessExit);
    this.#unguard();
    this.#logger.info(
      { event: AuditEvent.OrchestratorClose, isolation: this.isolation },
      'orchestrator closed',
    );
    await this.#ownedLogger?.close();
  }

  /** A nested spawn by a running subagent (ctx.spawn), checked against the CALLER's own policy. */
  #spawnNested(caller: SubagentRun, agent: string, task: unknown): { result: Promise<Outcome> } {
    if (this.#closing !== undefined) {
      throw new SpawnerError(
        'SG_ORCHESTRATOR_CLOSED',
        'the orchestrator is closing; no more spawns are accepted',
      );
    }
    caller.spawnInstance ??= this.#quotas.nested(
      caller.id,
      caller.agent.name,
      caller.depth,
      caller.parentInstance,
    );
    const instance = caller.spawnInstance;
    const reservation = this.#denyAudited(
      caller.agent.name,
      agent,
      () => this.#quotas.reserve(instance, agent),
      caller.id,
    );
    const run = this.#accept(reservation, agent, caller.agent.name, caller.id, task, undefined);
    caller.children.add(run);
    void run.result.then(() => caller.children.delete(run));
    return run;
  }

  /** Runs a quota check; a refusal is audited (once) and rethrown. */
  #denyAudited<T>(parent: string, agent: string, check: () => T, parentId?: string): T {
    try {
      return check();
    } catch (err) {
      if (err instanceof SpawnDeniedError) {
        this.#logger.warn(
          {
            event: AuditEvent.SpawnDenied,
            parent: clip(parent),
            ...(parentId === undefined ? {} : { parentId }),
            agent: clip(agent),
            reason: err.reason,
            detail: err.message,
          },
          `spawn denied: ${err.reason}`,
        );
      }
      throw err;
    }
  }

  /** Turns a reservation into a queued run; releases it if the request turns out unusable. */
  #accept(
    reservation: SpawnReservation,
    agentName: string,
    parent: string,
    parentId: string | undefined,
    task: unknown,
    entryOverride: string | undefined,
    signal?: AbortSignal,
  ): SubagentRun {
    let agent: AgentConfig;
    let entry: string;
    try {
      const found = ownAgent(this.#config, agentName);
      if (found === undefined)
        throw new Error(`internal: agent '${agentName}' passed the quota check but is undefined`);
      agent = found;
      entry = this.#resolveEntry(agent, entryOverride);
      checkTask(task);
    } catch (err) {
      reservation.release();
      throw err;
    }
    const id = nanoid();
    const run = new SubagentRun(
      { id, agent, parent, parentId, task, entry, reservation },
      {
        gateway: this.gateway,
        broker: this.#broker,
        logger: this.#logger,
        level: this.isolation,
        launch: (spec) =>
          launch(
            {
              ...spec,
              protectedPaths: this.#protectedPaths,
              readGrants: agent.readPaths ?? [],
              ...(this.#runAs === undefined ? {} : { runAs: this.#runAs }),
            },
            this.#park,
          ),
        acl: this.#acl(agent),
        egressPolicy: this.#egressPolicy(agent),
        upstream: agent.proxy ?? this.#config.gateway.upstream,
        spawnNested: (caller, a, t) => this.#spawnNested(caller, a, t),
        onFinished: (r) => this.#runs.delete(r.id),
      },
    );
    this.#runs.set(id, run);
    this.#logger.info(
      {
        event: AuditEvent.Spawn,
        subagentId: id,
        agent: agentName,
        parent,
        ...(parentId === undefined ? {} : { parentId }),
        depth: reservation.depth,
        isolation: this.isolation,
      },
      `subagent spawned (${this.isolation})`,
    );
    // An already-aborted request ends before it is queued: p-queue would start execute()
    // synchronously, minting a credential and creating a sandbox only to tear them down.
    if (signal?.aborted === true) run.terminate('cancelled', 'the spawn request was aborted by the caller');
    const queue = reservation.instance.queue;
    // execute() never rejects; the catch only keeps a broken invariant from becoming an unhandled rejection.
    queue
      .add(() => run.execute())
      .catch((err: unknown) => {
        run.terminate('shutdown', `internal error: ${err instanceof Error ? err.message : String(err)}`);
      });
    return run;
  }

  #resolveEntry(agent: AgentConfig, override: string | undefined): string {
    const raw = override ?? agent.entry;
    if (raw === undefined) {
      throw new SpawnerError(
        'SG_SPAWN_INVALID_REQUEST',
        `agent '${agent.name}' has no entry and the request gave none`,
        {
          details: { agent: agent.name },
        },
      );
    }
    const path = isAbsolute(raw) ? raw : resolve(this.#config.baseDir, raw);
    if (!existsSync(path)) {
      throw new SpawnerError(
        'SG_SPAWN_INVALID_REQUEST',
        `entry of agent '${agent.name}' not found: ${path}`,
        {
          details: { agent: agent.name, entry: path },
        },
      );
    }
    return path;
  }

  #acl(agent: AgentConfig): ToolAcl {
    let acl = this.#acls.get(agent.name);
    if (acl === undefined) {
      acl = new ToolAcl(agent.tools);
      this.#acls.set(agent.name, acl);
    }
    return acl;
  }

  /**
   * The agent's pure egress policy (web_fetch checks redirect targets with it), built once per
   * agent: with a large allowlist, building it is the expensive part.
   */
  #egressPolicy(agent: AgentConfig): EgressPolicy {
    let policy = this.#egressPolicies.get(agent.name);
    if (policy === undefined) {
      policy = new EgressPolicy(agent.network, { gatewayAddresses: [this.gateway.address.host] });
      this.#egressPolicies.set(agent.name, policy);
    }
    return policy;
  }
}

/**
 * `createOrchestrator`: the parent-side spawner a main orchestrator calls. It owns one egress
 * gateway, one tool broker and the spawn quotas; every subagent is a {@link SubagentRun}.
 */
import { url as inspectorUrl } from 'node:inspector';
import { nanoid } from 'nanoid';
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import { createAuditLogger } from '../audit/logger.js';
import { notEnforcingLine, reportOnlyAgents, reportOnlyParts } from '../config/report-only.js';
import { channels, DiagnosticsChannels } from '../observability/channels.js';
import type { AgentConfig, GuardConfig } from '../config/types.js';
import { InternalError, SpawnDeniedError, SpawnerError, errorMessage, toError } from '../errors.js';
import { createEgressGateway } from '../gateway/index.js';
import { gatewayOptionsFromConfig } from '../gateway/from-config.js';
import type { EgressGateway } from '../gateway/types.js';
import type { Launcher } from '../sandbox/launcher.js';
import { createLocalLauncher } from '../sandbox/local-launcher.js';
import { ToolBroker } from '../tools/broker.js';
import { AgentPolicies } from './agent-policies.js';
import { SpawnQuotas, ownAgent, type SpawnReservation } from './quotas.js';
import { guardInspectorSignal } from './inspector-guard.js';
import { SubagentRun } from './subagent.js';
import { OUTPUT_AUDIT_BYTES } from './output.js';
import { WarmPools, type PoolStats } from './warm-pool.js';
import type {
  IsolationLevel,
  Orchestrator,
  OrchestratorOptions,
  Outcome,
  SpawnRequest,
  SubagentHandle,
  SubagentInfo,
} from './types.js';
import { checkRequest, checkTask, validateOrchestratorOptions } from './validate.js';
import { assertToolsDefined } from './tool-definitions.js';

// Kept here too: it was exported from this module before it moved to the sandbox.
export { chooseIsolation } from '../sandbox/isolation.js';

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
 * @throws SpawnerError SG_ORCHESTRATOR_INVALID_OPTIONS / SG_ISOLATION_UNAVAILABLE, ToolError SG_TOOL_DEFINITION_INVALID / SG_TOOL_UNDEFINED
 */
export function createOrchestrator(opts: OrchestratorOptions): Promise<Orchestrator> {
  return openOrchestrator(opts, (o) =>
    createLocalLauncher({
      config: o.config,
      ...(o.isolation === undefined ? {} : { isolation: o.isolation }),
      runAs: o.runAs,
    }),
  );
}

/**
 * {@link createOrchestrator} with the launcher made by `makeLauncher` (called once the options
 * are validated): the orchestrator and its runs see only the {@link Launcher} interface.
 * @internal
 */
export async function openOrchestrator(
  opts: OrchestratorOptions,
  makeLauncher: (opts: OrchestratorOptions) => Promise<Launcher>,
): Promise<Orchestrator> {
  validateOrchestratorOptions(opts);
  const launcher = await makeLauncher(opts);
  const level = launcher.isolation;
  const owned = opts.logger === undefined ? createAuditLogger(opts.config.audit) : undefined;
  const logger = opts.logger ?? owned?.logger;
  if (logger === undefined) throw new InternalError('no logger');
  try {
    // Built before the gateway: an invalid tool definition must not leave a listening socket behind.
    const broker = new ToolBroker({ tools: opts.tools, logger });
    assertToolsDefined(opts.config, broker.names);
    const gateway = await createEgressGateway(
      gatewayOptionsFromConfig(opts.config, {
        logger,
        ...(opts.resolver === undefined ? {} : { resolver: opts.resolver }),
      }),
    );
    const report = launcher.report;
    // A weaker level (process: no network or PID namespace) is said at warn level.
    logger[report.weaker === undefined ? 'info' : 'warn'](
      {
        event: AuditEvent.OrchestratorStart,
        isolation: level,
        staleDirsRemoved: report.staleDirsRemoved,
        available: report.available,
        cgroup: report.cgroup,
        gateway: gateway.url,
        weaker: report.weaker,
        // Opened before we could prevent it (--inspect): whoever reaches it can run code here.
        inspectorOpen: inspectorUrl() === undefined ? undefined : true,
      },
      `orchestrator started (isolation: ${level})`,
    );
    // The audit file may be read by nobody until something goes wrong: a weaker level is also
    // said where the operator looks, once per orchestrator, unless the caller opted out.
    if (report.weaker !== undefined && opts.warnWeakerIsolation !== false) {
      process.emitWarning(
        `subagent-guard: subagents run with ${report.weaker} (isolation '${level}'); install bubblewrap or allow unprivileged user namespaces for a sandbox`,
        { code: 'SG_ISOLATION_WEAKER' },
      );
    }
    warnReportOnly(opts.config, logger);
    // Last: nothing after it can fail, so the launcher's helpers cannot outlive a failed start.
    await launcher.start();
    return new LocalOrchestrator({
      config: opts.config,
      logger,
      gateway,
      broker,
      maxQueued: opts.maxQueued,
      ownedLogger: owned,
      launcher,
    });
  } catch (err) {
    await owned?.close();
    throw err;
  }
}

/**
 * Says loudly, once per orchestrator, which agents are not enforcing: a warn record per agent
 * (SG_REPORT_ONLY) and the same line as a process warning (stderr), where an operator sees it even
 * when the audit log goes to a file.
 */
function warnReportOnly(config: GuardConfig, logger: Logger): void {
  for (const { agent, parts } of reportOnlyAgents(config)) {
    const line = notEnforcingLine(agent, parts);
    logger.warn(
      { event: AuditEvent.OrchestratorReportOnly, code: 'SG_REPORT_ONLY', agent, reportOnly: parts },
      line,
    );
    // Like SG_ISOLATION_WEAKER: a process warning, which Node prints on stderr.
    process.emitWarning(`subagent-guard: ${line}`, { code: 'SG_REPORT_ONLY' });
  }
}

interface LocalOrchestratorParts {
  readonly config: GuardConfig;
  readonly logger: Logger;
  readonly gateway: EgressGateway;
  readonly broker: ToolBroker;
  readonly maxQueued: number | undefined;
  readonly ownedLogger: { close(): Promise<void> } | undefined;
  readonly launcher: Launcher;
}

function clip(text: string): string {
  return text.length > 128 ? `${text.slice(0, 128)}…` : text;
}

/** The orchestrator; where its children run is its launcher's business. */
class LocalOrchestrator implements Orchestrator {
  readonly gateway: EgressGateway;
  readonly isolation: IsolationLevel;
  readonly #config: GuardConfig;
  readonly #logger: Logger;
  readonly #broker: ToolBroker;
  readonly #quotas: SpawnQuotas;
  readonly #ownedLogger: { close(): Promise<void> } | undefined;
  readonly #runs = new Map<string, SubagentRun>();
  readonly #policies: AgentPolicies;
  readonly #onProcessExit: () => void;
  readonly #launcher: Launcher;
  readonly #unguard: () => void;
  readonly #pools: WarmPools;
  #closing: Promise<void> | undefined;

  constructor(parts: LocalOrchestratorParts) {
    this.gateway = parts.gateway;
    this.isolation = parts.launcher.isolation;
    this.#config = parts.config;
    this.#logger = parts.logger;
    this.#broker = parts.broker;
    this.#ownedLogger = parts.ownedLogger;
    this.#launcher = parts.launcher;
    this.#policies = new AgentPolicies(parts.config.baseDir, parts.gateway.address.host);
    this.#quotas = new SpawnQuotas(
      parts.config,
      parts.maxQueued === undefined ? {} : { maxQueued: parts.maxQueued },
    );
    const gateway = parts.gateway;
    this.#pools = new WarmPools(parts.config.agents, {
      launcher: parts.launcher,
      logger: parts.logger,
      gatewayAddress: () => gateway.address,
      maxOutputBytes: OUTPUT_AUDIT_BYTES,
    });
    this.#pools.start();
    // If the parent process exits without close(), no sandbox may outlive it: SIGKILL them all
    // synchronously (bubblewrap's --die-with-parent covers a parent killed by a signal).
    this.#onProcessExit = () => {
      this.#launcher.killAll();
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
      return Promise.reject(toError(err));
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

  poolStats(): PoolStats[] {
    return this.#pools.stats();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const runs = [...this.#runs.values()];
    for (const run of runs) run.terminate('shutdown', 'the orchestrator is closing');
    await Promise.all(runs.map((r) => r.result));
    await this.#pools.close();
    await this.#launcher.close();
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
        const ch = channels[DiagnosticsChannels.SpawnDenied];
        if (ch.hasSubscribers) ch.publish({ agent: clip(agent), parent: clip(parent), reason: err.reason });
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
        throw new InternalError(`agent '${agentName}' passed the quota check but is undefined`);
      agent = found;
      entry = this.#policies.resolveEntry(agent, entryOverride);
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
        launcher: this.#launcher,
        acl: this.#policies.acl(agent),
        egressPolicy: this.#policies.egressPolicy(agent),
        upstream: agent.proxy ?? this.#config.gateway.upstream,
        spawnNested: (caller, a, t) => this.#spawnNested(caller, a, t),
        onFinished: (r) => this.#runs.delete(r.id),
        pools: this.#pools,
      },
    );
    this.#runs.set(id, run);
    const reportOnly = reportOnlyParts(agent);
    this.#logger[reportOnly.length === 0 ? 'info' : 'warn'](
      {
        event: AuditEvent.Spawn,
        subagentId: id,
        agent: agentName,
        parent,
        ...(parentId === undefined ? {} : { parentId }),
        depth: reservation.depth,
        isolation: this.isolation,
        enforcing: reportOnly.length === 0,
        ...(reportOnly.length === 0 ? {} : { reportOnly }),
      },
      reportOnly.length === 0
        ? `subagent spawned (${this.isolation})`
        : `subagent spawned (${this.isolation}), NOT ENFORCING its ${reportOnly.join(' and ')} policy (report-only)`,
    );
    const spawned = channels[DiagnosticsChannels.Spawn];
    if (spawned.hasSubscribers) {
      spawned.publish({
        subagentId: id,
        agent: agentName,
        parent,
        depth: reservation.depth,
        isolation: this.isolation,
      });
    }
    // An already-aborted request ends before it is queued: p-queue would start execute()
    // synchronously, minting a credential and creating a sandbox only to tear them down.
    if (signal?.aborted === true) run.terminate('cancelled', 'the spawn request was aborted by the caller');
    const queue = reservation.instance.queue;
    // execute() never rejects; the catch only keeps a broken invariant from becoming an unhandled rejection.
    queue
      .add(() => run.execute())
      .catch((err: unknown) => {
        run.terminate('shutdown', `internal error: ${errorMessage(err)}`);
      });
    return run;
  }
}

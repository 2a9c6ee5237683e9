/**
 * One subagent's life in the parent: register its egress credential, have the launcher start its
 * child, speak the IPC protocol, watch its quotas, and tear everything down exactly once on every
 * exit path. The life is a state machine (see run-state.ts); the launcher is an interface (see
 * sandbox/launcher.ts), so nothing here knows how or where the child runs.
 *
 * Ordering on a violation: SIGKILL first (synchronously, before anything else can happen), then
 * revoke the credential (which cuts its sockets; synchronously too once startup is over), wait for
 * the process tree to be reaped, delete the scratch space, and only then resolve the outcome — so a
 * caller that sees the outcome can rely on nothing of the subagent being left. The `subagent.exit`
 * record says how long each part took: `killMs` (decision → process reaped and sockets cut) and
 * `teardownMs` (decision → everything removed).
 */
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import { channels, DiagnosticsChannels } from '../observability/channels.js';
import type { AgentConfig, UpstreamProxy } from '../config/types.js';
import { InternalError, toError } from '../errors.js';
import type { EgressGateway, ProxyCredential } from '../gateway/types.js';
import type { EgressPolicy } from '../policy/egress.js';
import type { ToolDecision } from '../policy/types.js';
import type { GatewayPort, Launcher, PreparedLaunch, Sandbox } from '../sandbox/launcher.js';
import type { ToolBroker } from '../tools/broker.js';
import { Meter } from './meter.js';
import type { WarmPools } from './warm-pool.js';
import { HeldOutput, OUTPUT_AUDIT_BYTES } from './output.js';
import type { ParentInstance, SpawnReservation } from './quotas.js';
import { wallClock, watchChild, type WatchedChild } from './run-child.js';
import { isViolation } from '../ipc/outcome.js';
import { reapSandbox, reportExit, type Final } from './run-exit.js';
import { RunStateMachine } from './run-state.js';
import {
  brokerSession,
  credentialSecrets,
  registerEgress,
  startMessage,
  type RunIdentity,
} from './run-wiring.js';
import type { Outcome, SubagentInfo, TerminationReason } from './types.js';

export { MAX_OUTPUT_BYTES } from './run-wiring.js';
export { abortNoticeMs } from './run-child.js';

/** What a run needs from its orchestrator. */
export interface RunDeps {
  readonly gateway: EgressGateway;
  readonly broker: ToolBroker;
  readonly logger: Logger;
  /** Starts the child; the run knows nothing else about isolation. */
  readonly launcher: Launcher;
  readonly acl: { decide(tool: string): ToolDecision };
  /** The agent's pure egress policy, for built-in tools that check targets before sending. */
  readonly egressPolicy: EgressPolicy;
  readonly upstream: UpstreamProxy | undefined;
  /** Nested spawn on behalf of this run; throws SpawnDeniedError when refused. */
  readonly spawnNested: (caller: SubagentRun, agent: string, task: unknown) => { result: Promise<Outcome> };
  /** Called once, after teardown, before the outcome resolves. */
  readonly onFinished: (run: SubagentRun) => void;
  /** Warm pools to claim a pre-started sandbox from (none: every start is cold). */
  readonly pools?: WarmPools;
}

/** Parameters of one run. */
export interface RunParams {
  readonly id: string;
  readonly agent: AgentConfig;
  /** Name of the spawning agent. */
  readonly parent: string;
  /** Id of the spawning subagent, for nested spawns. */
  readonly parentId: string | undefined;
  readonly task: unknown;
  readonly entry: string;
  readonly reservation: SpawnReservation;
}

/** One subagent, from accepted spawn to resolved outcome. */
export class SubagentRun {
  readonly id: string;
  readonly agent: AgentConfig;
  readonly parent: string;
  readonly parentId: string | undefined;
  readonly depth: number;
  readonly acceptedAt = new Date();
  readonly result: Promise<Outcome>;
  /** Nested children spawned by this run (terminated when it ends). */
  readonly children = new Set<SubagentRun>();
  /** Spawning instance of this run, created by the orchestrator on its first nested spawn. */
  spawnInstance: ParentInstance | undefined = undefined;

  readonly #deps: RunDeps;
  readonly #task: unknown;
  readonly #entry: string;
  readonly #reservation: SpawnReservation;
  readonly #meter: Meter;
  readonly #abort = new AbortController();
  readonly #run: RunStateMachine;
  #resolve: (o: Outcome) => void = () => undefined;
  #final: Final | undefined;
  #startedMs = 0;
  #endedMs = 0;
  #credential: ProxyCredential | undefined;
  #prepared: PreparedLaunch | undefined;
  #sandbox: Sandbox | undefined;
  /** The sandbox came from a warm pool. */
  #warm = false;
  #child: WatchedChild | undefined;
  #timers: NodeJS.Timeout[] = [];
  /** Startup, then the transition out of `starting`; teardown waits for it. */
  #startup: Promise<void> | undefined;
  /** stdout/stderr lines, held until the credential is revoked (see output.ts). */
  readonly #output: HeldOutput;
  /** performance.now() when the outcome was decided, and when every process was gone and its sockets cut. */
  #decidedAt = 0;
  #cutAt = 0;

  constructor(params: RunParams, deps: RunDeps) {
    this.id = params.id;
    this.agent = params.agent;
    this.parent = params.parent;
    this.parentId = params.parentId;
    this.depth = params.reservation.depth;
    this.#task = params.task;
    this.#entry = params.entry;
    this.#reservation = params.reservation;
    this.#deps = deps;
    this.#run = new RunStateMachine(params.id);
    this.#meter = new Meter(params.agent.constraints, { subagentId: params.id, agent: params.agent.name });
    this.#output = new HeldOutput(deps.logger, this.#who(), () => this.#secrets());
    this.result = new Promise<Outcome>((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** The spawning instance this run's slot was reserved in. */
  get parentInstance(): ParentInstance {
    return this.#reservation.instance;
  }

  /** True once an outcome is decided (teardown may still be running). */
  get ending(): boolean {
    return this.#run.decided;
  }

  /** Live information for `active()`, or null once it has ended. */
  info(): SubagentInfo | null {
    const state = this.#run.state;
    if (state !== 'queued' && state !== 'starting' && state !== 'running') return null;
    return {
      id: this.id,
      agent: this.agent.name,
      parent: this.parent,
      depth: this.depth,
      state: state === 'queued' ? 'queued' : 'running',
      startedAt: this.acceptedAt.toISOString(),
    };
  }

  /** Runs it (called when a concurrency slot is free); resolves after teardown. */
  async execute(): Promise<void> {
    if (this.#run.state !== 'queued') {
      await this.#settled();
      return;
    }
    this.#run.to('starting');
    this.#startedMs = performance.now();
    this.#timers = wallClock(
      this.agent.constraints.timeoutSeconds,
      (msg) => {
        if (!this.ending) this.#child?.channel.send(msg);
      },
      (detail) => {
        this.terminate('timeout', detail);
      },
    );
    this.#startup = this.#start().then(() => {
      this.#started();
    });
    await this.#startup;
    await this.#settled();
  }

  /** Credential, prepared launch, child. Never rejects: a failure becomes a `failed` outcome. */
  async #start(): Promise<void> {
    const gateway = this.#deps.gateway;
    try {
      this.#credential = registerEgress(
        gateway,
        this.#identity(),
        this.#deps.upstream,
        this.#meter,
        (r, d) => {
          this.terminate(r, d);
        },
      );
      const id = this.id;
      const port: GatewayPort = {
        get address() {
          return gateway.address;
        },
        listenUnix: (path) => gateway.listenUnix(id, path),
      };
      // Claimed after the credential exists: a pooled sandbox never holds one before its claim.
      this.#sandbox = await this.#claimWarm(port);
      if (this.#sandbox !== undefined || this.ending) return;
      this.#prepared = await this.#deps.launcher.prepare({
        id,
        entry: this.#entry,
        maxMemoryMb: this.agent.constraints.maxMemoryMb,
        readGrants: this.agent.readPaths ?? [],
        gateway: port,
        onOutput: this.#output.sink,
        maxOutputBytes: OUTPUT_AUDIT_BYTES,
      });
      // Decided while the launch was prepared (the same getter, read again after the await).
      if (this.#run.decided) return;
      this.#sandbox = await this.#prepared.launch();
    } catch (err) {
      const e = toError(err);
      const code =
        'code' in e && typeof e.code === 'string' && e.code.startsWith('SG_') ? e.code : 'SG_SUBAGENT_FAILED';
      this.#finish({
        status: 'failed',
        error: { code, message: `could not start the subagent: ${e.message}` },
      });
    }
  }

  /** A sandbox from the agent's warm pool, or undefined (none ready, or the claim failed: cold). */
  async #claimWarm(port: GatewayPort): Promise<Sandbox | undefined> {
    const pools = this.#deps.pools;
    const warm = pools?.take(this.agent.name, this.#entry);
    if (pools === undefined || warm === undefined) return undefined;
    try {
      const sandbox = await warm.claim({ id: this.id, gateway: port, onOutput: this.#output.sink });
      this.#warm = true;
      return sandbox;
    } catch (err) {
      pools.claimFailed(this.agent.name, err);
      return undefined;
    }
  }

  /** Leaves `starting`: the child runs, or (decided meanwhile) what startup made is cut now. */
  #started(): void {
    if (this.#run.state === 'aborting') {
      this.#run.to('ending');
      // A termination during startup (timeout, shutdown, cancel) must still kill the sandbox that
      // launch() returned, and could not revoke before the gateway listener was open.
      this.#sandbox?.kill();
      this.#revoke();
      return;
    }
    this.#run.to('running');
    const running = channels[DiagnosticsChannels.Running];
    if (running.hasSubscribers) {
      running.publish({
        subagentId: this.id,
        agent: this.agent.name,
        parent: this.parent,
        spawnMs: performance.now() - this.#startedMs,
      });
    }
    const sandbox = this.#sandbox;
    if (sandbox !== undefined) this.#child = watchChild(sandbox, this.#watchDeps(sandbox));
  }

  /** Terminates it (violation, cancellation or shutdown). No-op once an outcome is decided. */
  terminate(reason: TerminationReason, detail: string): void {
    if (this.ending) return;
    this.#decidedAt = performance.now();
    // Kill before anything else: a refused act must not be followed by another one.
    this.#decide();
    if (isViolation(reason)) {
      this.#deps.logger.warn(
        { event: AuditEvent.Violation, ...this.#who(), reason, detail },
        `subagent violation: ${reason}`,
      );
      const ch = channels[DiagnosticsChannels.Violation];
      if (ch.hasSubscribers) {
        ch.publish({ subagentId: this.id, agent: this.agent.name, parent: this.parent, reason, detail });
      }
    }
    this.#conclude({ status: 'terminated', reason, detail });
  }

  /** Decides a non-termination outcome (completed, failed) once and starts teardown. */
  #finish(final: Final): void {
    if (this.ending) return;
    this.#decidedAt = performance.now();
    // One last sample before the kill: a subagent that finished between two polls still has a peak.
    if (final.status === 'completed') this.#meter.observeRss(this.#sandbox?.sampleRssBytes() ?? null);
    this.#decide();
    this.#conclude(final);
  }

  /**
   * The decision's transition: during startup to `aborting` (nothing runs yet; `#started` cuts it
   * once startup settles), otherwise to `ending`, SIGKILLing a running child on the spot.
   */
  #decide(): void {
    const from = this.#run.state;
    if (from === 'starting') {
      this.#run.to('aborting');
      return;
    }
    this.#run.to('ending');
    if (from === 'running') this.#sandbox?.kill();
  }

  #conclude(final: Final): void {
    this.#final = final;
    this.#endedMs = this.#startedMs === 0 ? 0 : this.#decidedAt;
    // Cut its egress now, in the same tick as the kill (not after the teardown's first await).
    if (this.#run.state === 'ending') this.#revoke();
    this.#abort.abort();
    void this.#teardown();
  }

  /** Revokes the credential (closing its sockets); called once, on entering `ending`. */
  #revoke(): void {
    if (this.#credential === undefined) return;
    this.#deps.gateway.revoke(this.id);
    this.#child?.channel.destroy();
  }

  #watchDeps(sandbox: Sandbox): Parameters<typeof watchChild>[1] {
    const cred = this.#credential;
    if (cred === undefined) {
      throw new InternalError(`subagent ${this.id} is running without a credential`);
    }
    const who = this.#identity();
    return {
      startMessage: () => startMessage(who, this.#task, cred, sandbox),
      session: brokerSession(
        who,
        cred,
        this.#deps.acl,
        this.#deps.egressPolicy,
        this.#meter,
        this.#abort.signal,
      ),
      broker: this.#deps.broker,
      meter: this.#meter,
      logger: this.#deps.logger,
      who: this.#who(),
      maxMemoryMb: this.agent.constraints.maxMemoryMb,
      spawn: (agent, task) => this.#deps.spawnNested(this, agent, task),
      isEnding: () => this.ending,
      terminate: (reason, detail) => {
        this.terminate(reason, detail);
      },
      finish: (final) => {
        this.#finish(final);
      },
      secrets: () => this.#secrets(),
    };
  }

  #identity(): RunIdentity {
    return { id: this.id, agent: this.agent, parent: this.parent };
  }

  /** This subagent's own credential, in the forms the child could print it. */
  #secrets(): string[] {
    return credentialSecrets(this.#credential);
  }

  #who(): { subagentId: string; agent: string; parent: string; parentId?: string } {
    return {
      subagentId: this.id,
      agent: this.agent.name,
      parent: this.parent,
      ...(this.parentId === undefined ? {} : { parentId: this.parentId }),
    };
  }

  /** What the IPC conversation cost beyond the usage figures (only what is non-zero). */
  #ipcSummary(): { logLinesDropped?: number; ipcQueuedPeakBytes?: number } {
    const dropped = this.#child?.handler.droppedLogLines ?? 0;
    const queued = this.#child?.channel.peakQueuedBytes ?? 0;
    return {
      ...(dropped === 0 ? {} : { logLinesDropped: dropped }),
      ...(queued === 0 ? {} : { ipcQueuedPeakBytes: queued }),
    };
  }

  #settled(): Promise<void> {
    return this.result.then(() => undefined);
  }

  async #teardown(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    this.#child?.stopMemory();
    // Decided during startup: `#started` kills what launch() returned and revokes (state `ending`).
    // (Should it have thrown, execute() rejects and the orchestrator reports it; teardown goes on.)
    if (this.#startup !== undefined) await this.#startup.catch(() => undefined);
    const sandbox = this.#sandbox;
    // The credential is dead now (or never existed): the child's text may be written down.
    this.#output.release();
    const children = [...this.children];
    for (const child of children) child.terminate('cancelled', `its parent subagent ${this.id} ended`);
    const errors: unknown[] = [];
    if (sandbox !== undefined) {
      this.#cutAt = await reapSandbox(sandbox, this.#meter, errors);
    } else if (this.#prepared !== undefined) {
      // Never launched (or launch failed): what prepare() made is ours alone to remove.
      await this.#prepared.discard().catch((err: unknown) => errors.push(err));
    }
    await Promise.all(children.map((c) => c.result));
    this.#reservation.release();
    const wallMs = this.#startedMs === 0 ? 0 : this.#endedMs - this.#startedMs;
    const egress =
      this.#credential === undefined
        ? { requests: 0, bytesIn: 0, bytesOut: 0 }
        : this.#deps.gateway.usage(this.id);
    const outcome = reportExit({
      logger: this.#deps.logger,
      who: this.#who(),
      id: this.id,
      agent: this.agent.name,
      parent: this.parent,
      final: this.#final,
      usage: this.#meter.usage(wallMs, egress),
      errors,
      ipc: this.#ipcSummary(),
      decidedAt: this.#decidedAt,
      cutAt: this.#cutAt,
      warm: this.#warm,
    });
    this.#run.to('done');
    this.#deps.onFinished(this);
    this.#resolve(outcome);
  }
}

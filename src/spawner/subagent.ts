/**
 * One subagent's life in the parent: register its egress credential, launch its sandbox, speak the
 * IPC protocol, watch its quotas, and tear everything down exactly once on every exit path.
 *
 * Ordering on a violation: SIGKILL first (synchronously, before anything else can happen), then
 * revoke the credential (which cuts its sockets; synchronously too once startup is over), wait for
 * the process tree to be reaped, delete the scratch space, and only then resolve the outcome — so a
 * caller that sees the outcome can rely on nothing of the subagent being left. The `subagent.exit`
 * record says how long each part took: `killMs` (decision → process reaped and sockets cut) and
 * `teardownMs` (decision → everything removed).
 */
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { AuditEvent } from '../audit/events.js';
import type { AgentConfig, UpstreamProxy } from '../config/types.js';
import type { EgressDecision, EgressGateway, ProxyCredential } from '../gateway/types.js';
import {
  createParentChannel,
  describeThrown,
  type ChildMessage,
  type IpcChannel,
  type ParentMessage,
} from '../ipc/index.js';
import type { EgressPolicy } from '../policy/egress.js';
import type { ToolDecision } from '../policy/types.js';
import type { BrokerSession, ToolBroker } from '../tools/broker.js';
import { violationForEgress } from '../gateway/reasons.js';
import { InternalError, errorMessage, toError } from '../errors.js';
import { Meter } from './meter.js';
import type { ParentInstance, SpawnReservation } from './quotas.js';
import { createSandboxDirs, type LaunchSpec, type Sandbox } from './sandbox/index.js';
import { MAX_PAYLOAD_BYTES } from '../ipc/limits.js';
import { isViolation } from '../ipc/outcome.js';
import type { IsolationLevel, Outcome, SubagentInfo, TerminationReason } from './types.js';
import { ChildMessageHandler } from './messages.js';
import { classifyExit, watchMemory } from './monitors.js';
import { HeldOutput, OUTPUT_AUDIT_BYTES, maskSecrets, withStderrTail } from './output.js';

/** What a run needs from its orchestrator. */
export interface RunDeps {
  readonly gateway: EgressGateway;
  readonly broker: ToolBroker;
  readonly logger: Logger;
  readonly level: IsolationLevel;
  readonly launch: (spec: LaunchSpec) => Promise<Sandbox>;
  readonly acl: { decide(tool: string): ToolDecision };
  /** The agent's pure egress policy, for built-in tools that check targets before sending. */
  readonly egressPolicy: EgressPolicy;
  readonly upstream: UpstreamProxy | undefined;
  /** Nested spawn on behalf of this run; throws SpawnDeniedError when refused. */
  readonly spawnNested: (caller: SubagentRun, agent: string, task: unknown) => { result: Promise<Outcome> };
  /** Called once, after teardown, before the outcome resolves. */
  readonly onFinished: (run: SubagentRun) => void;
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

/** Largest subagent output accepted, bytes: the IPC payload cap (one frame with its envelope). */
export const MAX_OUTPUT_BYTES = MAX_PAYLOAD_BYTES;
/** How long to wait for the IPC stream to drain after the process exits (a result may still be in flight). */
const DRAIN_AFTER_EXIT_MS = 1000;
/** Upper bound on waiting for a SIGKILLed sandbox to be reaped. */
const REAP_TIMEOUT_MS = 5000;
/**
 * The wall-clock timeout is announced (IPC `abort`, which fires `ctx.signal`) this long before the
 * SIGKILL: 10 % of `timeout_seconds`, at most 1 s. A subagent that returns in time completes with
 * what it has; one that does not is killed at the timeout exactly as before.
 */
export function abortNoticeMs(timeoutMs: number): number {
  return Math.min(1000, timeoutMs / 10);
}
type Final =
  | { status: 'completed'; output: unknown }
  | { status: 'failed'; error: { code: string; message: string } }
  | { status: 'terminated'; reason: TerminationReason; detail: string };

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
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
  #resolve: (o: Outcome) => void = () => undefined;
  #state: 'queued' | 'running' | 'ending' | 'done' = 'queued';
  #final: Final | undefined;
  #startedMs = 0;
  #endedMs = 0;
  #credential: ProxyCredential | undefined;
  #ownedDir: string | undefined;
  #sandbox: Sandbox | undefined;
  #channel: IpcChannel<ChildMessage, ParentMessage> | undefined;
  #handler: ChildMessageHandler | undefined;
  #timers: NodeJS.Timeout[] = [];
  #stopMemory: (() => void) | undefined;
  #startup: Promise<void> | undefined;
  #startupDone = false;
  #killedSandbox: Sandbox | undefined;
  #revoked = false;
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
    this.#meter = new Meter(params.agent.constraints);
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
    return this.#over();
  }

  // A method rather than the getter inside the class: the state changes across awaits, and
  // TypeScript would otherwise keep a stale narrowing of `this.ending`.
  #over(): boolean {
    return this.#state === 'ending' || this.#state === 'done';
  }

  /** Live information for `active()`, or null once it has ended. */
  info(): SubagentInfo | null {
    if (this.#state !== 'queued' && this.#state !== 'running') return null;
    return {
      id: this.id,
      agent: this.agent.name,
      parent: this.parent,
      depth: this.depth,
      state: this.#state,
      startedAt: this.acceptedAt.toISOString(),
    };
  }

  /** SIGKILLs the sandbox now, synchronously (process 'exit' hook). */
  killNow(): void {
    this.#sandbox?.kill();
  }

  /** SIGKILLs the current sandbox once (its tree walk is not free; a second call is a no-op). */
  #kill(): void {
    const sandbox = this.#sandbox;
    if (sandbox === undefined || this.#killedSandbox === sandbox) return;
    this.#killedSandbox = sandbox;
    sandbox.kill();
  }

  /** Revokes the credential (closing its sockets) once; only after startup (see #teardown). */
  #revoke(): void {
    if (this.#revoked || !this.#startupDone || this.#credential === undefined) return;
    this.#revoked = true;
    this.#deps.gateway.revoke(this.id);
    this.#channel?.destroy();
  }

  /** Runs it (called when a concurrency slot is free); resolves after teardown. */
  async execute(): Promise<void> {
    if (this.#state !== 'queued') {
      await this.#settled();
      return;
    }
    this.#state = 'running';
    this.#startedMs = performance.now();
    const { timeoutSeconds } = this.agent.constraints;
    const timeoutMs = timeoutSeconds * 1000;
    this.#timers.push(
      setTimeout(
        () => {
          // The only graceful stop: violations, cancellation and shutdown kill without notice.
          if (!this.ending) {
            this.#channel?.send({
              type: 'abort',
              reason: `timeout_seconds ${timeoutSeconds} is about to expire`,
            });
          }
        },
        timeoutMs - abortNoticeMs(timeoutMs),
      ),
      setTimeout(() => {
        this.terminate('timeout', `wall clock over timeout_seconds ${timeoutSeconds}`);
      }, timeoutMs),
    );
    this.#startup = this.#start();
    await this.#startup;
    this.#startupDone = true;
    const sandbox = this.#sandbox;
    if (!this.#over() && sandbox !== undefined) this.#watch(sandbox);
    await this.#settled();
  }

  /** Credential, gateway socket, sandbox. Never rejects: a failure becomes a `failed` outcome. */
  async #start(): Promise<void> {
    const { constraints, network } = this.agent;
    try {
      this.#credential = this.#deps.gateway.register({
        id: this.id,
        network,
        ...(this.#deps.upstream === undefined ? {} : { upstream: this.#deps.upstream }),
        agent: this.agent.name,
        parent: this.parent,
        limits: { maxEgressBytes: network.maxEgressBytes },
        onDeny: (d) => {
          this.#onEgressDenied(d);
        },
        onLimit: (kind, detail) => {
          this.terminate(kind === 'api_calls' ? 'api_calls_exceeded' : 'egress_bytes_exceeded', detail);
        },
        // Flooding its own gateway (connections, requests without its credential) is abuse of
        // the channel the parent gave it, like a malformed IPC frame.
        onViolation: (kind, detail) => {
          this.terminate('protocol_violation', `gateway ${kind}: ${detail}`);
        },
        // A request over the budget is refused with 429 api_calls_exceeded, which reaches onDeny
        // and ends the subagent there, with the request it made in the detail.
        countRequest: () => this.#meter.takeApiCall(),
      });
      // One private 0700 directory per subagent holds its scratch dir and its gateway socket:
      // the socket is reachable only by path, and teardown is a single recursive removal.
      const dirs = createSandboxDirs(this.id);
      this.#ownedDir = dirs.root;
      const unixSocketPath = this.#deps.level === 'process' ? undefined : dirs.gatewaySocketPath;
      if (unixSocketPath !== undefined) await this.#deps.gateway.listenUnix(this.id, unixSocketPath);
      if (this.#over()) return;
      const addr = this.#deps.gateway.address;
      this.#sandbox = await this.#deps.launch({
        id: this.id,
        level: this.#deps.level,
        entry: this.#entry,
        scratchDir: dirs.scratchDir,
        maxMemoryMb: constraints.maxMemoryMb,
        ownedDir: dirs.root,
        onOutput: this.#output.sink,
        maxOutputBytes: OUTPUT_AUDIT_BYTES,
        gateway: {
          host: addr.host,
          port: addr.port,
          ...(unixSocketPath === undefined ? {} : { unixSocketPath }),
        },
      });
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

  /** Terminates it (violation, cancellation or shutdown). No-op once an outcome is decided. */
  terminate(reason: TerminationReason, detail: string): void {
    if (this.ending) return;
    this.#decidedAt = performance.now();
    // Kill before anything else: a refused act must not be followed by another one.
    this.#kill();
    if (isViolation(reason)) {
      this.#deps.logger.warn(
        { event: AuditEvent.Violation, ...this.#who(), reason, detail },
        `subagent violation: ${reason}`,
      );
    }
    this.#finish({ status: 'terminated', reason, detail });
  }

  /** The child's IPC channel and quota hooks, for the message handler. */
  #watch(sandbox: Sandbox): void {
    const channel = createParentChannel(sandbox.channel);
    this.#channel = channel;
    const handler = new ChildMessageHandler({
      send: (msg) => {
        if (!this.ending) channel.send(msg);
      },
      startMessage: () => this.#startMessage(sandbox),
      session: this.#session(),
      broker: this.#deps.broker,
      meter: this.#meter,
      logger: this.#deps.logger,
      who: this.#who(),
      spawn: (agent, task) => this.#deps.spawnNested(this, agent, task),
      isEnding: () => this.ending,
      terminate: (reason, detail) => {
        this.terminate(reason, detail);
      },
      complete: (final) => {
        this.#finish(final);
      },
      maxOutputBytes: MAX_OUTPUT_BYTES,
      mask: (text) => maskSecrets(text, this.#secrets()),
    });
    this.#handler = handler;
    // handle() never throws; the channel also turns a throwing listener into an `error`.
    channel.on('message', (msg, bytes) => {
      handler.handle(msg, bytes);
    });
    channel.on('error', (err) => {
      this.terminate('protocol_violation', err.message);
    });
    const drained = new Promise<void>((resolve) => {
      channel.once('close', resolve);
    });
    sandbox.exited
      .then(async (exit) => {
        if (this.#over()) return;
        // The result frame may still be in the socket when the exit is reported: let it drain.
        await Promise.race([drained, delay(DRAIN_AFTER_EXIT_MS)]);
        if (this.#over()) return;
        this.#onExitWithoutResult(sandbox, exit);
      })
      .catch((err: unknown) => {
        this.terminate('protocol_violation', `internal error after the child exited: ${describeThrown(err)}`);
      });
    this.#stopMemory = watchMemory(sandbox, this.agent.constraints.maxMemoryMb, this.#meter, (rss) => {
      this.terminate(
        'memory_exceeded',
        `resident memory ${(rss / 1048576).toFixed(1)} MiB over max_memory_mb ${this.agent.constraints.maxMemoryMb}`,
      );
    });
  }

  #startMessage(sandbox: Sandbox): ParentMessage {
    const cred = this.#credential;
    if (cred === undefined) throw new InternalError('no credential at start');
    // The socket path as the child sees it (undefined in process mode: the child uses TCP).
    const inside = sandbox.gatewaySocketPath;
    return {
      type: 'start',
      id: this.id,
      agent: this.agent.name,
      parent: this.parent,
      task: this.#task,
      egress:
        inside === undefined
          ? { proxyUrl: cred.proxyUrl }
          : {
              proxyUrl: `http://${encodeURIComponent(cred.username)}:${encodeURIComponent(cred.password)}@localhost`,
              socketPath: inside,
            },
      limits: { maxOutputBytes: MAX_OUTPUT_BYTES },
    };
  }

  #session(): BrokerSession {
    const cred = this.#credential;
    if (cred === undefined) throw new InternalError('no credential for the tool session');
    return {
      subagentId: this.id,
      agent: this.agent.name,
      parent: this.parent,
      acl: this.#deps.acl,
      takeApiCall: () => this.#meter.takeApiCall(),
      reserveCost: (usd) => this.#meter.reserveCost(usd),
      signal: this.#abort.signal,
      proxyUrl: cred.proxyUrl,
      // The same rules the gateway applies: web_fetch checks a redirect's target with them, so an
      // origin's redirect to a refused target is a tool error, not a kill.
      egress: this.#deps.egressPolicy,
    };
  }

  #onEgressDenied(d: EgressDecision): void {
    const reason = violationForEgress(d.reason);
    if (reason === null) return;
    this.terminate(reason, `egress ${d.method} ${d.host}:${d.port} refused (${d.reason}, HTTP ${d.status})`);
  }

  #onExitWithoutResult(sandbox: Sandbox, exit: { code: number | null; signal: string | null }): void {
    const verdict = classifyExit(sandbox, exit, this.agent.constraints.maxMemoryMb);
    if (verdict.status === 'terminated') {
      this.terminate(verdict.reason, verdict.detail);
      return;
    }
    // Why it died is usually on stderr (a crash before the runtime could report, a bad entry).
    const message = withStderrTail(verdict.error.message, sandbox.stderrTail(), this.#secrets());
    this.#finish({ status: 'failed', error: { code: verdict.error.code, message } });
  }

  /** This subagent's own credential, in the forms the child could print it. */
  #secrets(): string[] {
    const cred = this.#credential;
    if (cred === undefined) return [];
    return [cred.password, Buffer.from(`${cred.username}:${cred.password}`).toString('base64')];
  }

  #who(): { subagentId: string; agent: string; parent: string; parentId?: string } {
    return {
      subagentId: this.id,
      agent: this.agent.name,
      parent: this.parent,
      ...(this.parentId === undefined ? {} : { parentId: this.parentId }),
    };
  }

  /** Decides the outcome once and starts teardown. */
  #finish(final: Final): void {
    if (this.ending) return;
    this.#state = 'ending';
    this.#final = final;
    if (this.#decidedAt === 0) this.#decidedAt = performance.now();
    this.#endedMs = this.#startedMs === 0 ? 0 : this.#decidedAt;
    // One last sample before the kill: a subagent that finished between two polls still has a peak.
    if (final.status === 'completed') this.#meter.observeRss(this.#sandbox?.sampleRssBytes() ?? null);
    this.#kill();
    // Cut its egress now, in the same tick as the kill (not after the teardown's first await).
    this.#revoke();
    this.#abort.abort();
    void this.#teardown();
  }

  /** What the IPC conversation cost beyond the usage figures (only what is non-zero). */
  #ipcSummary(): { logLinesDropped?: number; ipcQueuedPeakBytes?: number } {
    const dropped = this.#handler?.droppedLogLines ?? 0;
    const queued = this.#channel?.peakQueuedBytes ?? 0;
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
    this.#stopMemory?.();
    this.#stopMemory = undefined;
    // A termination during startup (timeout, shutdown, cancel) must still find and kill the
    // sandbox that launch() is about to return, and must not revoke before listenUnix finished.
    if (this.#startup !== undefined) await this.#startup;
    this.#startupDone = true;
    const sandbox = this.#sandbox;
    const gateway = this.#deps.gateway;
    // No-ops when #finish already did them; needed when the outcome was decided during startup.
    this.#kill();
    this.#revoke();
    // The credential is dead now (or never existed): the child's text may be written down.
    this.#output.release();
    const children = [...this.children];
    for (const child of children) child.terminate('cancelled', `its parent subagent ${this.id} ended`);
    const errors: unknown[] = [];
    if (sandbox !== undefined) {
      await Promise.race([sandbox.exited, delay(REAP_TIMEOUT_MS)]);
      this.#cutAt = performance.now();
      this.#meter.observeRss(sandbox.peakRssBytes);
      // Waits for every process of the sandbox to be gone, then removes the cgroup, the scratch
      // dir, the socket and the owned directory (launched with it).
      await sandbox.dispose().catch((err: unknown) => errors.push(err));
      if (sandbox.goneAt !== undefined) this.#cutAt = Math.max(this.#cutAt, sandbox.goneAt);
    } else if (this.#ownedDir !== undefined) {
      // Never launched (or launch failed): the directory is ours alone to remove.
      await rm(this.#ownedDir, { recursive: true, force: true }).catch((err: unknown) => errors.push(err));
    }
    await Promise.all(children.map((c) => c.result));
    this.#reservation.release();
    for (const err of errors) {
      this.#deps.logger.error(
        {
          event: AuditEvent.Exit,
          ...this.#who(),
          teardownError: errorMessage(err),
        },
        'subagent teardown incomplete',
      );
    }
    const wallMs = this.#startedMs === 0 ? 0 : this.#endedMs - this.#startedMs;
    const egress =
      this.#credential === undefined ? { requests: 0, bytesIn: 0, bytesOut: 0 } : gateway.usage(this.id);
    const usage = this.#meter.usage(wallMs, egress);
    const final = this.#final ?? {
      status: 'failed',
      error: { code: 'SG_SUBAGENT_FAILED', message: 'no outcome' },
    };
    const outcome: Outcome = { id: this.id, agent: this.agent.name, parent: this.parent, usage, ...final };
    const ms = (t: number): number => Math.round((t - this.#decidedAt) * 10) / 10;
    this.#deps.logger.info(
      {
        event: AuditEvent.Exit,
        ...this.#who(),
        status: final.status,
        ...(final.status === 'terminated' ? { reason: final.reason } : {}),
        ...(final.status === 'failed' ? { code: final.error.code } : {}),
        usage,
        ...this.#ipcSummary(),
        ...(this.#cutAt === 0 ? {} : { killMs: ms(this.#cutAt) }),
        teardownMs: ms(performance.now()),
      },
      `subagent ${final.status}`,
    );
    this.#state = 'done';
    this.#deps.onFinished(this);
    this.#resolve(outcome);
  }
}

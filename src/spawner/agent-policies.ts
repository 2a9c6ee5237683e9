/**
 * Per-agent facts an orchestrator derives from the config once and reuses for every spawn: the
 * tool ACL, the pure egress policy, and the entry path.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { AgentConfig } from '../config/types.js';
import { SpawnerError } from '../errors.js';
import { EgressPolicy } from '../policy/egress.js';
import { ToolAcl } from '../policy/tools.js';

/** Caches of one orchestrator (never shared between orchestrators). */
export class AgentPolicies {
  readonly #baseDir: string;
  readonly #gatewayHost: string;
  readonly #acls = new Map<string, ToolAcl>();
  readonly #egressPolicies = new Map<string, EgressPolicy>();

  constructor(baseDir: string, gatewayHost: string) {
    this.#baseDir = baseDir;
    this.#gatewayHost = gatewayHost;
  }

  acl(agent: AgentConfig): ToolAcl {
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
  egressPolicy(agent: AgentConfig): EgressPolicy {
    let policy = this.#egressPolicies.get(agent.name);
    if (policy === undefined) {
      policy = new EgressPolicy(agent.network, { gatewayAddresses: [this.#gatewayHost] });
      this.#egressPolicies.set(agent.name, policy);
    }
    return policy;
  }

  /**
   * The absolute entry of a spawn: the request's override or the agent's own, relative to the
   * config file.
   * @throws SpawnerError SG_SPAWN_INVALID_REQUEST when there is none or it does not exist.
   */
  resolveEntry(agent: AgentConfig, override: string | undefined): string {
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
    const path = isAbsolute(raw) ? raw : resolve(this.#baseDir, raw);
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
}

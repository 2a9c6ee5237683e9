/**
 * Creation-time check that every tool a subagent is allowed by name has a definition. Without it
 * a typo in `tools_allowed` (or a forgotten `tools` entry) surfaces only at the first call, as a
 * `tool_denied` termination of a subagent that did nothing wrong.
 */
import type { GuardConfig } from '../config/types.js';
import { childPointer } from '../config/pointer.js';
import { ToolError } from '../errors.js';
import { isCoreTool } from '../policy/tool-groups.js';
import { ToolAcl } from '../policy/tools.js';

/** One allowed name nobody defined. */
export interface UndefinedTool {
  readonly agent: string;
  readonly tool: string;
  /** JSON pointer of the agent's allow list in the config file. */
  readonly path: string;
}

function isLiteral(pattern: string): boolean {
  return !pattern.includes('*') && !pattern.startsWith('group:');
}

/**
 * Names allowed literally (no wildcard, no group) by a subagent's policy, not denied by it, and
 * defined neither as a built-in nor by the caller. In OpenClaw's shape, names of OpenClaw's own
 * catalog are left out: profiles and groups allow them wholesale, and OpenClaw, not this config,
 * decides whether they exist.
 */
export function undefinedTools(config: GuardConfig, defined: ReadonlySet<string>): UndefinedTool[] {
  const out: UndefinedTool[] = [];
  for (const agent of Object.values(config.agents)) {
    if (agent.role !== 'subagent') continue;
    const acl = new ToolAcl(agent.tools);
    agent.tools.allowed.forEach((tool) => {
      if (!isLiteral(tool) || defined.has(tool) || !acl.decide(tool).allow) return;
      if (config.format === 'openclaw' && isCoreTool(tool)) return;
      const path =
        config.format === 'openclaw'
          ? childPointer('/agents/entries', agent.name, 'tools', 'allow')
          : childPointer('/agents', agent.name, 'tools_allowed');
      out.push({ agent: agent.name, tool, path });
    });
  }
  return out;
}

/** Throws SG_TOOL_UNDEFINED naming every undefined tool with its agent and JSON path. */
export function assertToolsDefined(config: GuardConfig, defined: readonly string[]): void {
  const missing = undefinedTools(config, new Set(defined));
  if (missing.length === 0) return;
  const list = missing.map((m) => `'${m.tool}' (agent '${m.agent}', ${m.path})`).join(', ');
  throw new ToolError(
    'SG_TOOL_UNDEFINED',
    `createOrchestrator(): tools allowed by the config have no definition: ${list}; ` +
      'pass a definition in `tools` or remove the name from the allow list',
    { details: { tools: missing.map((m) => ({ ...m })) } },
  );
}

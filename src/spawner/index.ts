/** The parent-side spawner: `createOrchestrator` and its types. */
export { createOrchestrator, chooseIsolation } from './orchestrator.js';
export { TERMINATION_REASONS } from './types.js';
export type {
  IsolationLevel,
  IsolationRequest,
  Orchestrator,
  OrchestratorOptions,
  Outcome,
  OutcomeCommon,
  PoolStats,
  Resolver,
  SpawnRequest,
  SubagentHandle,
  SubagentInfo,
  TerminationReason,
  ToolContext,
  ToolDefinition,
  Usage,
} from './types.js';

export { ToolBroker } from './broker.js';
export type { BrokerOutcome, BrokerSession, BrokerViolation, ToolBrokerOptions } from './broker.js';
export { BUILTIN_TOOLS, sanitizedParse, SANITIZED_PARSE_LIMITS, WEB_FETCH_LIMITS } from './builtin/index.js';
export type { ToolContext, ToolDefinition, BuiltinToolContext, BuiltinToolDefinition } from './types.js';
export { modelCallTool, modelCostUsd } from './model/model-call.js';
export type { ModelAgentLimits, ModelCallOptions, ModelCallResult, ModelPrice } from './model/model-call.js';
export type { ModelMessage, ModelProvider, ModelUsage } from './model/providers.js';

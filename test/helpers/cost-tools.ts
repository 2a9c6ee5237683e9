/**
 * Tools with a cost, for tests that watch quota charges (audit records, diagnostics channels,
 * metrics): one with a fixed price, one billed by use (reserves its maximum, settles lower).
 */
import type { ToolDefinition } from '../../src/spawner/types.js';

/** Charged 0.1 USD per call. */
export const paidTool: ToolDefinition = {
  description: 'a paid tool',
  inputSchema: { type: 'object' },
  costUsd: 0.1,
  handler: () => Promise.resolve({ paid: true }),
};

/** Reserves its maximum (0.1 USD) before it runs, then settles to 0.04: 0.06 comes back. */
export const meteredTool: ToolDefinition = {
  description: 'a tool billed by use',
  inputSchema: { type: 'object' },
  maxCostUsd: 0.1,
  handler: (_args, ctx) => {
    ctx.reportCost?.(0.04);
    return Promise.resolve({ metered: true });
  },
};

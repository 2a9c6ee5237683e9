/**
 * Variable tool cost, reserve-then-settle. Before a handler runs, the broker reserves the call's
 * maximum against the subagent's `max_cost_usd` (synchronously, in the same turn as the quota
 * check, so concurrent calls can never all pass a cap that only one of them fits); when the
 * handler ends, the reservation settles to what the handler reported. Amounts are integer
 * nano-dollars: a token can cost 1e-7 USD, and float sums must not decide a refusal.
 */
import { ToolError } from '../errors.js';

/** Nano-dollars per dollar. */
export const NANO = 1_000_000_000;

/** Largest cost figure accepted for one call (a larger one is a bug, not a price). @default 1000000 */
export const MAX_COST_FIGURE_USD = 1_000_000;

/** A figure as integer nano-dollars, or null when it is not a finite number in [0, MAX_COST_FIGURE_USD]. */
export function costNano(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_COST_FIGURE_USD) {
    return null;
  }
  return Math.round(value * NANO);
}

/** USD from nano-dollars. */
export function usdOf(nano: number): number {
  return nano / NANO;
}

/** How a tool declares its cost (the relevant fields of a tool definition). */
export interface CostDeclaration {
  readonly costUsd?: number | undefined;
  readonly maxCostUsd?: number | ((args: unknown, who: CostCaller) => number) | undefined;
}

/** Who makes the call, for a maximum that depends on the agent (e.g. its own token cap). */
export interface CostCaller {
  readonly subagentId: string;
  readonly agent: string;
}

/**
 * The reservation for one call: `maxCostUsd` (a number, or computed from the validated arguments),
 * else `costUsd`, else 0. A figure that is not a finite number >= 0, or a function that throws, is
 * a bug in the parent's tool: `SG_TOOL_COST_INVALID`, and the handler does not run.
 */
export function reservationNano(
  tool: string,
  decl: CostDeclaration,
  args: unknown,
  who: CostCaller,
): number | ToolError {
  const max = decl.maxCostUsd;
  let figure: unknown;
  try {
    figure = typeof max === 'function' ? max(args, who) : (max ?? decl.costUsd ?? 0);
  } catch (err) {
    return new ToolError('SG_TOOL_COST_INVALID', `tool '${tool}': maxCostUsd(args) threw`, {
      cause: err,
      details: { tool },
    });
  }
  const nano = costNano(figure);
  if (nano === null) {
    return new ToolError(
      'SG_TOOL_COST_INVALID',
      `tool '${tool}': the maximum cost of this call is not a finite number in [0, ${MAX_COST_FIGURE_USD}] USD`,
      { details: { tool } },
    );
  }
  return nano;
}

/**
 * The cost of one running call. `report` is what the handler receives as `ctx.reportCost`: it adds
 * to the call's actual cost. A handler that reports nothing is charged its whole reservation (the
 * broker cannot know it cost less). Reporting more than the reservation, or a figure that is not a
 * number >= 0, is a bug in the parent's tool: `report` throws, and the call fails with that code
 * whatever the handler does next, charged its whole reservation, so the cap still holds.
 */
export class CallCost {
  readonly reservedNano: number;
  readonly #tool: string;
  #reportedNano = 0;
  #reported = false;
  #fault: ToolError | undefined;
  #settled = false;

  constructor(tool: string, reservedNano: number) {
    this.#tool = tool;
    this.reservedNano = reservedNano;
  }

  /** Adds `usd` to this call's actual cost. @throws ToolError SG_TOOL_COST_INVALID / SG_TOOL_COST_OVERRUN */
  readonly report = (usd: number): void => {
    const fail = (err: ToolError): never => {
      this.#fault ??= err;
      throw err;
    };
    if (this.#settled) {
      // Too late to charge: the call's money is already accounted for. Surfaced, never absorbed.
      fail(
        new ToolError(
          'SG_TOOL_COST_INVALID',
          `tool '${this.#tool}': reportCost() was called after the call finished`,
          { details: { tool: this.#tool } },
        ),
      );
    }
    const nano = costNano(usd);
    if (nano === null) {
      fail(
        new ToolError(
          'SG_TOOL_COST_INVALID',
          `tool '${this.#tool}': reportCost() got a figure that is not a finite number in [0, ${MAX_COST_FIGURE_USD}] USD`,
          { details: { tool: this.#tool } },
        ),
      );
      return;
    }
    const total = this.#reportedNano + nano;
    if (total > this.reservedNano) {
      fail(
        new ToolError(
          'SG_TOOL_COST_OVERRUN',
          `tool '${this.#tool}': the call reported ${usdOf(total)} USD, more than the ${usdOf(this.reservedNano)} USD reserved for it; its maximum cost (maxCostUsd) is wrong`,
          { details: { tool: this.#tool, reservedUsd: usdOf(this.reservedNano), reportedUsd: usdOf(total) } },
        ),
      );
    }
    this.#reportedNano = total;
    this.#reported = true;
  };

  /** Ends the call: what it is charged, and the fault (if any) that replaces its result. */
  settle(): { chargedNano: number; reportedNano: number | null; fault: ToolError | undefined } {
    this.#settled = true;
    const charged = this.#fault !== undefined || !this.#reported ? this.reservedNano : this.#reportedNano;
    return {
      chargedNano: charged,
      reportedNano: this.#reported ? this.#reportedNano : null,
      fault: this.#fault,
    };
  }
}

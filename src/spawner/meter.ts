/**
 * Per-subagent metering in the parent. The child never reports its own usage: every figure here is
 * counted where the parent itself performs or relays the work (broker, gateway hooks, /proc).
 */
import type { Constraints } from '../config/types.js';
import type { Usage } from './types.js';

const MICRO = 1_000_000;

/** Counters and budgets of one subagent. */
export class Meter {
  readonly #maxApiCalls: number;
  readonly #maxCostMicro: number;
  #apiCalls = 0;
  #costMicro = 0;
  #toolCalls = 0;
  #peakRssBytes = 0;

  constructor(constraints: Constraints) {
    this.#maxApiCalls = constraints.maxApiCalls;
    // Integer micro-dollars: repeated float additions (0.1 + 0.2) must not decide a refusal.
    this.#maxCostMicro = Math.round(constraints.maxCostUsd * MICRO);
  }

  /** One unit of the shared budget (tool call or egress request); false = over max_api_calls, not taken. */
  takeApiCall(): boolean {
    if (this.#apiCalls >= this.#maxApiCalls) return false;
    this.#apiCalls += 1;
    return true;
  }

  /** Reserves a tool's cost; false = it would exceed max_cost_usd, nothing reserved. */
  reserveCost(usd: number): boolean {
    const micro = Math.round(usd * MICRO);
    if (this.#costMicro + micro > this.#maxCostMicro) return false;
    this.#costMicro += micro;
    return true;
  }

  countToolCall(): void {
    this.#toolCalls += 1;
  }

  observeRss(bytes: number | null): void {
    if (bytes !== null && bytes > this.#peakRssBytes) this.#peakRssBytes = bytes;
  }

  get peakRssBytes(): number {
    return this.#peakRssBytes;
  }

  /** The outcome's usage figures. */
  usage(wallMs: number, egress: { requests: number; bytesIn: number; bytesOut: number }): Usage {
    return {
      wallMs: Math.max(0, Math.round(wallMs)),
      toolCalls: this.#toolCalls,
      apiCalls: this.#apiCalls,
      costUsd: this.#costMicro / MICRO,
      peakRssMb: Math.round((this.#peakRssBytes / (1024 * 1024)) * 10) / 10,
      egressRequests: egress.requests,
      egressBytesOut: egress.bytesOut,
      egressBytesIn: egress.bytesIn,
    };
  }
}

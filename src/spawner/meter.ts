/**
 * Per-subagent metering in the parent. The child never reports its own usage: every figure here is
 * counted where the parent itself performs or relays the work (broker, gateway hooks, /proc).
 */
import type { Constraints } from '../config/types.js';
import { costNano, usdOf } from '../tools/cost.js';
import type { Usage } from './types.js';

/** Counters and budgets of one subagent. */
export class Meter {
  readonly #maxApiCalls: number;
  readonly #maxCostNano: number;
  #apiCalls = 0;
  #costNano = 0;
  #toolCalls = 0;
  #peakRssBytes = 0;

  constructor(constraints: Constraints) {
    this.#maxApiCalls = constraints.maxApiCalls;
    // Integer nano-dollars: repeated float additions (0.1 + 0.2) must not decide a refusal, and
    // one token of a cheap model costs less than a micro-dollar.
    this.#maxCostNano = Math.round(constraints.maxCostUsd * 1e9);
  }

  /** One unit of the shared budget (tool call or egress request); false = over max_api_calls, not taken. */
  takeApiCall(): boolean {
    if (this.#apiCalls >= this.#maxApiCalls) return false;
    this.#apiCalls += 1;
    return true;
  }

  /**
   * Reserves a tool call's (maximum) cost; false = it would exceed max_cost_usd, nothing reserved.
   * Exactly at the cap is allowed. An invalid figure is refused (the broker validates first).
   */
  reserveCost(usd: number): boolean {
    const nano = costNano(usd);
    if (nano === null || this.#costNano + nano > this.#maxCostNano) return false;
    this.#costNano += nano;
    return true;
  }

  /**
   * Settles a reservation to what the call was actually charged, giving the rest back. Until a
   * call settles, its whole reservation counts as spent (also in the outcome's `usage.costUsd`).
   */
  settleCost(reservedUsd: number, chargedUsd: number): void {
    const reserved = costNano(reservedUsd);
    const charged = costNano(chargedUsd);
    if (reserved === null || charged === null || charged >= reserved) return;
    this.#costNano = Math.max(0, this.#costNano - (reserved - charged));
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
      costUsd: usdOf(this.#costNano),
      peakRssMb: Math.round((this.#peakRssBytes / (1024 * 1024)) * 10) / 10,
      egressRequests: egress.requests,
      egressBytesOut: egress.bytesOut,
      egressBytesIn: egress.bytesIn,
    };
  }
}

/**
 * Per-subagent metering in the parent. The child never reports its own usage: every figure here is
 * counted where the parent itself performs or relays the work (broker, gateway hooks, /proc).
 */
import type { Constraints } from '../config/types.js';
import { costNano, usdOf } from '../tools/cost.js';
import { channels, DiagnosticsChannels } from '../observability/channels.js';
import type { Usage } from './types.js';

const quotaChannel = channels[DiagnosticsChannels.QuotaCharge];
const refundChannel = channels[DiagnosticsChannels.QuotaRefund];

/** Counters and budgets of one subagent. */
export class Meter {
  readonly #maxApiCalls: number;
  readonly #maxCostNano: number;
  #apiCalls = 0;
  #costNano = 0;
  #toolCalls = 0;
  #peakRssBytes = 0;

  readonly #subject: { readonly subagentId: string; readonly agent: string };

  /** `subject` names the subagent in `quota.charge` diagnostics messages. */
  constructor(
    constraints: Constraints,
    subject: { readonly subagentId: string; readonly agent: string } = { subagentId: '', agent: '' },
  ) {
    this.#subject = subject;
    this.#maxApiCalls = constraints.maxApiCalls;
    // Integer nano-dollars: repeated float additions (0.1 + 0.2) must not decide a refusal, and
    // one token of a cheap model costs less than a micro-dollar.
    this.#maxCostNano = Math.round(constraints.maxCostUsd * 1e9);
  }

  /** One unit of the shared budget (tool call or egress request); false = over max_api_calls, not taken. */
  takeApiCall(): boolean {
    const allowed = this.#apiCalls < this.#maxApiCalls;
    if (allowed) this.#apiCalls += 1;
    if (quotaChannel.hasSubscribers) {
      quotaChannel.publish({
        ...this.#subject,
        quota: 'api_calls',
        amount: 1,
        used: this.#apiCalls,
        limit: this.#maxApiCalls,
        allowed,
      });
    }
    return allowed;
  }

  /**
   * Reserves a tool call's (maximum) cost; false = it would exceed max_cost_usd, nothing reserved.
   * Exactly at the cap is allowed. An invalid figure is refused (the broker validates first).
   */
  reserveCost(usd: number): boolean {
    const nano = costNano(usd);
    const allowed = nano !== null && this.#costNano + nano <= this.#maxCostNano;
    if (allowed) this.#costNano += nano;
    if (quotaChannel.hasSubscribers) {
      quotaChannel.publish({
        ...this.#subject,
        quota: 'cost_usd',
        amount: usd,
        used: usdOf(this.#costNano),
        limit: usdOf(this.#maxCostNano),
        allowed,
      });
    }
    return allowed;
  }

  /**
   * Settles a reservation to what the call was actually charged, giving the rest back. Until a
   * call settles, its whole reservation counts as spent (also in the outcome's `usage.costUsd`).
   */
  settleCost(reservedUsd: number, chargedUsd: number): void {
    const reserved = costNano(reservedUsd);
    const charged = costNano(chargedUsd);
    if (reserved === null || charged === null || charged >= reserved) return;
    const before = this.#costNano;
    this.#costNano = Math.max(0, this.#costNano - (reserved - charged));
    if (refundChannel.hasSubscribers && this.#costNano < before) {
      refundChannel.publish({
        ...this.#subject,
        quota: 'cost_usd',
        amount: usdOf(before - this.#costNano),
        used: usdOf(this.#costNano),
        limit: usdOf(this.#maxCostNano),
      });
    }
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

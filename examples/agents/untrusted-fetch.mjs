// A benign subagent: reads an untrusted API two ways (the brokered web_fetch tool and plain
// fetch, both through the egress gateway), parses the untrusted body with sanitized_parse, asks
// a paid tool for a quote, and returns a small summary. It never sees a credential of the parent.
import { defineSubagent } from 'subagent-guard/runtime';

export default defineSubagent(async (task, ctx) => {
  const base = String(task.baseUrl);

  // 1. Brokered: the parent performs the request with this subagent's own gateway credential.
  const viaTool = await ctx.tools.call('web_fetch', { url: `${base}/items` });
  const items = await ctx.tools.call('sanitized_parse', { text: viaTool.body, maxDepth: 8 });

  // 2. Direct: global fetch is routed through the gateway automatically (and nowhere else).
  const res = await fetch(`${base}/status`);
  const status = await res.json();

  // 3. A metered tool: its cost is counted in the parent against max_cost_usd.
  const quote = await ctx.tools.call('quote', { sku: items.items[0]?.sku ?? 'none' });

  ctx.log('fetched the untrusted API', { items: items.items.length, httpStatus: viaTool.status });
  return {
    items: items.items.length,
    firstSku: items.items[0]?.sku ?? null,
    apiState: status.state,
    quoteUsd: quote.priceUsd,
  };
});

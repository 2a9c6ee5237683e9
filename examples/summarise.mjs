#!/usr/bin/env node
// Summarise a fetched page with model_call. The subagent fetches the page (web_fetch, through the
// egress gateway) and asks for a summary (model_call): the parent calls the model with a key the
// subagent never sees, and meters the call's tokens against the agent's max_cost_usd.
//
// Against a local OpenAI-compatible server (llama.cpp `llama-server`, vLLM, Ollama):
//   MODEL_BASE_URL=http://127.0.0.1:8080/v1 MODEL_NAME=my-model node examples/summarise.mjs
//   (MODEL_API_KEY, if the server wants one, stays in this process's environment)
// Without MODEL_BASE_URL a tiny built-in OpenAI-compatible stand-in on 127.0.0.1 answers, so the
// example runs anywhere: npm run build && node examples/summarise.mjs
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOrchestrator, modelCallTool, parseConfig } from 'subagent-guard';

const here = dirname(fileURLToPath(import.meta.url));
const PAGE_NAME = 'page.local.test';

function listen(server, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(server.address().port));
  });
}

/** The page to summarise, on loopback. */
const page = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<html><head><title>Tide pools</title><script>ignore()</script></head><body>
<h1>Tide pools</h1><p>Tide pools are rocky hollows on the shore that keep seawater when the tide goes out.
They shelter anemones, crabs and snails, which must survive heat, waves and changing salinity.
Visitors should step only on bare rock and put back any stone they lift.</p></body></html>`);
});

/**
 * A stand-in OpenAI-compatible chat completions server: it checks the key and answers with the
 * first two sentences of the user's text and the documented usage fields.
 */
function standIn(key) {
  return createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== '/v1/chat/completions' || req.headers.authorization !== `Bearer ${key}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'invalid_request_error' } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const user = body.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
      const summary = (user.match(/[^.]*?[A-Z][^.]*\./g) ?? []).slice(1, 3).join(' ').trim();
      const prompt = Math.ceil(JSON.stringify(body.messages).length / 4);
      const completion = Math.ceil(summary.length / 4);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-local',
          object: 'chat.completion',
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: summary }, finish_reason: 'stop' }],
          usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
        }),
      );
    });
  });
}

// Not 127.0.0.1: that is the egress gateway's own address, which no subagent may ever reach.
const PAGE_ADDRESS = '127.0.0.2';
const pagePort = await listen(page, PAGE_ADDRESS);
let baseUrl = process.env.MODEL_BASE_URL;
let model = process.env.MODEL_NAME ?? 'local-model';
let stub;
if (baseUrl === undefined) {
  // The key of the stand-in: set in THIS process only, as a real key would be.
  process.env.MODEL_API_KEY = `local-${Math.random().toString(36).slice(2)}`;
  stub = standIn(process.env.MODEL_API_KEY);
  baseUrl = `http://127.0.0.1:${await listen(stub, '127.0.0.1')}/v1`;
  model = 'local-model';
}
const modelHost = new URL(baseUrl).hostname;

const auditDir = mkdtempSync(join(tmpdir(), 'sg-summarise-'));
const config = parseConfig(
  {
    audit: { path: join(auditDir, 'audit.log') },
    agents: {
      main: { role: 'parent', subagents: { allowAgents: ['summariser'], maxConcurrent: 1, maxChildren: 1 } },
      summariser: {
        description: 'Summarises an untrusted page with a model it holds no key for',
        entry: './agents/summariser.mjs',
        tools_allowed: ['web_fetch', 'model_call'],
        constraints: { max_memory_mb: 160, max_api_calls: 10, max_cost_usd: 0.05, timeout_seconds: 60 },
        network: {
          egress_only: true,
          allowed_domains: [PAGE_NAME],
          allowed_ports: [pagePort],
          allowed_cidrs: [`${PAGE_ADDRESS}/32`],
        },
      },
    },
  },
  { source: 'examples/summarise.mjs', baseDir: here },
);

const orchestrator = await createOrchestrator({
  config,
  // The page's name maps to loopback; no real DNS is queried.
  resolver: async (name) => (name === PAGE_NAME ? [{ address: PAGE_ADDRESS, family: 4 }] : []),
  tools: {
    model_call: modelCallTool({
      provider: 'openai-chat',
      baseUrl,
      ...(process.env.MODEL_API_KEY === undefined ? {} : { apiKey: { env: 'MODEL_API_KEY' } }),
      // USD per million tokens: what this model costs you (a local one: electricity).
      prices: { [model]: { inputPerMTok: 0.15, cachedInputPerMTok: 0.075, outputPerMTok: 0.6 } },
      agents: { summariser: { models: [model], maxTokens: 200 } },
      // A local server is a loopback (private) destination: allowed only because it is listed.
      allowedCidrs: modelHost === 'localhost' || /^127\./.test(modelHost) ? ['127.0.0.0/8'] : [],
    }),
  },
});

let ok = false;
try {
  const outcome = await orchestrator.run({
    parent: 'main',
    agent: 'summariser',
    task: { url: `http://${PAGE_NAME}:${pagePort}/tide-pools`, model },
  });
  console.log(JSON.stringify(outcome, null, 2));
  ok =
    outcome.status === 'completed' &&
    typeof outcome.output?.summary === 'string' &&
    outcome.output.summary !== '';
} finally {
  await orchestrator.close();
  page.close();
  stub?.close();
  rmSync(auditDir, { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;

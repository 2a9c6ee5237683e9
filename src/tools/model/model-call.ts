/**
 * `model_call`: a subagent asks the parent to call a model. The API key lives in the parent only
 * (read from its environment or a function at call time; never in config files, audit records,
 * errors or anything sent to the child), the request goes out from the parent with the gateway's
 * address rules, and the call is metered by tokens: the broker reserves the most it can cost
 * before the request is sent and settles to the provider's reported usage × the price table.
 */
import { ToolError } from '../../errors.js';
import type { Resolver } from '../../gateway/types.js';
import { AddressPolicy } from '../../policy/addresses.js';
import type { ToolDefinition } from '../types.js';
import { postJson } from './http.js';
import {
  authHeaders,
  buildRequest,
  MODEL_PROVIDERS,
  parseAnswer,
  upstreamErrorKind,
  type ModelMessage,
  type ModelProvider,
  type ModelUsage,
} from './providers.js';

/** Prices of one model, USD per million tokens. */
export interface ModelPrice {
  /** Input tokens at the full price. */
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
  /** Input tokens read from the prompt cache. @default inputPerMTok */
  readonly cachedInputPerMTok?: number;
  /** Input tokens written to the prompt cache (Anthropic). @default 1.25 × inputPerMTok */
  readonly cacheWriteInputPerMTok?: number;
}

/** What one agent may do with `model_call`. */
export interface ModelAgentLimits {
  /** Models (keys of the price table) this agent may call. */
  readonly models: readonly string[];
  /** Largest `maxTokens` (output tokens) of one call. @default the tool's maxTokens */
  readonly maxTokens?: number;
}

/** Options of {@link modelCallTool}. */
export interface ModelCallOptions {
  readonly provider: ModelProvider;
  /**
   * The API's base URL: `https://api.openai.com/v1` (openai-*), `https://api.anthropic.com`
   * (anthropic), `http://127.0.0.1:8080/v1` for a local llama.cpp / vLLM / Ollama server (whose
   * address must then be listed in `allowedCidrs`).
   */
  readonly baseUrl: string;
  /**
   * Where the key comes from, read for each call in the parent: the name of an environment
   * variable of the parent, or a function. Never a literal (it would end up in a config file).
   * Absent for a local server that needs none.
   */
  readonly apiKey?: { readonly env: string } | (() => string | Promise<string>);
  /** Price table, by model name. Only models listed here can be called. */
  readonly prices: Readonly<Record<string, ModelPrice>>;
  /** Per-agent limits, by agent name. An agent not listed may not call any model. */
  readonly agents: Readonly<Record<string, ModelAgentLimits>>;
  /** Largest `maxTokens` of one call for any agent. @default 4096 */
  readonly maxTokens?: number;
  /**
   * CIDRs of private/loopback destinations the tool may reach (a local model server). Like the
   * gateway: everything non-public is refused unless listed here; metadata addresses never.
   * @default []
   */
  readonly allowedCidrs?: readonly string[];
  /** DNS for the provider's name. @default the system resolver */
  readonly resolver?: Resolver;
  /** @default 120000 */
  readonly timeoutMs?: number;
  /** @default 4194304 (4 MiB) */
  readonly maxResponseBytes?: number;
  /** `anthropic-version` header. @default '2023-06-01' */
  readonly anthropicVersion?: string;
}

/** What the subagent receives: the answer and its usage, nothing else. */
export interface ModelCallResult {
  readonly text: string;
  readonly usage: ModelUsage;
}

const MAX_MESSAGES = 256;
/** Tokens added per message and per request for the reservation's input bound. */
const TOKENS_PER_MESSAGE = 16;
const TOKENS_PER_REQUEST = 64;

const bad = (what: string): never => {
  throw new ToolError('SG_TOOL_DEFINITION_INVALID', `model_call: ${what}`, {
    details: { tool: 'model_call' },
  });
};

const isPrice = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function checkOptions(o: ModelCallOptions): URL {
  if (!MODEL_PROVIDERS.includes(o.provider)) bad(`provider must be one of ${MODEL_PROVIDERS.join(', ')}`);
  let url: URL;
  try {
    url = new URL(o.baseUrl);
  } catch {
    return bad('baseUrl is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') bad('baseUrl must be http(s)');
  if (url.username !== '' || url.password !== '') bad('baseUrl must not carry credentials (use apiKey)');
  if (url.search !== '' || url.hash !== '') bad('baseUrl must not have a query or fragment');
  const key = o.apiKey as unknown;
  if (key !== undefined && typeof key !== 'function') {
    const env = typeof key === 'object' && key !== null ? (key as { env?: unknown }).env : undefined;
    if (typeof env !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
      bad('apiKey must be { env: "VARIABLE_NAME" } or a function, never the key itself');
    }
  }
  for (const [model, p] of Object.entries(o.prices)) {
    if (
      !isPrice(p.inputPerMTok) ||
      !isPrice(p.outputPerMTok) ||
      (p.cachedInputPerMTok !== undefined && !isPrice(p.cachedInputPerMTok)) ||
      (p.cacheWriteInputPerMTok !== undefined && !isPrice(p.cacheWriteInputPerMTok))
    ) {
      bad(
        `prices[${JSON.stringify(model)}]: every price must be a finite number >= 0 (USD per million tokens)`,
      );
    }
  }
  for (const [agent, a] of Object.entries(o.agents)) {
    for (const m of a.models) {
      if (!Object.hasOwn(o.prices, m))
        bad(`agents[${JSON.stringify(agent)}] allows ${JSON.stringify(m)}, which has no price`);
    }
    if (a.maxTokens !== undefined && (!Number.isSafeInteger(a.maxTokens) || a.maxTokens < 1)) {
      bad(`agents[${JSON.stringify(agent)}].maxTokens must be an integer >= 1`);
    }
  }
  if (o.maxTokens !== undefined && (!Number.isSafeInteger(o.maxTokens) || o.maxTokens < 1)) {
    bad('maxTokens must be an integer >= 1');
  }
  return url;
}

/** USD for `usage` at `price`. */
export function modelCostUsd(usage: ModelUsage, price: ModelPrice): number {
  const cached = price.cachedInputPerMTok ?? price.inputPerMTok;
  const write = price.cacheWriteInputPerMTok ?? price.inputPerMTok * 1.25;
  return (
    (usage.inputTokens * price.inputPerMTok +
      usage.cachedInputTokens * cached +
      usage.cacheWriteInputTokens * write +
      usage.outputTokens * price.outputPerMTok) /
    1_000_000
  );
}

interface CallArgs {
  readonly model: string;
  readonly messages: readonly ModelMessage[];
  readonly maxTokens?: number;
  readonly temperature?: number;
}

/**
 * Builds the `model_call` tool. Pass it in `createOrchestrator({ tools: { model_call: modelCallTool({...}) } })`
 * and allow `model_call` in the agent's `tools_allowed`; its spend counts against `max_cost_usd`.
 *
 * @throws ToolError `SG_TOOL_DEFINITION_INVALID` for invalid options.
 * @example
 * ```ts
 * modelCallTool({
 *   provider: 'openai-chat',
 *   baseUrl: 'https://api.openai.com/v1',
 *   apiKey: { env: 'OPENAI_API_KEY' },
 *   prices: { 'gpt-4o-mini': { inputPerMTok: 0.15, cachedInputPerMTok: 0.075, outputPerMTok: 0.6 } },
 *   agents: { summariser: { models: ['gpt-4o-mini'], maxTokens: 512 } },
 * });
 * ```
 */
export function modelCallTool(options: ModelCallOptions): ToolDefinition {
  const base = checkOptions(options);
  const provider = options.provider;
  const prices = new Map(Object.entries(options.prices));
  const agents = new Map(Object.entries(options.agents));
  const globalMax = options.maxTokens ?? 4096;
  const addresses = new AddressPolicy({ allowedCidrs: options.allowedCidrs ?? [] });
  const anthropicVersion = options.anthropicVersion ?? '2023-06-01';
  const basePath = base.pathname.replace(/\/+$/, '');

  /** The model's price and the call's output cap, or the reason the agent may not make it. */
  const admit = (args: CallArgs, agent: string): { price: ModelPrice; maxTokens: number } | ToolError => {
    const limits = agents.get(agent);
    const price = prices.get(args.model);
    if (limits === undefined || price === undefined || !limits.models.includes(args.model)) {
      return new ToolError(
        'SG_MODEL_NOT_ALLOWED',
        `model_call: agent '${agent}' may not use model '${args.model}'`,
        {
          details: { agent, model: args.model },
        },
      );
    }
    const cap = Math.min(limits.maxTokens ?? globalMax, globalMax);
    const maxTokens = args.maxTokens ?? cap;
    if (maxTokens > cap) {
      return new ToolError(
        'SG_MODEL_NOT_ALLOWED',
        `model_call: maxTokens ${maxTokens} is over agent '${agent}''s limit of ${cap}`,
        { details: { agent, model: args.model } },
      );
    }
    return { price, maxTokens };
  };

  const readKey = async (): Promise<string | undefined> => {
    const source = options.apiKey;
    if (source === undefined) return undefined;
    let key: unknown;
    try {
      key = typeof source === 'function' ? await source() : process.env[source.env];
    } catch (err) {
      throw new ToolError('SG_MODEL_KEY_MISSING', 'model_call: the API key function threw', { cause: err });
    }
    if (typeof key !== 'string' || key === '') {
      throw new ToolError(
        'SG_MODEL_KEY_MISSING',
        typeof source === 'function'
          ? 'model_call: the API key function returned no key'
          : `model_call: the parent's environment variable ${source.env} is not set`,
      );
    }
    return key;
  };

  return {
    description: `Calls a ${provider} model from the parent; the key never reaches the subagent.`,
    inputSchema: {
      type: 'object',
      properties: {
        model: { type: 'string', minLength: 1, maxLength: 200 },
        messages: {
          type: 'array',
          minItems: 1,
          maxItems: MAX_MESSAGES,
          items: {
            type: 'object',
            properties: {
              role: { enum: ['system', 'user', 'assistant'] },
              content: { type: 'string' },
            },
            required: ['role', 'content'],
            additionalProperties: false,
          },
        },
        maxTokens: { type: 'integer', minimum: 1, maximum: globalMax },
        temperature: { type: 'number', minimum: 0, maximum: 2 },
      },
      required: ['model', 'messages'],
      additionalProperties: false,
    },
    // The most the call can cost: every input byte a token (no tokenizer makes fewer bytes per
    // token), at the dearest input price, plus maxTokens of output. A refused call reserves 0.
    maxCostUsd: (raw, who) => {
      const args = raw as CallArgs;
      const a = admit(args, who.agent);
      if (a instanceof ToolError) return 0;
      const input =
        TOKENS_PER_REQUEST +
        args.messages.reduce((n, m) => n + TOKENS_PER_MESSAGE + Buffer.byteLength(m.content, 'utf8'), 0);
      const p = a.price;
      const dearestInput = Math.max(
        p.inputPerMTok,
        p.cachedInputPerMTok ?? p.inputPerMTok,
        p.cacheWriteInputPerMTok ?? p.inputPerMTok * 1.25,
      );
      return (input * dearestInput + a.maxTokens * p.outputPerMTok) / 1_000_000;
    },
    handler: async (raw, ctx): Promise<ModelCallResult> => {
      const args = raw as CallArgs;
      const a = admit(args, ctx.agent);
      if (a instanceof ToolError) {
        ctx.reportCost?.(0);
        throw a;
      }
      const key = await readKey().catch((err: unknown) => {
        ctx.reportCost?.(0);
        throw err;
      });
      const { path, body } = buildRequest(provider, {
        model: args.model,
        messages: args.messages,
        maxTokens: a.maxTokens,
        temperature: args.temperature,
      });
      const url = new URL(base.href);
      url.pathname = `${basePath}${path}`;
      const headers = key === undefined ? {} : authHeaders(provider, key, anthropicVersion);
      if (key === undefined && provider === 'anthropic') headers['anthropic-version'] = anthropicVersion;
      // Whatever fails before an answer with usage: nothing the broker can meter. The provider
      // may still bill a call cut off mid-answer; the reservation is kept for that case.
      let res: { status: number; json: unknown };
      try {
        res = await postJson(url, headers, body, {
          addresses,
          resolver: options.resolver,
          timeoutMs: options.timeoutMs ?? 120_000,
          maxResponseBytes: options.maxResponseBytes ?? 4 * 1024 * 1024,
          signal: ctx.signal,
        });
      } catch (err) {
        // Refused before any byte was sent (address rules, DNS): nothing was spent.
        if (err instanceof ToolError && err.details?.['reason'] !== undefined) ctx.reportCost?.(0);
        throw scrub(err, key);
      }
      if (res.status < 200 || res.status > 299) {
        // Providers do not bill a refused request (4xx/5xx).
        ctx.reportCost?.(0);
        const kind = upstreamErrorKind(res.json);
        throw new ToolError(
          'SG_MODEL_UPSTREAM',
          `model_call: ${provider} answered HTTP ${res.status}${kind === undefined ? '' : ` (${kind})`}`,
          { details: { status: res.status, ...(kind === undefined ? {} : { kind }) } },
        );
      }
      const answer = parseAnswer(provider, res.json);
      if (typeof answer === 'string') {
        // Billed or not, we cannot tell: the whole reservation is charged.
        throw new ToolError('SG_MODEL_UPSTREAM', `model_call: ${provider} answer unusable: ${answer}`);
      }
      ctx.reportCost?.(modelCostUsd(answer.usage, a.price));
      return { text: answer.text, usage: answer.usage };
    },
  };
}

/** An error whose message could (through a library) carry the key: the key is masked. */
function scrub(err: unknown, key: string | undefined): unknown {
  if (key === undefined || !(err instanceof ToolError) || !err.message.includes(key)) return err;
  return new ToolError(err.code, err.message.replaceAll(key, '[redacted]'), { details: { ...err.details } });
}

/**
 * The wire formats of the model providers `model_call` speaks: one request shape in, each
 * provider's documented request out, and each provider's documented usage fields back.
 *
 * - `openai-chat`: POST {baseUrl}/chat/completions, `Authorization: Bearer`, `max_tokens`;
 *   usage `prompt_tokens` (cached included), `completion_tokens`, `prompt_tokens_details.cached_tokens`.
 *   Also what llama.cpp, vLLM and Ollama serve.
 * - `openai-responses`: POST {baseUrl}/responses, `Authorization: Bearer`, `max_output_tokens`;
 *   usage `input_tokens` (cached included), `output_tokens`, `input_tokens_details.cached_tokens`.
 * - `anthropic`: POST {baseUrl}/v1/messages, `x-api-key` + `anthropic-version`, `max_tokens`,
 *   system prompt top-level; usage `input_tokens` (cache reads and writes excluded),
 *   `output_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`.
 */

/** A provider `model_call` can talk to. */
export type ModelProvider = 'openai-chat' | 'openai-responses' | 'anthropic';

export const MODEL_PROVIDERS: readonly ModelProvider[] = ['openai-chat', 'openai-responses', 'anthropic'];

/** One message of a call, as the subagent sends it. */
export interface ModelMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** The provider-independent request. */
export interface ModelRequest {
  readonly model: string;
  readonly messages: readonly ModelMessage[];
  readonly maxTokens: number;
  readonly temperature?: number | undefined;
}

/** Token counts of one answer, normalised across providers. */
export interface ModelUsage {
  /** Input tokens billed at the full input price (cache reads and writes excluded). */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Input tokens read from the provider's prompt cache. */
  readonly cachedInputTokens: number;
  /** Input tokens written to the prompt cache (Anthropic bills them separately). */
  readonly cacheWriteInputTokens: number;
}

/** What a provider's answer came to. */
export interface ModelAnswer {
  readonly text: string;
  readonly usage: ModelUsage;
}

/** Header names that carry the key, per provider (also what is never logged). */
export function authHeaders(
  provider: ModelProvider,
  key: string,
  anthropicVersion: string,
): Record<string, string> {
  return provider === 'anthropic'
    ? { 'x-api-key': key, 'anthropic-version': anthropicVersion }
    : { authorization: `Bearer ${key}` };
}

/** The path (appended to baseUrl) and the JSON body of a request. */
export function buildRequest(provider: ModelProvider, req: ModelRequest): { path: string; body: object } {
  const temperature = req.temperature === undefined ? {} : { temperature: req.temperature };
  switch (provider) {
    case 'openai-chat':
      return {
        path: '/chat/completions',
        body: {
          model: req.model,
          messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
          max_tokens: req.maxTokens,
          stream: false,
          ...temperature,
        },
      };
    case 'openai-responses': {
      const system = req.messages.filter((m) => m.role === 'system').map((m) => m.content);
      return {
        path: '/responses',
        body: {
          model: req.model,
          ...(system.length === 0 ? {} : { instructions: system.join('\n\n') }),
          input: req.messages
            .filter((m) => m.role !== 'system')
            .map((m) => ({ role: m.role, content: m.content })),
          max_output_tokens: req.maxTokens,
          stream: false,
          store: false,
          ...temperature,
        },
      };
    }
    case 'anthropic': {
      const system = req.messages.filter((m) => m.role === 'system').map((m) => m.content);
      return {
        path: '/v1/messages',
        body: {
          model: req.model,
          ...(system.length === 0 ? {} : { system: system.join('\n\n') }),
          messages: req.messages
            .filter((m) => m.role !== 'system')
            .map((m) => ({ role: m.role, content: m.content })),
          max_tokens: req.maxTokens,
          ...temperature,
        },
      };
    }
  }
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** A token count: a non-negative safe integer, or undefined. */
function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

function texts(parts: unknown, type: string): string | undefined {
  if (!Array.isArray(parts)) return undefined;
  const out: string[] = [];
  for (const p of parts) {
    const o = obj(p);
    if (o?.['type'] === type && typeof o['text'] === 'string') out.push(o['text']);
  }
  return out.join('');
}

/**
 * The answer and usage of a provider's 2xx body, or a string saying what is missing. Usage is
 * required: without it the call cannot be metered, and an unmetered call is never passed on.
 */
export function parseAnswer(provider: ModelProvider, body: unknown): ModelAnswer | string {
  const root = obj(body);
  if (root === undefined) return 'the response is not a JSON object';
  const usage = obj(root['usage']);
  if (usage === undefined) return 'the response has no usage';
  switch (provider) {
    case 'openai-chat': {
      const prompt = count(usage['prompt_tokens']);
      const output = count(usage['completion_tokens']);
      const cached = count(obj(usage['prompt_tokens_details'])?.['cached_tokens']) ?? 0;
      if (prompt === undefined || output === undefined || cached > prompt)
        return 'the usage fields are invalid';
      const choice = Array.isArray(root['choices']) ? obj(root['choices'][0]) : undefined;
      const content = obj(choice?.['message'])?.['content'];
      if (typeof content !== 'string' && content !== null)
        return 'the response has no choices[0].message.content';
      return {
        text: content ?? '',
        usage: {
          inputTokens: prompt - cached,
          outputTokens: output,
          cachedInputTokens: cached,
          cacheWriteInputTokens: 0,
        },
      };
    }
    case 'openai-responses': {
      const input = count(usage['input_tokens']);
      const output = count(usage['output_tokens']);
      const cached = count(obj(usage['input_tokens_details'])?.['cached_tokens']) ?? 0;
      if (input === undefined || output === undefined || cached > input)
        return 'the usage fields are invalid';
      if (!Array.isArray(root['output'])) return 'the response has no output';
      const text = root['output']
        .map((item) => {
          const o = obj(item);
          return o?.['type'] === 'message' ? (texts(o['content'], 'output_text') ?? '') : '';
        })
        .join('');
      return {
        text,
        usage: {
          inputTokens: input - cached,
          outputTokens: output,
          cachedInputTokens: cached,
          cacheWriteInputTokens: 0,
        },
      };
    }
    case 'anthropic': {
      const input = count(usage['input_tokens']);
      const output = count(usage['output_tokens']);
      const read = count(usage['cache_read_input_tokens'] ?? 0);
      const write = count(usage['cache_creation_input_tokens'] ?? 0);
      if (input === undefined || output === undefined || read === undefined || write === undefined) {
        return 'the usage fields are invalid';
      }
      const text = texts(root['content'], 'text');
      if (text === undefined) return 'the response has no content';
      return {
        text,
        usage: {
          inputTokens: input,
          outputTokens: output,
          cachedInputTokens: read,
          cacheWriteInputTokens: write,
        },
      };
    }
  }
}

/**
 * A short, log-safe description of a provider's error body: its `type`/`code` only, never its
 * message (OpenAI's "Incorrect API key provided: sk-...abcd" echoes part of the key).
 */
export function upstreamErrorKind(body: unknown): string | undefined {
  const root = obj(body);
  const err = obj(root?.['error']) ?? root;
  const kind = err?.['type'] ?? err?.['code'];
  return typeof kind === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(kind) ? kind : undefined;
}

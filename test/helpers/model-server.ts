/**
 * A loopback server that speaks the documented wire formats of OpenAI chat completions, OpenAI
 * responses and Anthropic messages, validating each request (method, path, content type, the key
 * in the provider's header and nowhere else, the body's required fields) and answering with the
 * provider's documented usage fields. A request that fails validation gets 400 with the problem.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

export interface ModelServer {
  readonly url: string;
  readonly requests: SeenRequest[];
  /** Connections accepted (including ones whose request was never completed). */
  connections(): number;
  close(): Promise<void>;
}

export interface ModelServerOptions {
  readonly host: string;
  readonly key: string;
  /** Usage the server reports. */
  readonly usage: { input: number; output: number; cached: number; cacheWrite?: number };
  /** Delay before answering, ms. @default 0 */
  readonly delayMs?: number;
  /** Answer this status with an error body that echoes the key (as some providers do). */
  readonly failWith?: number;
}

function problem(
  path: string,
  headers: IncomingMessage['headers'],
  body: Record<string, unknown>,
  key: string,
): string | null {
  if (headers['content-type'] !== 'application/json') return 'content-type';
  if (typeof body['model'] !== 'string') return 'model';
  const messages = body['messages'] ?? body['input'];
  if (!Array.isArray(messages) || messages.length === 0) return 'messages';
  const text = JSON.stringify(body);
  if (text.includes(key)) return 'the key is in the body';
  switch (path) {
    case '/v1/chat/completions':
      if (headers['authorization'] !== `Bearer ${key}`) return 'authorization';
      if (headers['x-api-key'] !== undefined) return 'x-api-key on openai';
      if (typeof body['max_tokens'] !== 'number') return 'max_tokens';
      return null;
    case '/v1/responses':
      if (headers['authorization'] !== `Bearer ${key}`) return 'authorization';
      if (typeof body['max_output_tokens'] !== 'number') return 'max_output_tokens';
      if (!Array.isArray(body['input'])) return 'input';
      return null;
    case '/v1/messages':
      if (headers['x-api-key'] !== key) return 'x-api-key';
      if (headers['authorization'] !== undefined) return 'authorization on anthropic';
      if (typeof headers['anthropic-version'] !== 'string') return 'anthropic-version';
      if (typeof body['max_tokens'] !== 'number') return 'max_tokens';
      if ((body['messages'] as { role: string }[]).some((m) => m.role === 'system'))
        return 'system role in messages';
      return null;
    default:
      return 'path';
  }
}

function answer(path: string, o: ModelServerOptions): object {
  const u = o.usage;
  switch (path) {
    case '/v1/chat/completions':
      return {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        choices: [
          { index: 0, message: { role: 'assistant', content: 'chat answer' }, finish_reason: 'stop' },
        ],
        usage: {
          prompt_tokens: u.input + u.cached,
          completion_tokens: u.output,
          total_tokens: u.input + u.cached + u.output,
          prompt_tokens_details: { cached_tokens: u.cached },
        },
      };
    case '/v1/responses':
      return {
        id: 'resp_1',
        object: 'response',
        status: 'completed',
        output: [
          {
            type: 'message',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'responses answer', annotations: [] }],
          },
        ],
        usage: {
          input_tokens: u.input + u.cached,
          input_tokens_details: { cached_tokens: u.cached },
          output_tokens: u.output,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: u.input + u.cached + u.output,
        },
      };
    default:
      return {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: 'anthropic answer' }],
        stop_reason: 'end_turn',
        usage: {
          input_tokens: u.input,
          output_tokens: u.output,
          cache_read_input_tokens: u.cached,
          cache_creation_input_tokens: u.cacheWrite ?? 0,
        },
      };
  }
}

export async function startModelServer(o: ModelServerOptions): Promise<ModelServer> {
  const requests: SeenRequest[] = [];
  let connections = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = {};
      }
      const path = req.url ?? '';
      requests.push({ path, headers: req.headers, body });
      const send = (status: number, value: object): void => {
        setTimeout(() => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        }, o.delayMs ?? 0);
      };
      const wrong = req.method === 'POST' ? problem(path, req.headers, body, o.key) : 'method';
      if (wrong !== null) {
        send(400, { error: { type: 'invalid_request_error', message: wrong } });
        return;
      }
      if (o.failWith !== undefined) {
        send(o.failWith, {
          error: { type: 'invalid_api_key', message: `Incorrect API key provided: ${o.key}` },
        });
        return;
      }
      send(200, answer(path, o));
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, o.host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host}:${port}`,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelClient, MalformedResponseError, type RetryEvent } from '../../../lib/llm/client.js';
import { sampleChat } from '../../../lib/llm/sample.js';

/** A scripted OpenAI-compatible server: each request takes the next reply off the script. */
let script: Array<(res: http.ServerResponse) => void> = [];
let requests = 0;
const server = http.createServer((req, res) => {
  requests++;
  req.resume();
  req.on('end', () => (script.shift() ?? ok)(res));
});
let baseUrl = '';

function ok(res: http.ServerResponse) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 'c1',
      object: 'chat.completion',
      created: 0,
      model: 'm',
      choices: [
        {
          index: 0,
          finish_reason: 'stop',
          message: { role: 'assistant', content: 'Answer: 4' },
          logprobs: { content: [{ token: 'Answer: 4', logprob: -0.5, bytes: [], top_logprobs: [] }] },
        },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    }),
  );
}
const status = (code: number, headers: Record<string, string> = {}) => (res: http.ServerResponse) => {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message: `status ${code}`, type: 'test' } }));
};
const truncated = (res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"id": "c1", "choices": [{"index": 0, "mess');
};

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const request = { model: 'm', prompt: '2+2?', n: 1, temperature: 1, maxTokens: 8 };

describe('model client retries', () => {
  it('honours Retry-After on 429 and backs off on 5xx, reporting each failure', async () => {
    script = [status(429, { 'retry-after': '0.2' }), status(503), status(500)];
    requests = 0;
    const events: RetryEvent[] = [];
    const started = Date.now();
    const res = await sampleChat(createModelClient({ baseUrl, timeoutMs: 5000, maxRetries: 4 }), request, {
      maxRetries: 4,
      baseDelayMs: 10,
      onRetry: (e) => events.push(e),
    });
    expect(res.samples[0]!.text).toBe('Answer: 4');
    expect(res.retries).toBe(3);
    expect(requests).toBe(4);
    expect(events.map((e) => e.error.slice(0, 3))).toEqual(['429', '503', '500']);
    expect(events[0]!.delayMs).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  it('times out a hung request and retries it', async () => {
    script = [() => {}]; // never answers
    const events: RetryEvent[] = [];
    const res = await sampleChat(createModelClient({ baseUrl, timeoutMs: 300, maxRetries: 2 }), request, {
      maxRetries: 2,
      baseDelayMs: 10,
      onRetry: (e) => events.push(e),
    });
    expect(res.samples).toHaveLength(1);
    expect(events[0]!.error).toMatch(/timed out/);
  });

  it('gives up on malformed responses after its retries, with an error callers can record', async () => {
    script = [truncated, truncated, truncated];
    const err = await sampleChat(createModelClient({ baseUrl, timeoutMs: 2000, maxRetries: 2 }), request, { maxRetries: 2, baseDelayMs: 5 }).catch((e) => e);
    expect(err instanceof MalformedResponseError || err instanceof SyntaxError).toBe(true);
  });

  it('does not retry what will fail again (400, 401)', async () => {
    script = [status(401)];
    requests = 0;
    await expect(
      sampleChat(createModelClient({ baseUrl, timeoutMs: 2000, maxRetries: 3 }), request, { maxRetries: 3, baseDelayMs: 5 }),
    ).rejects.toThrow(/401/);
    expect(requests).toBe(1);
  });

  it('rejects a response with the wrong number of choices as malformed', async () => {
    script = [ok, ok, ok];
    await expect(
      sampleChat(createModelClient({ baseUrl, timeoutMs: 2000, maxRetries: 0 }), { ...request, n: 2 }, { maxRetries: 0 }),
    ).rejects.toBeInstanceOf(MalformedResponseError);
  });
});

/** Requests spread over several replicas (model.baseUrls), against real HTTP servers and a closed port. */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createModelClient } from '../../../lib/llm/client.js';
import { replicaOrder, resetReplicaState } from '../../../lib/llm/replicas.js';
import { sampleChat } from '../../../lib/llm/sample.js';

/** An OpenAI-compatible replica that answers every chat request with its own name (or `status` when set). */
async function replica(name: string) {
  const seen: string[] = [];
  const state = { status: 200, hold: false, held: [] as Array<() => void> };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method !== 'POST') {
        res.writeHead(404, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ error: { message: 'no such batch' } }));
      }
      const answer = () => {
        res.writeHead(state.status, { 'content-type': 'application/json' });
        if (state.status !== 200) return res.end(JSON.stringify({ error: { message: `${name} is overloaded` } }));
        const { model } = JSON.parse(body) as { model: string };
        res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 0, model, choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: name } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
      };
      if (state.hold) state.held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, seen, state, close: () => new Promise((r) => server.close(r)) };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/v1`;
}

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error('timed out waiting');
}

let a: Awaited<ReturnType<typeof replica>>;
let b: Awaited<ReturnType<typeof replica>>;
beforeAll(async () => {
  [a, b] = await Promise.all([replica('a'), replica('b')]);
});
afterAll(async () => Promise.all([a.close(), b.close()]));
beforeEach(() => {
  resetReplicaState();
  a.seen.length = 0;
  b.seen.length = 0;
  a.state.status = b.state.status = 200;
  a.state.hold = b.state.hold = false;
});

const ask = (client: ReturnType<typeof createModelClient>, maxRetries = 0) =>
  sampleChat(client, { model: 'm', prompt: 'p', n: 1, temperature: 1, maxTokens: 4, seed: 1 }, { maxRetries });

describe('replicas', () => {
  it('spreads requests over the replicas, to the one with fewer requests in flight', async () => {
    const client = createModelClient({ baseUrl: a.url, baseUrls: [a.url, b.url], timeoutMs: 5000, maxRetries: 0 });
    for (let i = 0; i < 6; i++) await ask(client);
    expect(a.seen).toHaveLength(3);
    expect(b.seen).toHaveLength(3);
    expect(a.seen[0]).toBe('POST /v1/chat/completions');
    // A replica holding a request: the next ones go to the other, which has none in flight.
    a.state.hold = true;
    a.seen.length = b.seen.length = 0;
    const held: Array<Promise<unknown>> = [];
    while (a.seen.length === 0) {
      held.push(ask(client));
      await waitUntil(() => a.seen.length + b.seen.length === held.length);
    }
    const before = b.seen.length;
    for (let i = 0; i < 4; i++) expect((await ask(client)).samples[0]?.text).toBe('b');
    expect(b.seen.length - before).toBe(4);
    expect(a.seen).toHaveLength(1);
    a.state.hold = false;
    for (const answer of a.state.held.splice(0)) answer();
    await Promise.all(held);
  });

  it('a replica that is down costs no request: each goes to the one that is up, and the down one is left out', async () => {
    const down = await closedPort();
    const client = createModelClient({ baseUrl: down, baseUrls: [down, a.url], timeoutMs: 5000, maxRetries: 0 });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await ask(client)).samples[0]?.text);
    expect(answers).toEqual(['a', 'a', 'a', 'a', 'a']);
    expect(a.seen).toHaveLength(5);
    // Left out while down: it comes last in the order.
    expect(replicaOrder([down, a.url.replace(/\/+$/, '')]).at(-1)).toBe(down);
  });

  it('a replica answering 503 passes the request on; a 400 is the request\'s own fault and is not', async () => {
    a.state.status = 503;
    const client = createModelClient({ baseUrl: a.url, baseUrls: [a.url, b.url], timeoutMs: 5000, maxRetries: 0 });
    for (let i = 0; i < 4; i++) expect((await ask(client)).samples[0]?.text).toBe('b');
    a.state.status = 200;
    b.state.status = 400;
    const outcomes = await Promise.all([0, 1, 2, 3].map(() => ask(client).then(() => 'ok', (err: Error) => err.message)));
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(2);
    expect(outcomes.filter((o) => /overloaded/.test(o))).toHaveLength(2);
  });

  it('files and batches stay on the first replica, where they were created', async () => {
    const client = createModelClient({ baseUrl: a.url, baseUrls: [a.url, b.url], timeoutMs: 5000, maxRetries: 0 });
    for (let i = 0; i < 3; i++) await client.batches.retrieve(`batch-${i}`).catch(() => {});
    expect(a.seen).toEqual(['GET /v1/batches/batch-0', 'GET /v1/batches/batch-1', 'GET /v1/batches/batch-2']);
    expect(b.seen).toEqual([]);
  });

  it('when every replica is down, the failure reaches the caller', async () => {
    const [x, y] = await Promise.all([closedPort(), closedPort()]);
    const client = createModelClient({ baseUrl: x, baseUrls: [x, y], timeoutMs: 2000, maxRetries: 0 });
    await expect(ask(client)).rejects.toThrow(/connect|Connection/i);
  });
});

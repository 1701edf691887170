/**
 * The embedded model server's Batch API, driven only through the `openai` package (`client.files.*`,
 * `client.batches.*`) as flywheel would drive OpenAI's: a batch built from sample requests by lib/llm/batch,
 * processed through the server's own chat/completions handler, with OpenAI's statuses, timestamps, counts and
 * result files; lines that fail and are resubmitted, a batch that expires, a cancel, validation failures, and a
 * restart in the middle of a batch.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchInputLines, parseBatchResults, resubmission, splitBatchFiles, type KeyedSampleRequest } from '../../lib/llm/batch.js';
import { formatPrompt, generateCountdown } from '../../lib/tasks/countdown.js';
import type { BatchOptions } from '../../localmodel/batches.js';
import { startLocalModelServer, type LocalModelServer } from '../../localmodel/server.js';

const problems = generateCountdown({ seed: 9, train: 40, test: 0 });
const SAMPLES = 3;

/** Requests that fail on their first attempt only (the hook keeps count), and batches told to expire early. */
const attemptsSeen = new Map<string, number>();
const hooks: BatchOptions = {
  failRequest: (customId) => {
    const seen = (attemptsSeen.get(customId) ?? 0) + 1;
    attemptsSeen.set(customId, seen);
    return customId.endsWith('/flaky') && seen === 1;
  },
  expireAfter: (batch) => (batch.metadata?.expire_after ? Number(batch.metadata.expire_after) : null),
  requestDelayMs: 15,
};

let dataDir: string;
let server: LocalModelServer;
let client: OpenAI;

async function start(): Promise<void> {
  server = await startLocalModelServer({ port: 0, dataDir, log: () => {}, batches: hooks });
  client = new OpenAI({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batches-'));
  await start();
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const requests = (from: number, to: number, suffix = (_i: number) => ''): KeyedSampleRequest[] =>
  problems.slice(from, to).map((p, i) => ({
    key: `round-1/problem-${from + i}/sample${suffix(from + i)}`,
    request: { model: 'countdown-mlp', prompt: formatPrompt(p), n: SAMPLES, temperature: 1, maxTokens: 256, seed: from + i },
  }));

async function submit(keyed: KeyedSampleRequest[], metadata?: Record<string, string>) {
  const [jsonl] = splitBatchFiles(batchInputLines(keyed));
  const file = await client.files.create({ file: await toFile(Buffer.from(jsonl!), 'requests.jsonl'), purpose: 'batch' });
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata });
}

const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
async function waitFor(id: string, done = (b: OpenAI.Batches.Batch) => FINAL.has(b.status), timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (done(batch)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function resultFiles(batch: OpenAI.Batches.Batch) {
  const files: Array<{ name: string; text: string }> = [];
  for (const id of [batch.output_file_id, batch.error_file_id]) {
    if (id) files.push({ name: id, text: await (await client.files.content(id)).text() });
  }
  return files;
}

const askedOf = (keyed: KeyedSampleRequest[]) => new Map(keyed.map((k) => [k.key, k.request.n]));

describe('a batch of sample requests', () => {
  it('validates, runs every line through chat/completions and completes with an output file', async () => {
    const keyed = requests(0, 12);
    const created = await submit(keyed, { flywheel_round: '1' });
    expect(created).toMatchObject({
      object: 'batch',
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      errors: null,
      in_progress_at: null,
      completed_at: null,
      metadata: { flywheel_round: '1' },
    });
    expect(created.id).toMatch(/^batch-/);
    expect(created.expires_at).toBe(created.created_at + 24 * 3600);
    const running = await waitFor(created.id, (b) => b.status !== 'validating');
    expect(['in_progress', 'finalizing', 'completed']).toContain(running.status);

    const batch = await waitFor(created.id);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 12, completed: 12, failed: 0 });
    expect(batch.error_file_id).toBeNull();
    expect(batch.in_progress_at! >= batch.created_at && batch.finalizing_at! >= batch.in_progress_at! && batch.completed_at! >= batch.finalizing_at!).toBe(true);
    expect(batch.failed_at ?? batch.expired_at ?? batch.cancelled_at ?? null).toBeNull();

    const [output] = await resultFiles(batch);
    const lines = output!.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(12);
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(['custom_id', 'error', 'id', 'response']);
      expect(line).toMatchObject({ id: expect.stringMatching(/^batch_req_/), error: null, response: { status_code: 200, request_id: expect.stringMatching(/^req_/) } });
      expect(line.response.body).toMatchObject({ object: 'chat.completion', model: 'countdown-mlp' });
      expect(line.response.body.choices).toHaveLength(SAMPLES);
    }
    expect(lines.map((l) => l.custom_id).sort()).toEqual(keyed.map((k) => k.key).sort());
    const results = parseBatchResults([output!], askedOf(keyed));
    expect(results.succeeded.size).toBe(12);
    expect(results.failed.size + results.missing.length + results.unexpected.length).toBe(0);
    // The answers are the model's: a seeded batch line answers what the same live request answers.
    const live = await client.chat.completions.create({ model: 'countdown-mlp', messages: [{ role: 'user', content: formatPrompt(problems[3]!) }], n: SAMPLES, temperature: 1, max_tokens: 256, seed: 3 });
    expect(results.succeeded.get(keyed[3]!.key)!.samples.map((s) => s.text)).toEqual(live.choices.map((c) => c.message.content));
    const tokens = [...results.succeeded.values()].reduce((s, r) => s + r.promptTokens + r.completionTokens, 0);
    expect(batch.usage?.total_tokens).toBe(tokens);

    const listed = await client.batches.list({ limit: 100 });
    expect(listed.data.map((b) => b.id)).toContain(batch.id);
    expect((await client.files.retrieve(batch.output_file_id!)).purpose).toBe('batch_output');
  });

  it('puts failed lines in the error file, and a resubmission of only those completes the rest exactly once', async () => {
    const keyed = requests(12, 22, (i) => (i % 3 === 0 ? '/flaky' : ''));
    const flaky = keyed.filter((k) => k.key.endsWith('/flaky')).map((k) => k.key);
    expect(flaky.length).toBe(4);
    const first = await waitFor((await submit(keyed)).id);
    expect(first.status).toBe('completed');
    expect(first.request_counts).toEqual({ total: 10, completed: 6, failed: 4 });
    const files = await resultFiles(first);
    const errorLines = files[1]!.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(errorLines.map((l) => l.custom_id).sort()).toEqual([...flaky].sort());
    expect(errorLines[0]).toMatchObject({ error: null, response: { status_code: 500, body: { error: { type: 'server_error' } } } });

    const results = parseBatchResults(files, askedOf(keyed));
    const attempts = new Map(keyed.map((k) => [k.key, 1]));
    const { resubmit, givenUp } = resubmission(results, attempts, 3);
    expect(resubmit.sort()).toEqual([...flaky].sort());
    expect(givenUp).toEqual([]);
    const second = await waitFor((await submit(keyed.filter((k) => resubmit.includes(k.key)))).id);
    expect(second.request_counts).toEqual({ total: 4, completed: 4, failed: 0 });
    const again = parseBatchResults(await resultFiles(second), askedOf(keyed));
    expect([...again.succeeded.keys()].sort()).toEqual([...flaky].sort());
    // Every key ran once successfully, none of the 6 that succeeded was sent again.
    for (const k of keyed) expect(attemptsSeen.get(k.key), k.key).toBe(k.key.endsWith('/flaky') ? 2 : 1);
    expect(results.succeeded.size + again.succeeded.size).toBe(keyed.length);
  });

  it('expires when its window closes: what ran is in the output, the rest in the error file as batch_expired', async () => {
    const keyed = requests(22, 30);
    const batch = await waitFor((await submit(keyed, { expire_after: '3' })).id);
    expect(batch.status).toBe('expired');
    expect(batch.expired_at).toEqual(expect.any(Number));
    expect(batch.completed_at).toBeNull();
    expect(batch.request_counts).toEqual({ total: 8, completed: 3, failed: 5 });
    const results = parseBatchResults(await resultFiles(batch), askedOf(keyed));
    expect(results.succeeded.size).toBe(3);
    expect([...results.failed.values()].every((f) => f.code === 'batch_expired' && f.statusCode === null && f.retryable)).toBe(true);
    expect(resubmission(results, new Map(), 2).resubmit).toHaveLength(5);
  });

  it('cancels: cancelling, then cancelled with partial results and the rest as batch_cancelled', async () => {
    const keyed = requests(0, 40).map((k) => ({ ...k, key: `${k.key}/cancel` }));
    const created = await submit(keyed);
    await waitFor(created.id, (b) => b.status === 'in_progress' && (b.request_counts?.completed ?? 0) >= 2);
    const cancelling = await client.batches.cancel(created.id);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelling_at).toEqual(expect.any(Number));
    const batch = await waitFor(created.id);
    expect(batch.status).toBe('cancelled');
    expect(batch.cancelled_at).toEqual(expect.any(Number));
    const { completed, failed, total } = batch.request_counts!;
    expect(total).toBe(40);
    expect(completed).toBeGreaterThanOrEqual(2);
    expect(completed).toBeLessThan(40);
    expect(completed + failed).toBe(40);
    const results = parseBatchResults(await resultFiles(batch), askedOf(keyed));
    expect(results.succeeded.size).toBe(completed);
    expect([...results.failed.values()].every((f) => f.code === 'batch_cancelled')).toBe(true);
    await expect(client.batches.cancel(batch.id)).resolves.toMatchObject({ status: 'cancelled' });
  });

  it('continues after a restart without running a finished line twice', async () => {
    const keyed = requests(0, 30).map((k) => ({ ...k, key: `${k.key}/restart` }));
    const created = await submit(keyed);
    await waitFor(created.id, (b) => (b.request_counts?.completed ?? 0) >= 5);
    await server.close();
    const before = keyed.filter((k) => attemptsSeen.has(k.key)).length;
    expect(before).toBeGreaterThanOrEqual(5);
    expect(before).toBeLessThan(30);
    await start();
    const batch = await waitFor(created.id);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 30, completed: 30, failed: 0 });
    const results = parseBatchResults(await resultFiles(batch), askedOf(keyed));
    expect(results.succeeded.size).toBe(30);
    for (const k of keyed) expect(attemptsSeen.get(k.key), k.key).toBe(1);
  });
});

describe('bad input', () => {
  async function upload(text: string, purpose: 'batch' | 'fine-tune' = 'batch') {
    return client.files.create({ file: await toFile(Buffer.from(text), 'in.jsonl'), purpose });
  }

  it('a batch whose file has bad lines fails as a whole, each problem named by line', async () => {
    const good = JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: 'countdown-mlp', messages: [{ role: 'user', content: 'x' }] } });
    const text = [
      good,
      '{not json',
      JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: {} }),
      JSON.stringify({ custom_id: 'b', method: 'GET', url: '/v1/chat/completions', body: {} }),
      JSON.stringify({ custom_id: 'c', method: 'POST', url: '/v1/completions', body: {} }),
      JSON.stringify({ method: 'POST', url: '/v1/chat/completions', body: {} }),
    ].join('\n');
    const file = await upload(text);
    const batch = await waitFor((await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).id);
    expect(batch.status).toBe('failed');
    expect(batch.failed_at).toEqual(expect.any(Number));
    expect(batch.in_progress_at).toBeNull();
    expect(batch.errors?.object).toBe('list');
    expect(batch.errors?.data?.map((e) => [e.line, e.code])).toEqual([
      [2, 'invalid_json_line'],
      [3, 'duplicate_custom_id'],
      [4, 'invalid_method'],
      [5, 'mismatched_endpoint'],
      [6, 'missing_required_parameter'],
    ]);
  });

  it('a request the handler refuses is a 400 line of the error file, not a failed batch', async () => {
    const text = JSON.stringify({ custom_id: 'bad-n', method: 'POST', url: '/v1/chat/completions', body: { model: 'countdown-mlp', n: 0, messages: [{ role: 'user', content: 'x' }] } });
    const batch = await waitFor((await client.batches.create({ input_file_id: (await upload(text)).id, endpoint: '/v1/chat/completions', completion_window: '24h' })).id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 1, completed: 0, failed: 1 }, output_file_id: null });
    const [line] = (await resultFiles(batch))[0]!.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(line).toMatchObject({ custom_id: 'bad-n', response: { status_code: 400, body: { error: { param: 'n' } } } });
    const results = parseBatchResults(await resultFiles(batch), new Map([['bad-n', 1]]));
    expect(resubmission(results, new Map(), 3)).toMatchObject({ resubmit: [], givenUp: [{ key: 'bad-n', statusCode: 400, retryable: false }] });
  });

  it('create, retrieve and cancel say what is wrong', async () => {
    const ft = await upload('{}', 'fine-tune');
    const create = (body: Record<string, unknown>) => client.batches.create(body as unknown as OpenAI.Batches.BatchCreateParams);
    await expect(create({ endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 400, param: 'input_file_id' });
    await expect(create({ input_file_id: ft.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/purpose 'batch'/) });
    await expect(create({ input_file_id: ft.id, endpoint: '/v1/embeddings', completion_window: '24h' })).rejects.toMatchObject({ status: 400, param: 'endpoint' });
    await expect(create({ input_file_id: ft.id, endpoint: '/v1/chat/completions', completion_window: '1h' })).rejects.toMatchObject({ status: 400, param: 'completion_window' });
    await expect(create({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 404 });
    await expect(client.batches.retrieve('batch-nope')).rejects.toMatchObject({ status: 404 });
    const done = (await client.batches.list({ limit: 100 })).data.find((b) => b.status === 'completed')!;
    await expect(client.batches.cancel(done.id)).rejects.toMatchObject({ status: 409 });
  });

  it('lists newest first, in pages', async () => {
    const all = (await client.batches.list({ limit: 100 })).data;
    expect(all.length).toBeGreaterThan(5);
    expect(all.map((b) => b.id)).toEqual([...all.map((b) => b.id)].sort().reverse());
    const page = await client.batches.list({ limit: 2, after: all[1]!.id });
    expect(page.data.map((b) => b.id)).toEqual([all[2]!.id, all[3]!.id]);
  });
});

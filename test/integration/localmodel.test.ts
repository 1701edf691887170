/**
 * The embedded model server, driven only through the `openai` package, as the flywheel drives vLLM or OpenAI:
 * models, chat completions, step completions, files, fine-tuning, restarts and auth.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CountdownProblem } from '../../lib/tasks/countdown.js';
import { formatPrompt, formatTrace, generateCountdown, parseTrace, solve } from '../../lib/tasks/countdown.js';
import { verifyCountdown } from '../../lib/verify/countdown.js';
import type { LocalModelServer } from '../../localmodel/server.js';
import { startLocalModelServer } from '../../localmodel/server.js';

const API_KEY = 'test-key-not-secret';
const BASE = 'countdown-mlp';
const SUBWORD = 'countdown-mlp-subword';
const problems = generateCountdown({ seed: 5, train: 60, test: 0 });

let dataDir: string;
let server: LocalModelServer;
let client: OpenAI;
const logLines: string[] = [];

async function start(): Promise<void> {
  server = await startLocalModelServer({ port: 0, dataDir, apiKey: API_KEY, log: (line) => logLines.push(line) });
  client = new OpenAI({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0 });
}

function trainingJsonl(set: readonly CountdownProblem[]): string {
  return set
    .map((p) => JSON.stringify({ messages: [{ role: 'user', content: formatPrompt(p) }, { role: 'assistant', content: formatTrace(p, solve(p)!) }] }))
    .join('\n');
}

async function waitForJob(id: string, done: (job: OpenAI.FineTuning.FineTuningJob) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await client.fineTuning.jobs.retrieve(id);
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const finished = (job: OpenAI.FineTuning.FineTuningJob) => ['succeeded', 'failed', 'cancelled'].includes(job.status);

async function greedySolved(model: string, set: readonly CountdownProblem[]): Promise<number> {
  let solved = 0;
  for (const p of set) {
    const res = await client.chat.completions.create({ model, messages: [{ role: 'user', content: formatPrompt(p) }], temperature: 0 });
    if (verifyCountdown(p, res.choices[0]!.message.content ?? '').correct) solved++;
  }
  return solved;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'localmodel-'));
  await start();
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('inference', () => {
  test('lists and retrieves the base model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([BASE, SUBWORD]);
    expect(await client.models.retrieve(BASE)).toMatchObject({ id: BASE, object: 'model' });
    await expect(client.models.retrieve('nope')).rejects.toMatchObject({ status: 404 });
  });

  test('chat completions: n samples, reproducible with a seed, with step logprobs', async () => {
    const p = problems[0];
    const request = {
      model: BASE,
      messages: [
        { role: 'system' as const, content: 'Solve it.' },
        { role: 'user' as const, content: formatPrompt(p!) },
      ],
      n: 8,
      seed: 123,
      temperature: 1,
      logprobs: true,
      top_logprobs: 3,
    };
    const a = await client.chat.completions.create(request);
    const b = await client.chat.completions.create(request);
    expect(a.choices).toHaveLength(8);
    expect(a.choices.map((c) => c.message.content)).toEqual(b.choices.map((c) => c.message.content));
    expect(new Set(a.choices.map((c) => c.message.content)).size).toBeGreaterThan(1);
    for (const choice of a.choices) {
      const text = choice.message.content!;
      expect(choice.finish_reason).toBe('stop');
      expect(parseTrace(p!, text)).toMatchObject({ illegal: false });
      expect(parseTrace(p!, text).steps).toHaveLength(3);
      const tokens = choice.logprobs!.content!;
      expect(tokens).toHaveLength(4);
      expect(tokens.map((t) => t.token).join('')).toBe(text);
      // Exactly as many alternatives as asked at every token, the forced answer line too (padded with -9999).
      for (const t of tokens) expect(t.top_logprobs).toHaveLength(3);
      expect(tokens[3]!.top_logprobs.slice(1).map((a) => a.logprob)).toEqual([-9999, -9999]);
      expect(tokens[0]!.logprob).toBeCloseTo(tokens[0]!.top_logprobs[0]!.logprob, 9); // uniform base model
    }
    expect(a.usage).toMatchObject({ completion_tokens: 32 });
    expect(a.usage!.prompt_tokens).toBeGreaterThan(50);
  });

  test('chat completions: temperature 0 is greedy, max_tokens counts steps', async () => {
    const messages = [{ role: 'user' as const, content: formatPrompt(problems[1]!) }];
    const greedy = await client.chat.completions.create({ model: BASE, messages, temperature: 0, n: 3 });
    expect(new Set(greedy.choices.map((c) => c.message.content)).size).toBe(1);
    const short = await client.chat.completions.create({ model: BASE, messages, max_tokens: 2 });
    expect(short.choices[0]!.finish_reason).toBe('length');
    // Each step token carries its newline, so a cut trace ends with one.
    expect(short.choices[0]!.message.content!).toMatch(/^[^\n]+\n[^\n]+\n$/);
  });

  test('chat completions: a prompt that is not countdown gets a short plain reply', async () => {
    const res = await client.chat.completions.create({ model: BASE, messages: [{ role: 'user', content: 'Hello there' }] });
    expect(res.choices[0]!.message.content).toMatch(/countdown/);
    expect(res.choices[0]!.finish_reason).toBe('stop');
  });

  test('completions: stop "\\n" gives exactly the next step, with the top alternatives', async () => {
    const p = problems[2];
    const prompt = `${formatPrompt(p!)}\n`;
    const res = await client.completions.create({ model: BASE, prompt, stop: ['\n'], logprobs: 5, temperature: 0, max_tokens: 1 });
    const choice = res.choices[0]!;
    expect(choice.text).not.toContain('\n');
    const first = parseTrace(p!, choice.text);
    expect(first.steps).toHaveLength(1);
    expect(choice.logprobs!.tokens).toEqual([`${choice.text}\n`]);
    expect(Object.keys(choice.logprobs!.top_logprobs![0]!)).toHaveLength(5);
    expect(choice.logprobs!.text_offset).toEqual([prompt.length]);

    // Continue from the state after that step, then the last step, then the answer line.
    let text = `${prompt}${choice.text}\n`;
    for (let i = 0; i < 2; i++) {
      const next = await client.completions.create({ model: BASE, prompt: text, stop: '\n', temperature: 1, seed: 9 });
      text += `${next.choices[0]!.text}\n`;
    }
    const answer = await client.completions.create({ model: BASE, prompt: text, stop: ['\n'] });
    expect(answer.choices[0]!.text).toMatch(/^Answer: /);
    expect(parseTrace(p!, text).steps).toHaveLength(3);
  });

  test('bad requests get a 400 that names the field', async () => {
    const messages = [{ role: 'user' as const, content: formatPrompt(problems[0]!) }];
    await expect(client.chat.completions.create({ model: BASE, messages, n: 0 })).rejects.toMatchObject({ status: 400, param: 'n' });
    await expect(client.chat.completions.create({ model: BASE, messages, temperature: 5 })).rejects.toMatchObject({ status: 400, param: 'temperature' });
    await expect(client.chat.completions.create({ model: BASE, messages, top_logprobs: 50, logprobs: true })).rejects.toMatchObject({
      status: 400,
      param: 'top_logprobs',
    });
    await expect(client.chat.completions.create({ model: BASE, messages: [] })).rejects.toMatchObject({ status: 400, param: 'messages' });
    await expect(client.completions.create({ model: BASE, prompt: 'x', logprobs: 21 })).rejects.toMatchObject({ status: 400, param: 'logprobs' });
    await expect(client.chat.completions.create({ model: 'missing', messages })).rejects.toMatchObject({ status: 404 });
  });
});

describe('inference with subword tokens', () => {
  const p = problems[3];
  const messages = [{ role: 'user' as const, content: formatPrompt(p!) }];

  test('chat: a trace is many tokens, each with exactly top_logprobs alternatives, and usage counts them', async () => {
    for (const topLogprobs of [1, 3, 20]) {
      const res = await client.chat.completions.create({ model: SUBWORD, messages, n: 4, seed: 7, temperature: 1, logprobs: true, top_logprobs: topLogprobs });
      let completionTokens = 0;
      for (const choice of res.choices) {
        const text = choice.message.content!;
        expect(choice.finish_reason).toBe('stop');
        expect(parseTrace(p!, text)).toMatchObject({ illegal: false });
        expect(parseTrace(p!, text).steps).toHaveLength(3);
        const tokens = choice.logprobs!.content!;
        expect(tokens.map((t) => t.token).join('')).toBe(text);
        expect(tokens.length).toBeGreaterThan(30);
        for (const t of tokens) {
          expect(t.top_logprobs).toHaveLength(topLogprobs);
          expect(Buffer.from(t.bytes!).toString('utf8')).toBe(t.token);
          expect(new Set(t.top_logprobs.map((a) => a.token)).size).toBe(topLogprobs);
        }
        // Several tokens per step: the first line's tokens end at its newline.
        expect(tokens.findIndex((t) => t.token === '\n')).toBeGreaterThanOrEqual(8);
        completionTokens += tokens.length;
      }
      expect(res.usage!.completion_tokens).toBe(completionTokens);
    }
  });

  test('chat: max_tokens counts subword tokens', async () => {
    const res = await client.chat.completions.create({ model: SUBWORD, messages, max_tokens: 5, logprobs: true });
    expect(res.choices[0]!.finish_reason).toBe('length');
    expect(res.choices[0]!.logprobs!.content).toHaveLength(5);
    expect(res.usage!.completion_tokens).toBe(5);
  });

  test('completions: stop "\\n" gives the next step as ~10 tokens whose logprobs sum to the step’s', async () => {
    const prompt = `${formatPrompt(p!)}\n\n`;
    const steps = await client.completions.create({ model: BASE, prompt, stop: ['\n'], logprobs: 20, temperature: 0, max_tokens: 1 });
    const stepLogprobs = Object.fromEntries(Object.entries(steps.choices[0]!.logprobs!.top_logprobs![0]!).map(([t, lp]) => [t.trimEnd(), lp]));
    const res = await client.completions.create({ model: SUBWORD, prompt, n: 6, stop: ['\n'], logprobs: 5, temperature: 1, seed: 3, max_tokens: 64 });
    for (const choice of res.choices) {
      expect(choice.finish_reason).toBe('stop');
      expect((choice as unknown as { stop_reason: unknown }).stop_reason).toBe('\n');
      expect(parseTrace(p!, choice.text).steps).toHaveLength(1);
      const lp = choice.logprobs!;
      expect(lp.tokens!.join('')).toBe(`${choice.text}\n`);
      expect(lp.tokens!.length).toBeGreaterThanOrEqual(10);
      expect(lp.text_offset![0]).toBe(prompt.length);
      // As vLLM: the 5 best tokens, plus the sampled one when it is not among them.
      lp.top_logprobs!.forEach((top, i) => {
        expect(top[lp.tokens![i]!]).toBe(lp.token_logprobs![i]);
        const best5 = Object.entries(top).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([t]) => t);
        expect(Object.keys(top)).toHaveLength(best5.includes(lp.tokens![i]!) ? 5 : 6);
      });
      // The same policy: the line's probability is the step's in steps mode.
      expect(lp.token_logprobs!.reduce((a, b) => a + b, 0)).toBeCloseTo(stepLogprobs[choice.text]!, 9);
    }
  });

  test('a repeated prompt prefix is reported as cached prompt tokens', async () => {
    const prompt = `${formatPrompt(p!)}\n\n`;
    const first = await client.completions.create({ model: SUBWORD, prompt: `${prompt}`, max_tokens: 12, temperature: 0 });
    const again = await client.completions.create({ model: SUBWORD, prompt: `${prompt}${first.choices[0]!.text}`, max_tokens: 12, temperature: 0 });
    expect(first.usage!.prompt_tokens).toBeGreaterThan(16);
    expect(again.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThanOrEqual(16);
    expect(again.usage!.prompt_tokens_details!.cached_tokens! % 16).toBe(0);
    expect(again.usage!.prompt_tokens_details!.cached_tokens).toBeLessThan(again.usage!.prompt_tokens);
  });

  test('bad requests name the field, as in steps mode', async () => {
    await expect(client.chat.completions.create({ model: SUBWORD, messages, top_logprobs: 21, logprobs: true })).rejects.toMatchObject({ status: 400, param: 'top_logprobs' });
    await expect(client.completions.create({ model: SUBWORD, prompt: 'x', logprobs: 21 })).rejects.toMatchObject({ status: 400, param: 'logprobs' });
  });
});

describe('files and fine-tuning', () => {
  let fileId: string;
  let modelId: string;
  let jobId: string;

  test('uploads, lists, reads and deletes files', async () => {
    const jsonl = trainingJsonl(problems);
    const file = await client.files.create({ file: await toFile(Buffer.from(jsonl), 'train.jsonl'), purpose: 'fine-tune' });
    expect(file).toMatchObject({ object: 'file', filename: 'train.jsonl', purpose: 'fine-tune', bytes: Buffer.byteLength(jsonl) });
    fileId = file.id;
    expect((await client.files.list()).data.map((f) => f.id)).toContain(fileId);
    expect(await client.files.retrieve(fileId)).toMatchObject({ id: fileId });
    expect(await (await client.files.content(fileId)).text()).toBe(jsonl);

    const scratch = await client.files.create({ file: await toFile(Buffer.from('{}'), 'scratch.jsonl'), purpose: 'fine-tune' });
    expect(await client.files.delete(scratch.id)).toMatchObject({ id: scratch.id, deleted: true });
    await expect(client.files.retrieve(scratch.id)).rejects.toMatchObject({ status: 404 });
  });

  test('a fine-tuning job trains a model that beats the base on its training problems', async () => {
    const job = await client.fineTuning.jobs.create({
      model: BASE,
      training_file: fileId,
      suffix: 'itest',
      seed: 17,
      metadata: { flywheel_run: 'r1', flywheel_round: '1' },
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 12, batch_size: 16 } } },
    });
    expect(job.status).toBe('validating_files');
    jobId = job.id;
    const done = await waitForJob(job.id, finished);
    expect(done).toMatchObject({ status: 'succeeded', error: null, seed: 17, hyperparameters: { n_epochs: 12, batch_size: 16 } });
    expect(done.fine_tuned_model).toMatch(/^ft:countdown-mlp:itest:[0-9a-f]{8}$/);
    expect(done.trained_tokens).toBe(60 * 3 * 12);
    modelId = done.fine_tuned_model!;

    expect((await client.models.list()).data.map((m) => m.id)).toEqual([BASE, SUBWORD, modelId]);
    const events = await client.fineTuning.jobs.listEvents(job.id, { limit: 100 });
    const messages = events.data.map((e) => e.message);
    expect(messages[0]).toMatch(/successfully completed/);
    expect(messages.some((m) => /^Epoch 12\/12: training loss=\d/.test(m))).toBe(true);
    expect(events.data.filter((e) => e.type === 'metrics')).toHaveLength(12);

    const base = await greedySolved(BASE, problems);
    const tuned = await greedySolved(modelId, problems);
    expect(base).toBeLessThanOrEqual(3);
    expect(tuned).toBeGreaterThan(base + 20);
  });

  test('lists jobs by metadata, and pages through them', async () => {
    const tagged = await client.fineTuning.jobs.list({ metadata: { flywheel_run: 'r1', flywheel_round: '1' } });
    expect(tagged.data.map((j) => j.id)).toEqual([jobId]);
    expect((await client.fineTuning.jobs.list({ metadata: { flywheel_run: 'other' } })).data).toEqual([]);
    const firstPage = await client.fineTuning.jobs.list({ limit: 1 });
    expect(firstPage.data).toHaveLength(1);
  });

  test('an invalid training file fails the job with a message naming the line', async () => {
    const bad = `${trainingJsonl(problems.slice(0, 2))}\nnot json at all\n`;
    const file = await client.files.create({ file: await toFile(Buffer.from(bad), 'bad.jsonl'), purpose: 'fine-tune' });
    const job = await client.fineTuning.jobs.create({ model: BASE, training_file: file.id });
    const done = await waitForJob(job.id, finished);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'invalid_training_file', param: 'training_file' });
    expect(done.error!.message).toMatch(/line 3 is not valid JSON/);
  });

  test('bad fine-tuning requests name the field', async () => {
    await expect(client.fineTuning.jobs.create({ model: BASE, training_file: 'file-missing' })).rejects.toMatchObject({ status: 400, param: 'training_file' });
    await expect(client.fineTuning.jobs.create({ model: 'gpt-x', training_file: fileId })).rejects.toMatchObject({ status: 400, param: 'model' });
    await expect(
      client.fineTuning.jobs.create({ model: BASE, training_file: fileId, hyperparameters: { n_epochs: 0 } }),
    ).rejects.toMatchObject({ status: 400, param: 'hyperparameters.n_epochs' });
  });

  test('a job can continue from a fine-tuned model, and be cancelled', async () => {
    const job = await client.fineTuning.jobs.create({ model: modelId, training_file: fileId, hyperparameters: { n_epochs: 100 } });
    const cancelled = await client.fineTuning.jobs.cancel(job.id);
    expect(cancelled.status).toBe('cancelled');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await client.fineTuning.jobs.retrieve(job.id)).status).toBe('cancelled');
    const next = await client.fineTuning.jobs.create({ model: modelId, training_file: fileId, suffix: 'more', hyperparameters: { n_epochs: 2 } });
    expect(await waitForJob(next.id, finished)).toMatchObject({ status: 'succeeded', model: modelId });
  });

  test('a model fine-tuned from the subword base keeps its tokenizer', async () => {
    const job = await client.fineTuning.jobs.create({ model: SUBWORD, training_file: fileId, suffix: 'sw', hyperparameters: { n_epochs: 2 } });
    const done = await waitForJob(job.id, finished);
    expect(done.fine_tuned_model).toMatch(/^ft:countdown-mlp-subword:sw:[0-9a-f]{8}$/);
    const res = await client.chat.completions.create({ model: done.fine_tuned_model!, messages: [{ role: 'user', content: formatPrompt(problems[0]!) }], logprobs: true });
    expect(res.choices[0]!.logprobs!.content!.length).toBeGreaterThan(30);
  });

  test('a restart keeps models, files and jobs, and re-runs an interrupted job to the same model', async () => {
    const bigFile = await client.files.create({
      file: await toFile(Buffer.from(trainingJsonl(generateCountdown({ seed: 8, train: 300, test: 0 }))), 'big.jsonl'),
      purpose: 'fine-tune',
    });
    const params = { model: BASE, training_file: bigFile.id, seed: 99, hyperparameters: { n_epochs: 40 } };
    const twin = await client.fineTuning.jobs.create(params);
    const twinDone = await waitForJob(twin.id, finished);
    expect(twinDone.status).toBe('succeeded');

    const interrupted = await client.fineTuning.jobs.create(params);
    await waitForJob(interrupted.id, (j) => j.status === 'running');
    await server.close();
    await start();

    expect((await client.models.list()).data.map((m) => m.id)).toContain(modelId);
    expect(await client.fineTuning.jobs.retrieve(jobId)).toMatchObject({ status: 'succeeded', fine_tuned_model: modelId });
    expect((await client.files.list()).data.map((f) => f.id)).toContain(fileId);
    const rerun = await waitForJob(interrupted.id, finished);
    expect(rerun.status).toBe('succeeded');
    const events = (await client.fineTuning.jobs.listEvents(interrupted.id, { limit: 200 })).data.map((e) => e.message);
    expect(events.some((m) => /restarted/.test(m))).toBe(true);

    // Same data, seed and hyperparameters: the re-run job's weights equal the uninterrupted twin's.
    const request = (model: string) =>
      client.chat.completions.create({ model, messages: [{ role: 'user', content: formatPrompt(problems[4]!) }], n: 4, seed: 1, logprobs: true, top_logprobs: 5 });
    const [x, y] = await Promise.all([request(twinDone.fine_tuned_model!), request(rerun.fine_tuned_model!)]);
    expect(y.choices.map((c) => c.logprobs)).toEqual(x.choices.map((c) => c.logprobs));
  });
});

describe('auth and logging', () => {
  test('requests without the right key get a 401 in the OpenAI shape', async () => {
    const wrong = new OpenAI({ baseURL: server.url, apiKey: 'wrong', maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' });
    const res = await fetch(`${server.url}/models`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
  });

  test('never logs the key', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.join('\n')).not.toContain(API_KEY);
    expect(logLines.join('\n')).not.toContain('wrong');
  });
});

/**
 * The embedded model's second learner, as real processes: `flywheel train-prm` trains a value head on stepwise
 * JSONL into a checkpoint directory; the server serves a PRM from a `method: {type: 'prm'}` fine-tuning job and
 * from a loaded PRM checkpoint, in both reward-model wire formats, answered through the same client search uses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rocAuc } from '../../lib/metrics/step-labels.js';
import { createRewardModelClient } from '../../lib/search/reward-model.js';
import { formatPrompt, generateCountdown } from '../../lib/tasks/countdown.js';
import { processEnv, runFlywheel } from '../helpers/processes.js';
import { randomLabelledTraces, stepwiseJsonl } from '../helpers/step-labels.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-prm-'));
const set = generateCountdown({ seed: 41, train: 120, test: 40 });
const train = set.filter((p) => p.split === 'train');
const heldOut = randomLabelledTraces(
  set.filter((p) => p.split === 'test'),
  2,
  7,
);
const data = path.join(dir, 'prm.jsonl');
const checkpoint = path.join(dir, 'prm-ckpt');
let server: { url: string; child: ChildProcess; log: string[] };

async function startServer(): Promise<typeof server> {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'localmodel/main.ts'), '--data-dir', path.join(dir, 'data')], {
    env: processEnv({ VLLM_ALLOW_RUNTIME_LORA_UPDATING: 'True' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  let partial = '';
  child.stderr!.on('data', (c: Buffer) => {
    const lines = (partial + c.toString()).split('\n');
    partial = lines.pop() ?? '';
    log.push(...lines);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`localmodel exited ${code}: ${out}`)));
  });
  return { url, child, log };
}

/** Held-out AUC of a served PRM, through the reward-model client in the given format. */
async function servedAuc(url: string, model: string, format: 'flywheel' | 'vllm-score'): Promise<{ auc: number; requests: number }> {
  const client = createRewardModelClient({ url, model, format });
  const rows: Array<{ score: number; label: boolean }> = [];
  let requests = 0;
  for (const line of heldOut) {
    const prefixes = line.completions.map((_, i) => line.completions.slice(0, i + 1).join('\n'));
    const scored = await client.score(line.prompt, prefixes);
    requests += scored.requests;
    scored.scores.forEach((score, i) => rows.push({ score, label: line.labels[i]! }));
  }
  return { auc: rocAuc(rows), requests };
}

beforeAll(async () => {
  writeFileSync(data, stepwiseJsonl(randomLabelledTraces(train, 4, 1)));
  server = await startServer();
}, 60_000);

afterAll(async () => {
  if (server && server.child.exitCode === null) {
    const exited = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('flywheel train-prm', () => {
  it('trains a value head into a checkpoint, printing the progress protocol; bad input exits 2 naming the line', async () => {
    const trained = await runFlywheel(['train-prm', '--data', data, '--output', checkpoint, '--epochs', '6', '--seed', '3'], {});
    expect(trained.code, trained.stderr).toBe(0);
    const lines = trained.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const progress = lines.filter((p) => typeof p.step === 'number');
    expect(progress.map((p) => p.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(progress.at(-1).loss).toBeLessThan(progress[0].loss);
    expect(lines.at(-1)).toMatchObject({ event: 'checkpoint', path: checkpoint, format: 'countdown-state-value' });
    expect(JSON.parse(readFileSync(path.join(checkpoint, 'manifest.json'), 'utf8'))).toMatchObject({ kind: 'adapter', baseModel: 'countdown-mlp', files: ['value.json'] });

    const bad = path.join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ prompt: formatPrompt(train[0]!), completions: ['1 + 1 = 2'], labels: [] })}\n`);
    const refused = await runFlywheel(['train-prm', '--data', bad, '--output', path.join(dir, 'x')], {});
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/bad\.jsonl: line 1: "labels" must be an array with one label per completion/);
  });

  it('serves a loaded PRM checkpoint in both reward-model formats, with the same scores', async () => {
    const loaded = await fetch(`${server.url}/load_lora_adapter`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lora_name: 'prm-ckpt', lora_path: checkpoint }),
    });
    expect(loaded.status).toBe(200);
    const origin = server.url.replace(/\/v1$/, '');
    const flywheel = await servedAuc(`${server.url}/reward`, 'prm-ckpt', 'flywheel');
    const vllm = await servedAuc(`${origin}/score`, 'prm-ckpt', 'vllm-score');
    expect(flywheel.auc).toBeGreaterThan(0.8);
    expect(vllm.auc).toBe(flywheel.auc);
    expect(flywheel.requests).toBe(heldOut.reduce((n, l) => n + l.completions.length, 0));
    expect(vllm.requests).toBe(heldOut.length);
    // The server logs a request when its response has finished sending, which may be just after the client read it.
    await vi.waitFor(() => {
      expect(server.log.filter((l) => /POST \/score 200/.test(l)).length).toBe(vllm.requests);
      expect(server.log.filter((l) => /POST \/v1\/reward 200/.test(l)).length).toBe(flywheel.requests);
    });
  });
});

describe('a PRM fine-tuning job (method.type: prm)', () => {
  it('trains the value head through /v1/fine_tuning/jobs and serves the new model as a PRM; a policy is refused', async () => {
    const openai = new OpenAI({ baseURL: server.url, apiKey: 'unused' });
    const file = await openai.files.create({ file: await toFile(Buffer.from(readFileSync(data)), 'prm.jsonl'), purpose: 'fine-tune' });
    const created = await openai.fineTuning.jobs.create({
      model: 'countdown-mlp',
      training_file: file.id,
      suffix: 'prm',
      seed: 4,
      method: { type: 'prm', prm: { hyperparameters: { n_epochs: 8 } } } as unknown as OpenAI.FineTuning.JobCreateParams['method'],
    });
    expect(created.method).toEqual({ type: 'prm', prm: { hyperparameters: { n_epochs: 8, learning_rate_multiplier: 1, batch_size: 64 } } });
    let job = created;
    for (let i = 0; i < 300 && !['succeeded', 'failed', 'cancelled'].includes(job.status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = await openai.fineTuning.jobs.retrieve(created.id);
    }
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.fine_tuned_model).toMatch(/^ft:countdown-mlp:prm:/);
    const events = await openai.fineTuning.jobs.listEvents(created.id, { limit: 100 });
    expect(events.data.some((e) => /labelled steps/.test(e.message))).toBe(true);
    const served = await servedAuc(`${server.url}/reward`, job.fine_tuned_model!, 'flywheel');
    expect(served.auc).toBeGreaterThan(0.8);

    const policy = await fetch(`${server.url}/reward`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'countdown-mlp', prompt: heldOut[0]!.prompt, completion: heldOut[0]!.completions[0] }),
    });
    expect(policy.status).toBe(400);
    expect(((await policy.json()) as { error: { code: string } }).error.code).toBe('model_not_prm');

    const badType = await fetch(`${server.url}/fine_tuning/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'countdown-mlp', training_file: file.id, method: { type: 'dpo' } }),
    });
    expect(badType.status).toBe(400);
    expect(((await badType.json()) as { error: { param: string } }).error.param).toBe('method.type');
  });
});

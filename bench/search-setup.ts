/**
 * Shared by the search benchmarks: train the embedded step policy in process (expert iteration from base each
 * round, as in bench/policy-flywheel.ts), or load one, then serve it with the embedded OpenAI-compatible server by
 * writing it into the server's data directory as a fine-tuned model.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import type { CountdownProblem } from '../lib/tasks/countdown.js';
import { examplesFromKept, sampleCorrectTraces } from '../localmodel/evaluate.js';
import type { ModelRecord } from '../localmodel/models.js';
import type { Policy, PolicyJson } from '../localmodel/policy.js';
import { BASE_MODEL, SUBWORD_BASE_MODEL, createBasePolicy, policyFromJson, policyToJson } from '../localmodel/policy.js';
import type { TokenMode } from '../localmodel/tokenizer.js';
import type { LocalModelServer } from '../localmodel/server.js';
import { startLocalModelServer } from '../localmodel/server.js';
import { DEFAULT_TRAIN, trainPolicy } from '../localmodel/train.js';

/** `rounds` of sample (16 per problem at T=1) → keep ≤4 distinct correct → train from base. */
export function trainRounds(train: readonly CountdownProblem[], rounds: number, seed: number): Policy {
  let policy = createBasePolicy();
  for (let round = 1; round <= rounds; round++) {
    const sampled = sampleCorrectTraces(policy, train, { samples: 16, temperature: 1, seed: seed * 1000 + round, keepPerProblem: 4 });
    policy = trainPolicy(examplesFromKept(sampled.kept), { ...DEFAULT_TRAIN, seed: seed + round }).policy;
  }
  return policy;
}

/** A policy from `file` when given (PolicyJson or a server's model record), else trained; saved to `save` if asked. */
export function loadOrTrain(options: { file?: string; save?: string; train: readonly CountdownProblem[]; rounds: number; seed: number }): Policy {
  let policy: Policy;
  if (options.file) {
    const json = JSON.parse(fs.readFileSync(options.file, 'utf8')) as PolicyJson | ModelRecord;
    policy = policyFromJson('weights' in json ? json.weights : json);
  } else policy = trainRounds(options.train, options.rounds, options.seed);
  if (options.save) fs.writeFileSync(options.save, JSON.stringify(policyToJson(policy)));
  return policy;
}

export interface ServedPolicy {
  server: LocalModelServer;
  client: OpenAI;
  /** The served model's name. */
  model: string;
  close(): Promise<void>;
}

/**
 * Starts the embedded server on a fresh data directory holding `policy` as model `name`, fine-tuned (as far as
 * the server knows) from the base with the given tokenizer.
 */
export async function servePolicy(policy: Policy, name: string, tokens: TokenMode = 'steps'): Promise<ServedPolicy> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'search-bench-'));
  fs.mkdirSync(path.join(dataDir, 'models'), { recursive: true });
  const base = tokens === 'subword' ? SUBWORD_BASE_MODEL : BASE_MODEL;
  const model = `ft:${base}:bench:${name}`;
  const record: ModelRecord = { id: model, created: Math.floor(Date.now() / 1000), parent: base, job: `bench-${name}`, weights: policyToJson(policy) };
  fs.writeFileSync(path.join(dataDir, 'models', `${record.job}.json`), JSON.stringify(record));
  const server = await startLocalModelServer({ dataDir, port: 0 });
  const client = new OpenAI({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
  return {
    server,
    client,
    model,
    async close() {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `work` over items with at most `limit` in flight, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!, i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

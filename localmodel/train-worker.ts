/**
 * The body of a fine-tuning job, run in a worker thread so the server keeps answering while it trains:
 * parse the chat JSONL, train from the given weights, post progress and the new weights back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrainingFileError, parseTrainingJsonl } from './dataset.js';
import type { PolicyJson } from './policy.js';
import { createBasePolicy, policyFromJson, policyToJson } from './policy.js';
import { trainPolicy } from './train.js';
import { parseStepwiseJsonl } from './stepwise.js';
import type { ValueJson } from './value.js';
import { trainValue, valueFromJson, valueToJson } from './value.js';

export interface TrainJobInput {
  /** `supervised`: the policy on chat JSONL; `prm`: the value head on stepwise JSONL (the policy is kept as is). */
  method: 'supervised' | 'prm';
  fileText: string;
  /** Weights to start from; null = the base model. */
  init: PolicyJson | null;
  /** The value head to continue from (a PRM job from a PRM); null = the base head. */
  initValue: ValueJson | null;
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
}

export type TrainJobMessage =
  | { type: 'progress'; epoch: number; epochs: number; loss: number }
  | { type: 'done'; weights: PolicyJson; value?: ValueJson; trainedTokens: number; finalLoss: number }
  | { type: 'failed'; message: string; invalidFile: boolean };

function post(message: TrainJobMessage): void {
  parentPort!.postMessage(message);
}

function runTrainJob(input: TrainJobInput): void {
  try {
    if (input.method === 'prm') {
      const set = parseStepwiseJsonl(input.fileText);
      const result = trainValue(set.examples, {
        epochs: input.epochs,
        learningRate: input.learningRate,
        batchSize: input.batchSize,
        seed: input.seed,
        init: input.initValue ? valueFromJson(input.initValue) : undefined,
        onProgress: (p) => post({ type: 'progress', ...p }),
      });
      const weights = input.init ?? policyToJson(createBasePolicy());
      post({ type: 'done', weights, value: valueToJson(result.value), trainedTokens: result.trainedTokens, finalLoss: result.losses.at(-1) ?? 0 });
      return;
    }
    const set = parseTrainingJsonl(input.fileText);
    const result = trainPolicy(set.examples, {
      epochs: input.epochs,
      learningRate: input.learningRate,
      batchSize: input.batchSize,
      seed: input.seed,
      init: input.init ? policyFromJson(input.init) : undefined,
      onProgress: (p) => post({ type: 'progress', ...p }),
    });
    post({ type: 'done', weights: policyToJson(result.policy), trainedTokens: result.trainedTokens, finalLoss: result.losses.at(-1) ?? 0 });
  } catch (err) {
    post({ type: 'failed', message: (err as Error).message, invalidFile: err instanceof TrainingFileError });
  }
}

if (parentPort) runTrainJob(workerData as TrainJobInput);

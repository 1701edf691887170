/**
 * The body of a fine-tuning job, run in a worker thread so the server keeps answering while it trains:
 * parse the chat JSONL, train from the given weights, post progress and the new weights back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TrainingFileError, parseTrainingJsonl } from './dataset.js';
import type { PolicyJson } from './policy.js';
import { policyFromJson, policyToJson } from './policy.js';
import { trainPolicy } from './train.js';

export interface TrainJobInput {
  fileText: string;
  /** Weights to start from; null = the base model. */
  init: PolicyJson | null;
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
}

export type TrainJobMessage =
  | { type: 'progress'; epoch: number; epochs: number; loss: number }
  | { type: 'done'; weights: PolicyJson; trainedTokens: number; finalLoss: number }
  | { type: 'failed'; message: string; invalidFile: boolean };

function post(message: TrainJobMessage): void {
  parentPort!.postMessage(message);
}

function runTrainJob(input: TrainJobInput): void {
  try {
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

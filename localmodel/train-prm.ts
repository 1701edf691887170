/**
 * `flywheel train-prm`: trains the embedded model's value head (a process reward model) from a stepwise JSONL file
 * (TRL's PRM format: `{"prompt", "completions", "labels"}`, optional `soft_labels`) into a checkpoint directory
 * (`value.json`, the policy's `policy.json` beside it when `--init` has one, `manifest.json`), printing the progress
 * protocol (`{"step", "loss", "epoch", "lr"}` JSON lines) on stdout: the PRM trainer command for
 * `finetune.prm.backend: command`, run exactly as a real PRM trainer (trainers/prm_trl.py) would be.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { VALUE_FILE, WEIGHTS_FILE, readCheckpoint, readValueCheckpoint, writeValueCheckpoint } from './checkpoint.js';
import type { Policy } from './policy.js';
import { parseStepwiseJsonl } from './stepwise.js';
import { TrainPolicyInputError } from './train-policy.js';
import type { ValueHead } from './value.js';
import { DEFAULT_VALUE_TRAIN, trainValue } from './value.js';

export interface TrainPrmOptions {
  data: string;
  output: string;
  /** A checkpoint directory to continue from: its value head (a PRM) and/or its policy; empty: the base head. */
  init?: string;
  epochs?: number;
  learningRateMultiplier?: number;
  batchSize?: number;
  seed?: number;
}

function readInit(dir: string): { value?: ValueHead; policy: Policy | null } {
  try {
    if (existsSync(path.join(dir, VALUE_FILE))) {
      const { value, policy } = readValueCheckpoint(dir);
      return { value, policy };
    }
    if (existsSync(path.join(dir, WEIGHTS_FILE))) return { policy: readCheckpoint(dir).policy };
  } catch (err) {
    throw new TrainPolicyInputError(`--init: ${(err as Error).message}`);
  }
  throw new TrainPolicyInputError(`--init: ${dir} holds neither ${VALUE_FILE} nor ${WEIGHTS_FILE}`);
}

export function runTrainPrm(options: TrainPrmOptions, print: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  let text: string;
  try {
    text = readFileSync(options.data, 'utf8');
  } catch (err) {
    throw new TrainPolicyInputError(`cannot read the PRM training file ${options.data}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let set: ReturnType<typeof parseStepwiseJsonl>;
  try {
    set = parseStepwiseJsonl(text);
  } catch (err) {
    throw new TrainPolicyInputError(`${options.data}: ${(err as Error).message}`);
  }
  const init = options.init && options.init.trim() !== '' ? readInit(options.init) : { policy: null };
  const epochs = options.epochs ?? DEFAULT_VALUE_TRAIN.epochs;
  const batchSize = options.batchSize ?? DEFAULT_VALUE_TRAIN.batchSize;
  const learningRate = DEFAULT_VALUE_TRAIN.learningRate * (options.learningRateMultiplier ?? 1);
  const stepsPerEpoch = Math.max(1, Math.ceil(set.examples.length / batchSize));
  const started = performance.now();
  const result = trainValue(set.examples, {
    epochs,
    batchSize,
    learningRate,
    seed: options.seed ?? 0,
    init: init.value,
    onProgress: (p) =>
      print(JSON.stringify({ step: p.epoch * stepsPerEpoch, epoch: p.epoch, loss: Number(p.loss.toFixed(6)), lr: learningRate, examples: set.examples.length })),
  });
  const finalLoss = result.losses.at(-1) ?? 0;
  const manifest = writeValueCheckpoint(options.output, result.value, init.policy, {
    finalLoss,
    trainedTokens: result.trainedTokens,
    traces: set.traces,
    steps: set.examples.length,
    positives: set.positives,
  });
  const seconds = (performance.now() - started) / 1000;
  print(JSON.stringify({ event: 'checkpoint', path: options.output, kind: manifest.kind, format: manifest.format, finalLoss, seconds: Number(seconds.toFixed(3)) }));
  return { manifest, finalLoss };
}

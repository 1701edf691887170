/**
 * `flywheel train-policy`: trains the embedded policy from a chat JSONL file into a checkpoint directory, printing
 * the progress protocol (`{"step", "loss", "epoch", "lr"}` JSON lines) on stdout: the trainer command the tests and
 * the demo run through the `command` backend, locally and under Slurm, exactly as a real trainer would be run.
 */
import { readFileSync } from 'node:fs';
import { parseTrainingJsonl } from './dataset.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { DEFAULT_TRAIN, trainPolicy } from './train.js';

export interface TrainPolicyOptions {
  data: string;
  output: string;
  /** A checkpoint directory to continue from; empty or absent: the base model. */
  init?: string;
  epochs?: number;
  learningRateMultiplier?: number;
  batchSize?: number;
  seed?: number;
}

/** Bad arguments or an unreadable input: exit code 2. */
export class TrainPolicyInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainPolicyInputError';
  }
}

/** An optional numeric flag: empty (an unset `{epochs}` placeholder) means the default. */
export function optionalNumberFlag(value: string | undefined, flag: string, integer: boolean): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new TrainPolicyInputError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got '${value}'`);
  }
  return n;
}

export function runTrainPolicy(options: TrainPolicyOptions, print: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  let text: string;
  try {
    text = readFileSync(options.data, 'utf8');
  } catch (err) {
    throw new TrainPolicyInputError(`cannot read the training file ${options.data}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let set: ReturnType<typeof parseTrainingJsonl>;
  try {
    set = parseTrainingJsonl(text);
  } catch (err) {
    throw new TrainPolicyInputError(`${options.data}: ${(err as Error).message}`);
  }
  let init;
  if (options.init && options.init.trim() !== '') {
    try {
      init = readCheckpoint(options.init).policy;
    } catch (err) {
      throw new TrainPolicyInputError(`--init: ${(err as Error).message}`);
    }
  }
  const epochs = options.epochs ?? DEFAULT_TRAIN.epochs;
  const batchSize = options.batchSize ?? DEFAULT_TRAIN.batchSize;
  const learningRate = DEFAULT_TRAIN.learningRate * (options.learningRateMultiplier ?? 1);
  const stepsPerEpoch = Math.max(1, Math.ceil(set.examples.length / batchSize));
  const started = performance.now();
  const result = trainPolicy(set.examples, {
    epochs,
    batchSize,
    learningRate,
    seed: options.seed ?? 0,
    init,
    onProgress: (p) =>
      print(JSON.stringify({ step: p.epoch * stepsPerEpoch, epoch: p.epoch, loss: Number(p.loss.toFixed(6)), lr: learningRate, examples: set.examples.length })),
  });
  const finalLoss = result.losses.at(-1) ?? 0;
  const manifest = writeCheckpoint(options.output, result.policy, { finalLoss, trainedTokens: result.trainedTokens, traces: set.traces });
  const seconds = (performance.now() - started) / 1000;
  print(JSON.stringify({ event: 'checkpoint', path: options.output, kind: manifest.kind, finalLoss, seconds: Number(seconds.toFixed(3)) }));
  return { manifest, finalLoss };
}

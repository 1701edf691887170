/**
 * What `flywheel train-policy` and `flywheel train-prm` share: read and parse the training file, continue from
 * `--init`, train with the defaults scaled by the flags, print the progress protocol (`{"step", "epoch", "loss",
 * "lr", "examples"}` JSON lines) and last the checkpoint line. Each learner passes in its parser, trainer and
 * checkpoint writer.
 */
import { readFileSync } from 'node:fs';
import type { PolicyManifest } from './checkpoint.js';

/** The flags both commands take. */
export interface TrainCommandOptions {
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

/** What a learner's trainer is given. */
export interface TrainSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  onProgress: (progress: { epoch: number; loss: number }) => void;
}

/** One learner's command: how its file is parsed, its init read, its model trained and its checkpoint written. */
export interface TrainingCommand<Set extends { examples: readonly unknown[] }, Init, Result extends { losses: number[] }> {
  /** What messages call the data file, e.g. `training file`. */
  dataName: string;
  parse(text: string): Set;
  /** Reads `--init` (a TrainPolicyInputError when it is not a checkpoint this learner continues from). */
  readInit(dir: string): Init;
  /** The init without `--init`: the base model. */
  base: Init;
  defaults: { epochs: number; batchSize: number; learningRate: number };
  train(set: Set, init: Init, settings: TrainSettings): Result;
  write(set: Set, init: Init, result: Result, finalLoss: number): PolicyManifest;
  /** The manifest's fields the checkpoint line shows, after its path. */
  shown(manifest: PolicyManifest): Record<string, unknown>;
}

/**
 * Runs one learner's training command to its checkpoint; input errors are TrainPolicyInputError (exit code 2).
 *
 * @example
 * runTrainingCommand(options, { dataName: 'training file', parse: parseTrainingJsonl, ... });
 */
export function runTrainingCommand<Set extends { examples: readonly unknown[] }, Init, Result extends { losses: number[] }>(
  options: TrainCommandOptions,
  command: TrainingCommand<Set, Init, Result>,
  print: (line: string) => void,
): { manifest: PolicyManifest; finalLoss: number } {
  let text: string;
  try {
    text = readFileSync(options.data, 'utf8');
  } catch (err) {
    throw new TrainPolicyInputError(`cannot read the ${command.dataName} ${options.data}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let set: Set;
  try {
    set = command.parse(text);
  } catch (err) {
    throw new TrainPolicyInputError(`${options.data}: ${(err as Error).message}`);
  }
  const init = options.init && options.init.trim() !== '' ? command.readInit(options.init) : command.base;
  const epochs = options.epochs ?? command.defaults.epochs;
  const batchSize = options.batchSize ?? command.defaults.batchSize;
  const learningRate = command.defaults.learningRate * (options.learningRateMultiplier ?? 1);
  const stepsPerEpoch = Math.max(1, Math.ceil(set.examples.length / batchSize));
  const started = performance.now();
  const result = command.train(set, init, {
    epochs,
    batchSize,
    learningRate,
    seed: options.seed ?? 0,
    onProgress: (p) =>
      print(JSON.stringify({ step: p.epoch * stepsPerEpoch, epoch: p.epoch, loss: Number(p.loss.toFixed(6)), lr: learningRate, examples: set.examples.length })),
  });
  const finalLoss = result.losses.at(-1) ?? 0;
  const manifest = command.write(set, init, result, finalLoss);
  const seconds = (performance.now() - started) / 1000;
  print(JSON.stringify({ event: 'checkpoint', path: options.output, ...command.shown(manifest), finalLoss, seconds: Number(seconds.toFixed(3)) }));
  return { manifest, finalLoss };
}

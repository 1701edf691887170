/**
 * `flywheel train-prm`: trains the embedded model's value head (a process reward model) from a stepwise JSONL file
 * (TRL's PRM format: `{"prompt", "completions", "labels"}`, optional `soft_labels`) into a checkpoint directory
 * (`value.json`, the policy's `policy.json` beside it when `--init` has one, `manifest.json`), printing the progress
 * protocol (`{"step", "loss", "epoch", "lr"}` JSON lines) on stdout: the PRM trainer command for
 * `finetune.prm.backend: command`, run exactly as a real PRM trainer (trainers/prm_trl.py) would be.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { VALUE_FILE, WEIGHTS_FILE, readCheckpoint, readValueCheckpoint, writeValueCheckpoint } from './checkpoint.js';
import type { Policy } from './policy.js';
import { parseStepwiseJsonl } from './stepwise.js';
import { runTrainingCommand, TrainPolicyInputError, type TrainCommandOptions } from './train-command.js';
import type { ValueHead } from './value.js';
import { DEFAULT_VALUE_TRAIN, trainValue } from './value.js';

/** --init: a PRM (its value head, and its policy if any) or a policy checkpoint to put a new head on. */
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

export function runTrainPrm(options: TrainCommandOptions, print: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  return runTrainingCommand(
    options,
    {
      dataName: 'PRM training file',
      parse: parseStepwiseJsonl,
      readInit,
      base: { policy: null },
      defaults: DEFAULT_VALUE_TRAIN,
      train: (set, init, settings) => trainValue(set.examples, { ...settings, init: init.value }),
      write: (set, init, result, finalLoss) =>
        writeValueCheckpoint(options.output, result.value, init.policy, {
          finalLoss,
          trainedTokens: result.trainedTokens,
          traces: set.traces,
          steps: set.examples.length,
          positives: set.positives,
        }),
      shown: (manifest) => ({ kind: manifest.kind, format: manifest.format }),
    },
    print,
  );
}

/**
 * `flywheel train-policy`: trains the embedded policy from a chat JSONL file into a checkpoint directory, printing
 * the progress protocol (`{"step", "loss", "epoch", "lr"}` JSON lines) on stdout: the trainer command the tests and
 * the demo run through the `command` backend, locally and under Slurm, exactly as a real trainer would be run.
 */
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { parseTrainingJsonl } from './dataset.js';
import type { Policy } from './policy.js';
import { runTrainingCommand, TrainPolicyInputError, type TrainCommandOptions } from './train-command.js';
import { DEFAULT_TRAIN, trainPolicy } from './train.js';

export function runTrainPolicy(options: TrainCommandOptions, print: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  return runTrainingCommand(
    options,
    {
      dataName: 'training file',
      parse: parseTrainingJsonl,
      readInit: (dir): Policy | undefined => {
        try {
          return readCheckpoint(dir).policy;
        } catch (err) {
          throw new TrainPolicyInputError(`--init: ${(err as Error).message}`);
        }
      },
      base: undefined,
      defaults: DEFAULT_TRAIN,
      train: (set, init, settings) => trainPolicy(set.examples, { ...settings, init }),
      write: (set, _init, result, finalLoss) =>
        writeCheckpoint(options.output, result.policy, { finalLoss, trainedTokens: result.trainedTokens, traces: set.traces }),
      shown: (manifest) => ({ kind: manifest.kind }),
    },
    print,
  );
}

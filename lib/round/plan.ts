/** Planning a round from its run config and task set: its stages, shards and what the search stage does. */
import type { RunConfig } from '../../config/schema.js';
import { stagesToRun, type Stage } from './stages.js';

/** Upper bound on shards per stage, which bounds a round's history (each shard is a few events). */
export const MAX_SHARDS = 200;

/**
 * Shards for a stage over `problems` problems of `perProblem` samples each: about `shardSamples` samples per shard,
 * but never more than MAX_SHARDS shards (a huge round gets bigger shards rather than a history of thousands of
 * activities) and never more shards than problems.
 *
 * @example
 * shardCount(500, 16, 1024) // 8
 */
export function shardCount(problems: number, perProblem: number, shardSamples: number): number {
  return Math.max(1, Math.min(problems, MAX_SHARDS, Math.ceil((problems * perProblem) / shardSamples)));
}

export interface RoundShape {
  stages: Stage[];
  trainShards: number;
  evalShards: number;
  /** Samples the uniform plan draws on train problems. */
  planned: number;
  maxShardsInFlight: number;
  durability: RunConfig['durability'];
  searchTrain: boolean;
  searchEval: boolean;
  rationalize: boolean;
  /**
   * Batch mode (`generate.mode: batch`): the generate fan-outs (train samples, and the evaluate stage's held-out
   * samples) go to the provider's Batch API, looked at every `pollSeconds` by a workflow timer, each missing request
   * in at most `attempts` batches before the stage needs attention. Absent in online mode.
   */
  batch?: { pollSeconds: number; attempts: number };
  /** `finetune.prm.enabled`: the fine-tune stage trains the round's PRM after its policy. Absent otherwise. */
  prm?: true;
}

/** The shape of round `round`: what is still to run (`done`: stages Postgres records as done) and how it fans out. */
export function planRound(
  config: RunConfig,
  round: number,
  problems: { train: number; test: number },
  done: ReadonlySet<string>,
): RoundShape {
  const step = config.search.step;
  const evalPerProblem = (config.evaluate.greedy ? 1 : 0) + config.evaluate.samples;
  return {
    stages: stagesToRun(round, done, { deploy: config.deploy.kind !== 'none' }),
    trainShards: shardCount(problems.train, config.generate.samplesPerProblem, config.generate.shardSamples),
    evalShards: shardCount(problems.test, Math.max(1, evalPerProblem), config.generate.shardSamples),
    planned: problems.train * config.generate.samplesPerProblem,
    maxShardsInFlight: config.generate.maxShardsInFlight,
    durability: config.durability,
    searchTrain: (step.strategy !== 'none' && (step.train !== 'none' || config.adaptive.enabled)) || config.labels.rollouts > 0,
    searchEval: step.strategy !== 'none' && step.eval,
    rationalize: config.rationalize.enabled,
    ...(config.finetune.prm.enabled ? { prm: true as const } : {}),
    ...(config.generate.mode === 'batch' ? { batch: { pollSeconds: config.generate.batchPollSeconds, attempts: config.generate.batchAttempts } } : {}),
  };
}

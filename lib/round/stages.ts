/**
 * The stages of a round, in order: written once, here. Round n first trains and judges model v(n) on what round
 * n−1 verified (filter → fine-tune → [deploy] → evaluate → promote), then samples with the promoted model for the
 * next round (generate → verify → search: ranking and voting group samples by the answer the verifier extracts).
 * Round 0 has nothing to train on: it evaluates the base model and samples with it. `deploy` (loading the new
 * checkpoint into every inference replica) runs only when the run deploys (`deploy.kind` other than `none`).
 */
export const STAGES = ['filter', 'fine-tune', 'deploy', 'evaluate', 'promote', 'generate', 'verify', 'search'] as const;
export type Stage = (typeof STAGES)[number];

/** Stages that need a previous round's traces: round 0 skips them. */
export const TRAINING_STAGES: ReadonlySet<Stage> = new Set<Stage>(['filter', 'fine-tune', 'deploy', 'promote']);

export interface StageOptions {
  /** The run deploys its checkpoints (`deploy.kind` is not `none`): the round has a deploy stage. */
  deploy?: boolean;
}

/** What a shard works on: train problems (to learn from) or held-out ones (to measure). */
export type Purpose = 'train' | 'eval';

/**
 * The stages round `round` still has to run, in order, leaving out those Postgres records as done.
 *
 * @example
 * stagesToRun(0, new Set(['evaluate'])) // ['generate', 'verify', 'search']
 * stagesToRun(1, new Set(), { deploy: true }) // ['filter', 'fine-tune', 'deploy', 'evaluate', ...]
 */
export function stagesToRun(round: number, done: ReadonlySet<string> = new Set(), options: StageOptions = {}): Stage[] {
  return STAGES.filter(
    (stage) => !(round === 0 && TRAINING_STAGES.has(stage)) && !(stage === 'deploy' && !options.deploy) && !done.has(stage),
  );
}

/** The stage order of a round as a line for people, e.g. `evaluate → generate → verify → search`. */
export function describeStages(round: number, options: StageOptions = {}): string {
  return stagesToRun(round, new Set(), options).join(' → ');
}

/**
 * One entry point for every strategy by name, so that a caller holding a plan (e.g. allocateBudget's strategy and
 * calls per problem) runs it without a switch of its own. Whole-trace strategies sample through `sampler`, or
 * through the step model's rollouts from the empty trace when none is given.
 */
import { beamSearch, type BeamOptions } from './beam.js';
import { bestOfNSearch, type BestOfNOptions } from './best-of-n.js';
import type { ValueSource } from './judge.js';
import { majoritySearch, type MajorityOptions } from './majority.js';
import { mctsSearch, type MctsOptions } from './mcts.js';
import type { RewardModelClient } from './reward-model.js';
import { samplerFromStepModel } from './samplers.js';
import type { CommonSearchOptions, SearchOutcome, SearchProblem, StepModel, StrategyName, TraceSampler } from './types.js';

type Specific<T> = Partial<Omit<T, keyof CommonSearchOptions | 'model' | 'sampler'>>;

export interface StrategyConfig extends Omit<CommonSearchOptions, 'budget'> {
  model: StepModel;
  /** For best-of-N and majority vote; default the step model's rollouts. */
  sampler?: TraceSampler;
  /** Outcome reward model (values and ranking when not verifying during search). */
  rewardModel?: RewardModelClient;
  answerOf?: (text: string) => string | null;
  /** Per-strategy options on top of the shared ones. */
  bestOfN?: Specific<BestOfNOptions>;
  majority?: Specific<MajorityOptions>;
  beam?: Specific<BeamOptions>;
  mcts?: Specific<MctsOptions>;
}

/**
 * Runs `strategy` on one problem with `budget` model calls. Best-of-N's scorer defaults to the verifier when
 * verifying during search, else the reward model when given, else self-consistency.
 *
 * @example
 * for (const a of allocateBudget(histories, { totalCalls: 4000 })) {
 *   const outcome = await runStrategy(a.strategy, problems[a.problemId], a.calls, { model, verifier, verifyDuringSearch: true });
 * }
 */
export function runStrategy(strategy: StrategyName, problem: SearchProblem, budget: number, config: StrategyConfig): Promise<SearchOutcome> {
  const { model, sampler = samplerFromStepModel(model), bestOfN, majority, beam, mcts, ...common } = config;
  switch (strategy) {
    case 'best-of-n': {
      const scorer: ValueSource = common.verifyDuringSearch ? 'verifier' : common.rewardModel ? 'reward-model' : 'self-consistency';
      return bestOfNSearch(problem, { scorer, ...common, ...bestOfN, sampler, budget });
    }
    case 'majority':
      return majoritySearch(problem, { ...common, ...majority, sampler, budget });
    case 'beam':
      return beamSearch(problem, { ...common, ...beam, model, budget });
    case 'mcts':
      return mctsSearch(problem, { ...common, ...mcts, model, budget });
  }
}

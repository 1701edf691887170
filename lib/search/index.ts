/**
 * Search: turn a model's samples and steps into the best traces. Pure ranking of samples already drawn (vote.ts),
 * and strategies that draw as they go (best-of-N, majority vote, step-level beam search, MCTS) against any
 * OpenAI-compatible server, each within a budget of model calls. Plus difficulty-adaptive budgets (budget.ts).
 */
export { majorityVote, scoreSamples, bestOfN, type ScoredSample, type Scorer, type VoteResult } from './vote.js';
export type {
  BudgetUnit,
  CommonSearchOptions,
  GeneratedSequence,
  Generation,
  SearchOutcome,
  SearchProblem,
  SearchTrace,
  StepLine,
  StepModel,
  StepRequest,
  StrategyName,
  TraceSampler,
} from './types.js';
export { CallMeter, BudgetExceededError } from './meter.js';
export { childrenOf, priorsOf, lineOptions, type Child, type LineOption } from './children.js';
export {
  createCompletionsStepModel,
  parseChoice,
  fillTemplate,
  DEFAULT_TEMPLATE,
  DEFAULT_FINAL_LINE,
  IMPOSSIBLE_LOGPROB,
  type CompletionsStepModelOptions,
} from './completions-model.js';
export { createChatSampler, samplerFromStepModel, sequenceText, type ChatSamplerOptions } from './samplers.js';
export {
  createRewardModelClient,
  RewardModelError,
  type RewardModelClient,
  type RewardModelEndpoint,
  type RewardScores,
} from './reward-model.js';
export { TraceJudge, answerLine, type JudgeOptions, type ValueSource } from './judge.js';
export { bestOfNSearch, type BestOfNOptions } from './best-of-n.js';
export { majoritySearch, type MajorityOptions } from './majority.js';
export { beamSearch, keepBest, SAMPLED_EXPANSION, type BeamOptions, type ProcessScorer } from './beam.js';
export { mctsSearch, type MctsOptions } from './mcts.js';
export { runStrategy, type StrategyConfig } from './run.js';
export {
  allocateBudget,
  estimateDifficulty,
  missProbability,
  DEFAULT_STRATEGIES,
  type Allocation,
  type AllocationOptions,
  type Difficulty,
  type DifficultyBin,
  type DifficultyOptions,
  type ProblemHistory,
  type RoundHistory,
} from './budget.js';

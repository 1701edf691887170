/**
 * The embedded model: a small countdown step policy that learns on CPU, served over an OpenAI-compatible API.
 */
export { startLocalModelServer } from './server.js';
export type { LocalModelServer, LocalModelServerOptions } from './server.js';
export {
  BASE_MODEL,
  SUBWORD_BASE_MODEL,
  createBasePolicy,
  policyFromJson,
  policyToJson,
  rollout,
  rolloutText,
  stepDistribution,
  chooseMove,
  argmax,
  withBonus,
} from './policy.js';
export type { Policy, PolicyJson, Rollout, RolloutOptions, StepDistribution } from './policy.js';
export { HINT_BONUS, parseHint, trackHint } from './hint.js';
export type { Hint, HintTracker } from './hint.js';
export { FEATURE_NAMES, FEATURE_COUNT, stateFeatures } from './features.js';
export { DEFAULT_TRAIN, examplesFromTrace, trainPolicy } from './train.js';
export type { StepExample, TrainOptions, TrainProgress, TrainResult } from './train.js';
export { parseTrainingJsonl, TrainingFileError } from './dataset.js';
export { chatExample, examplesFromKept, greedyPassAt1, sampleCorrectTraces } from './evaluate.js';
export { BASE_MODELS } from './models.js';
export { IMPOSSIBLE_LOGPROB, TOKEN_MODES, subwordTokens, type TokenMode } from './tokenizer.js';
export { subwordRollout } from './subword.js';
export { PrefixCache } from './prefix-cache.js';

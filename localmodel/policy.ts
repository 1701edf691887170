/**
 * The step policy: a small MLP scores every legal move of a countdown state from its features, and the policy is a
 * softmax over those scores. One hidden tanh layer plus a linear skip from the features to the score.
 *
 * The base model scores every move 0 (output layer and skip start at zero), so it is exactly uniform and its
 * greedy choice is the first legal move: it knows nothing until it is trained.
 */
import type { CountdownProblem, Move, Step } from '../lib/tasks/countdown.js';
import { applyStep, formatStep, stepsToExpression } from '../lib/tasks/countdown.js';
import { createRng, randNormal } from '../lib/rng.js';
import type { Rng } from '../lib/rng.js';
import { FEATURE_COUNT, stateFeatures } from './features.js';
import type { Hint, HintTracker } from './hint.js';
import { trackHint } from './hint.js';

export const BASE_MODEL = 'countdown-mlp';
/** The same base with an LLM-like subword tokenizer (see tokenizer.ts). */
export const SUBWORD_BASE_MODEL = 'countdown-mlp-subword';
export const DEFAULT_HIDDEN = 32;
export const BASE_SEED = 20_240_601;

export interface Policy {
  inputs: number;
  hidden: number;
  /** hidden × inputs, row-major. */
  w1: Float64Array;
  b1: Float64Array;
  w2: Float64Array;
  /** inputs: a linear path from features to the score. */
  skip: Float64Array;
}

/** The JSON form stored on disk and passed to training workers. */
export interface PolicyJson {
  kind: 'countdown-mlp';
  version: 1;
  inputs: number;
  hidden: number;
  w1: number[];
  b1: number[];
  w2: number[];
  skip: number[];
}

/** The untrained policy: seeded first layer, zero output layer, so every move scores the same. */
export function createBasePolicy(seed = BASE_SEED, hidden = DEFAULT_HIDDEN): Policy {
  const rng = createRng(seed);
  const inputs = FEATURE_COUNT;
  const w1 = new Float64Array(hidden * inputs);
  const scale = 1 / Math.sqrt(inputs);
  for (let i = 0; i < w1.length; i++) w1[i] = randNormal(rng) * scale;
  const b1 = new Float64Array(hidden);
  for (let i = 0; i < hidden; i++) b1[i] = randNormal(rng) * 0.1;
  return { inputs, hidden, w1, b1, w2: new Float64Array(hidden), skip: new Float64Array(inputs) };
}

export function clonePolicy(p: Policy): Policy {
  return { ...p, w1: p.w1.slice(), b1: p.b1.slice(), w2: p.w2.slice(), skip: p.skip.slice() };
}

export function policyToJson(p: Policy): PolicyJson {
  return {
    kind: 'countdown-mlp',
    version: 1,
    inputs: p.inputs,
    hidden: p.hidden,
    w1: Array.from(p.w1),
    b1: Array.from(p.b1),
    w2: Array.from(p.w2),
    skip: Array.from(p.skip),
  };
}

export function policyFromJson(json: PolicyJson): Policy {
  if (json.kind !== 'countdown-mlp' || json.inputs !== FEATURE_COUNT) {
    throw new Error(`weights are for ${json.kind} with ${json.inputs} features; this server's policy has ${FEATURE_COUNT}`);
  }
  return {
    inputs: json.inputs,
    hidden: json.hidden,
    w1: Float64Array.from(json.w1),
    b1: Float64Array.from(json.b1),
    w2: Float64Array.from(json.w2),
    skip: Float64Array.from(json.skip),
  };
}

/** Scores (logits) of `count` feature rows starting at row 0. */
export function scoreRows(p: Policy, features: Float64Array, count: number, out = new Float64Array(count)): Float64Array {
  const { inputs, hidden, w1, b1, w2, skip } = p;
  for (let m = 0; m < count; m++) {
    const x = m * inputs;
    let s = 0;
    for (let i = 0; i < inputs; i++) s += skip[i]! * features[x + i]!;
    for (let h = 0; h < hidden; h++) {
      let a = b1[h]!;
      const row = h * inputs;
      for (let i = 0; i < inputs; i++) a += w1[row + i]! * features[x + i]!;
      s += w2[h]! * Math.tanh(a);
    }
    out[m] = s;
  }
  return out;
}

/** Log-softmax of logits / temperature (temperature > 0), in place into `out`. */
export function logSoftmax(logits: Float64Array, temperature = 1, out = new Float64Array(logits.length)): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]! / temperature);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! / temperature - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! / temperature - lse;
  return out;
}

/** The model's distribution over the next step of a state. */
export interface StepDistribution {
  /** Every legal move, in the task's canonical order. */
  moves: Move[];
  /** Raw scores. */
  logits: Float64Array;
  /** log p(move) at temperature 1: what the model believes, whatever temperature it samples at. */
  logprobs: Float64Array;
}

/**
 * The full distribution over the legal next steps of a state (numbers left, target): the priors a search needs.
 *
 * @example const { moves, logprobs } = stepDistribution(policy, [75, 3, 8], 24)
 */
export function stepDistribution(p: Policy, numbers: readonly number[], target: number): StepDistribution {
  const { moves, features } = stateFeatures(numbers, target);
  const logits = scoreRows(p, features, moves.length);
  return { moves, logits, logprobs: logSoftmax(logits) };
}

/** The distribution with `bonus` added to its logits and renormalised: what a hint in the context does to it. */
export function withBonus(dist: StepDistribution, bonus: Float64Array): StepDistribution {
  const logits = dist.logits.map((l, i) => l + bonus[i]!);
  return { moves: dist.moves, logits, logprobs: logSoftmax(logits) };
}

/** Greedy pick: the highest score, the first legal move on ties (deterministic). */
export function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Index of the move to take: greedy at temperature 0, else a draw from softmax(logits / temperature). */
export function chooseMove(dist: StepDistribution, temperature: number, rng: Rng): number {
  if (temperature <= 0 || dist.moves.length === 1) return argmax(dist.logits);
  const lp = temperature === 1 ? dist.logprobs : logSoftmax(dist.logits, temperature);
  let u = rng();
  for (let i = 0; i < lp.length; i++) {
    u -= Math.exp(lp[i]!);
    if (u < 0) return i;
  }
  return lp.length - 1;
}

/** One generated token: a step line (or the answer line), its log-probability and the best alternatives. */
export interface PolicyToken {
  text: string;
  logprob: number;
  /** The most likely moves at this position, best first (a sampled move need not be among them). */
  top: Array<{ text: string; logprob: number }>;
}

export interface RolloutOptions {
  temperature: number;
  rng: Rng;
  /** Stop after this many tokens (steps, and the answer line counts as one). */
  maxTokens?: number;
  /** Steps already taken (the state starts after them). */
  prefix?: readonly Step[];
  /** How many alternatives to list per token (0 = none). */
  topK?: number;
  /** A hint read from the prompt: moves that build its sub-expressions get a bonus (see hint.ts). */
  hint?: Hint | null;
}

export interface Rollout {
  /** Steps taken in this rollout (not including the prefix). */
  steps: Step[];
  tokens: PolicyToken[];
  /** True when the rollout wrote its answer line; false when maxTokens cut it short. */
  finished: boolean;
}

/** The k most likely moves of a distribution, best first (ties: canonical order). */
export function topAlternatives(dist: StepDistribution, k: number): Array<{ text: string; logprob: number }> {
  if (k <= 0) return [];
  const order = dist.moves.map((_, i) => i).sort((a, b) => dist.logprobs[b]! - dist.logprobs[a]! || a - b);
  return order.slice(0, k).map((i) => ({ text: dist.moves[i]!.text, logprob: dist.logprobs[i]! }));
}

/** The answer line token that ends every trace: forced, so its log-probability is 0. */
export function answerToken(problem: CountdownProblem, steps: readonly Step[], topK = 0): PolicyToken {
  const text = `Answer: ${stepsToExpression(problem.numbers, steps)}`;
  return { text, logprob: 0, top: topK > 0 ? [{ text, logprob: 0 }] : [] };
}

/** The numbers left after `prefix` (which must be legal), and the hint tracked up to there. */
export function stateAfter(
  problem: CountdownProblem,
  prefix: readonly Step[],
  hintGiven?: Hint | null,
): { numbers: number[]; hint: HintTracker | null } {
  const hint = hintGiven ? trackHint(hintGiven, problem.numbers) : null;
  let numbers = problem.numbers.slice();
  for (const s of prefix) {
    const next = applyStep(numbers, s);
    if (!next) throw new Error(`prefix step "${formatStep(s)}" is not legal from [${numbers.join(', ')}]`);
    hint?.advance(numbers, s);
    numbers = next;
  }
  return { numbers, hint };
}

/** The model's distribution at a state, with the hint's bonus when there is one. */
export function hintedDistribution(p: Policy, numbers: readonly number[], target: number, hint: HintTracker | null): StepDistribution {
  const dist = stepDistribution(p, numbers, target);
  const bonus = hint?.bonus(dist.moves);
  return bonus ? withBonus(dist, bonus) : dist;
}

/**
 * Writes a trace from the state after `prefix` until one number is left, then the answer line.
 *
 * @example rollout(policy, { numbers: [75, 3, 8, 2], target: 24 }, { temperature: 0, rng: createRng(1) })
 */
export function rollout(p: Policy, problem: CountdownProblem, options: RolloutOptions): Rollout {
  const maxTokens = options.maxTokens ?? Infinity;
  const topK = options.topK ?? 0;
  const prefix = options.prefix ?? [];
  const start = stateAfter(problem, prefix, options.hint);
  const hint = start.hint;
  let numbers = start.numbers;
  const steps: Step[] = [];
  const tokens: PolicyToken[] = [];
  while (tokens.length < maxTokens) {
    if (numbers.length <= 1) {
      tokens.push(answerToken(problem, [...prefix, ...steps], topK));
      return { steps, tokens, finished: true };
    }
    const dist = hintedDistribution(p, numbers, problem.target, hint);
    const i = chooseMove(dist, options.temperature, options.rng);
    const move = dist.moves[i]!;
    hint?.advance(numbers, move.step);
    steps.push(move.step);
    tokens.push({ text: move.text, logprob: dist.logprobs[i]!, top: topAlternatives(dist, topK) });
    numbers = move.left;
  }
  return { steps, tokens, finished: false };
}

/** The trace text of a rollout: one line per token. */
export function rolloutText(r: Rollout): string {
  return r.tokens.map((t) => t.text).join('\n');
}

/**
 * The embedded model's second learner: a value head that reads the state a partial trace leaves (the numbers still
 * to combine, relative to the target: value-features.ts) and says how likely that prefix is to end in a verified
 * answer (a process reward model). One hidden tanh layer, a linear skip and a bias, then a sigmoid; trained with
 * binary cross-entropy against soft labels (the share of verified rollouts through a step, Math-Shepherd style) or
 * hard ones (0/1). It is given no lookahead: what it knows of which states can still reach the target, it learnt
 * from the labels, so it judges better the more steps search has labelled.
 *
 * The base head outputs sigmoid(0) = 0.5 for every prefix: it knows nothing until trained.
 */
import type { CountdownProblem } from '../lib/tasks/countdown.js';
import { applyStep, parsePrompt, parseStepLine, sortDesc } from '../lib/tasks/countdown.js';
import { createRng, randNormal } from '../lib/rng.js';
import { VALUE_FEATURE_COUNT, valueFeatures } from './value-features.js';

export const VALUE_HIDDEN = 32;
export const VALUE_SEED = 20_241_114;

export interface ValueHead {
  inputs: number;
  hidden: number;
  /** hidden × inputs, row-major. */
  w1: Float64Array;
  b1: Float64Array;
  w2: Float64Array;
  skip: Float64Array;
  /** The logit of an empty prefix, and the bias of every other. */
  bias: Float64Array;
}

export interface ValueJson {
  kind: 'countdown-state-value';
  version: 2;
  inputs: number;
  hidden: number;
  w1: number[];
  b1: number[];
  w2: number[];
  skip: number[];
  bias: number;
}

export function createBaseValue(seed = VALUE_SEED, hidden = VALUE_HIDDEN): ValueHead {
  const rng = createRng(seed);
  const inputs = VALUE_FEATURE_COUNT;
  const w1 = new Float64Array(hidden * inputs);
  const scale = 1 / Math.sqrt(inputs);
  for (let i = 0; i < w1.length; i++) w1[i] = randNormal(rng) * scale;
  const b1 = new Float64Array(hidden);
  for (let i = 0; i < hidden; i++) b1[i] = randNormal(rng) * 0.1;
  return { inputs, hidden, w1, b1, w2: new Float64Array(hidden), skip: new Float64Array(inputs), bias: new Float64Array(1) };
}

export function cloneValue(v: ValueHead): ValueHead {
  return { ...v, w1: v.w1.slice(), b1: v.b1.slice(), w2: v.w2.slice(), skip: v.skip.slice(), bias: v.bias.slice() };
}

export function valueToJson(v: ValueHead): ValueJson {
  return {
    kind: 'countdown-state-value',
    version: 2,
    inputs: v.inputs,
    hidden: v.hidden,
    w1: Array.from(v.w1),
    b1: Array.from(v.b1),
    w2: Array.from(v.w2),
    skip: Array.from(v.skip),
    bias: v.bias[0] ?? 0,
  };
}

export function valueFromJson(json: ValueJson): ValueHead {
  if (json?.kind !== 'countdown-state-value' || json.inputs !== VALUE_FEATURE_COUNT) {
    throw new Error(`value weights are for ${json?.kind} with ${json?.inputs} features; this server's value head is countdown-state-value with ${VALUE_FEATURE_COUNT}`);
  }
  if (json.w1.length !== json.hidden * json.inputs || json.b1.length !== json.hidden || json.w2.length !== json.hidden || json.skip.length !== json.inputs) {
    throw new Error(`value weights have the wrong shapes for ${json.hidden} hidden units and ${json.inputs} features`);
  }
  return {
    inputs: json.inputs,
    hidden: json.hidden,
    w1: Float64Array.from(json.w1),
    b1: Float64Array.from(json.b1),
    w2: Float64Array.from(json.w2),
    skip: Float64Array.from(json.skip),
    bias: Float64Array.of(json.bias),
  };
}

/** A partial trace as the value head sees it: the features of the state it leaves (null: no step yet). */
export interface PrefixState {
  features: Float64Array | null;
  /** A line that looked like a step broke the rules: the prefix leads nowhere. */
  illegal: boolean;
  steps: number;
}

/** Reads a prefix (step lines, possibly an answer line) from the problem's numbers, to the state it leaves. */
export function prefixState(problem: CountdownProblem, lines: readonly string[]): PrefixState {
  let numbers = sortDesc(problem.numbers);
  let steps = 0;
  for (const raw of lines.flatMap((l) => l.split('\n'))) {
    if (!raw.trim()) continue;
    if (/^\s*Answer\s*:/i.test(raw)) break;
    const step = parseStepLine(raw);
    const next = step ? applyStep(numbers, step) : null;
    if (!step || !next) return { features: null, illegal: true, steps };
    numbers = next;
    steps++;
  }
  if (steps === 0) return { features: null, illegal: false, steps: 0 };
  return { features: valueFeatures(numbers, problem.target), illegal: false, steps };
}

function logit(v: ValueHead, x: Float64Array, hid?: Float64Array): number {
  let s = v.bias[0]!;
  for (let f = 0; f < v.inputs; f++) s += v.skip[f]! * x[f]!;
  for (let h = 0; h < v.hidden; h++) {
    let a = v.b1[h]!;
    const row = h * v.inputs;
    for (let f = 0; f < v.inputs; f++) a += v.w1[row + f]! * x[f]!;
    const z = Math.tanh(a);
    if (hid) hid[h] = z;
    s += v.w2[h]! * z;
  }
  return s;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The value of a prefix in [0, 1]: 0 for a prefix with an illegal step, sigmoid(bias) for an empty one. */
export function prefixValue(v: ValueHead, state: PrefixState): number {
  if (state.illegal) return 0;
  if (!state.features) return sigmoid(v.bias[0]!);
  return sigmoid(logit(v, state.features));
}

/** Where a prompt cannot be scored: not a countdown prompt. */
export class ValueInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueInputError';
  }
}

/**
 * Scores a partial trace (the reward-model endpoint's `completion`) for a countdown prompt.
 *
 * @example scoreCompletion(head, formatPrompt({ numbers: [4, 6, 1, 1], target: 24 }), '6 * 4 = 24') // ≈ 0.9 once trained
 */
export function scoreCompletion(v: ValueHead, prompt: string, completion: string): number {
  const problem = parsePrompt(prompt);
  if (!problem) throw new ValueInputError('the prompt is not a countdown prompt (expected "Using the numbers [...], make N.")');
  return prefixValue(v, prefixState(problem, [completion]));
}

/** One labelled prefix: the features of its last step and its target value in [0, 1]. */
export interface ValueExample {
  features: Float64Array;
  target: number;
}

export interface ValueTrainOptions {
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  init?: ValueHead;
  weightDecay?: number;
  onProgress?: (p: { epoch: number; epochs: number; loss: number }) => void;
}

export const DEFAULT_VALUE_TRAIN: Omit<ValueTrainOptions, 'seed'> = { epochs: 20, learningRate: 0.02, batchSize: 64 };

export interface ValueTrainResult {
  value: ValueHead;
  /** Mean binary cross-entropy per epoch. */
  losses: number[];
  trainedTokens: number;
}

/**
 * Trains the value head by binary cross-entropy against soft targets, with Adam. Deterministic for a seed.
 *
 * @example const { value } = trainValue(examples, { ...DEFAULT_VALUE_TRAIN, seed: 1 })
 */
export function trainValue(examples: readonly ValueExample[], options: ValueTrainOptions): ValueTrainResult {
  const v = options.init ? cloneValue(options.init) : createBaseValue();
  const F = v.inputs;
  const H = v.hidden;
  const decay = options.weightDecay ?? 1e-4;
  const params = [v.w1, v.b1, v.w2, v.skip, v.bias];
  const grads = params.map((p) => new Float64Array(p.length));
  const m1 = params.map((p) => new Float64Array(p.length));
  const m2 = params.map((p) => new Float64Array(p.length));
  const [gW1, gB1, gW2, gSkip, gBias] = grads as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const hid = new Float64Array(H);
  const rng = createRng(options.seed);
  const order = Array.from(examples, (_, i) => i);
  let t = 0;
  // The learning rate decays linearly to 0 over the run (TRL's default schedule), so a head continued from the last
  // round's settles on the new labels rather than ending mid-stride.
  const totalSteps = options.epochs * Math.ceil(order.length / options.batchSize);
  const losses: number[] = [];
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let epochLoss = 0;
    for (let start = 0; start < order.length; start += options.batchSize) {
      const end = Math.min(order.length, start + options.batchSize);
      for (const g of grads) g.fill(0);
      for (let b = start; b < end; b++) {
        const ex = examples[order[b]!]!;
        const x = ex.features;
        const p = sigmoid(logit(v, x, hid));
        const y = ex.target;
        epochLoss -= y * Math.log(Math.max(p, 1e-12)) + (1 - y) * Math.log(Math.max(1 - p, 1e-12));
        const d = p - y; // d BCE / d logit
        gBias[0]! += d;
        for (let f = 0; f < F; f++) gSkip[f]! += d * x[f]!;
        for (let h = 0; h < H; h++) {
          const z = hid[h]!;
          gW2[h]! += d * z;
          const da = d * v.w2[h]! * (1 - z * z);
          gB1[h]! += da;
          const row = h * F;
          for (let f = 0; f < F; f++) gW1[row + f]! += da * x[f]!;
        }
      }
      t++;
      const scale = 1 / (end - start);
      const lrT = (options.learningRate * (1 - (t - 1) / totalSteps) * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      for (let k = 0; k < params.length; k++) {
        const p = params[k]!;
        const g = grads[k]!;
        const a = m1[k]!;
        const s = m2[k]!;
        for (let i = 0; i < p.length; i++) {
          const gi = g[i]! * scale + decay * p[i]!;
          a[i] = 0.9 * a[i]! + 0.1 * gi;
          s[i] = 0.999 * s[i]! + 0.001 * gi * gi;
          p[i]! -= (lrT * a[i]!) / (Math.sqrt(s[i]!) + 1e-8);
        }
      }
    }
    const loss = examples.length ? epochLoss / examples.length : 0;
    losses.push(loss);
    options.onProgress?.({ epoch, epochs: options.epochs, loss });
  }
  return { value: v, losses, trainedTokens: examples.length * options.epochs };
}

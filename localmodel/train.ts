/**
 * Supervised fine-tuning of the step policy: cross-entropy of the chosen move against all legal moves of its
 * state, with Adam. A pure function of (examples, start weights, hyperparameters, seed), so it runs the same in a
 * worker thread, in a benchmark, or in a test.
 */
import type { CountdownProblem } from '../lib/tasks/countdown.js';
import { formatStep, parseTrace, sortDesc } from '../lib/tasks/countdown.js';
import { createRng } from '../lib/rng.js';
import { FEATURE_COUNT, stateFeatures } from './features.js';
import type { Policy } from './policy.js';
import { clonePolicy, createBasePolicy } from './policy.js';

/** One decision: at this state the trace took move `choice` (an index into the state's legal moves). */
export interface StepExample {
  numbers: number[];
  target: number;
  choice: number;
}

/**
 * The decisions of one trace: each legal step line becomes an example, up to the first illegal one.
 *
 * @example examplesFromTrace({ numbers: [4, 6, 1, 1], target: 24 }, '6 * 4 = 24\n1 * 1 = 1\n24 * 1 = 24\nAnswer: ...')
 */
export function examplesFromTrace(problem: CountdownProblem, trace: string): StepExample[] {
  const parsed = parseTrace(problem, trace);
  const out: StepExample[] = [];
  let numbers = sortDesc(problem.numbers);
  for (const step of parsed.steps) {
    const { moves } = stateFeatures(numbers, problem.target);
    const text = formatStep(step);
    const choice = moves.findIndex((m) => m.text === text);
    if (choice < 0) break;
    out.push({ numbers, target: problem.target, choice });
    numbers = moves[choice]!.left;
  }
  return out;
}

export interface TrainOptions {
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  /** Start from these weights (continue training); default: the base model. */
  init?: Policy;
  /** L2 penalty on the weights (default 1e-4). */
  weightDecay?: number;
  onProgress?: (progress: TrainProgress) => void;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  /** Mean cross-entropy over the epoch's examples. */
  loss: number;
}

export interface TrainResult {
  policy: Policy;
  /** Mean loss per epoch. */
  losses: number[];
  /** Decisions trained on, times epochs. */
  trainedTokens: number;
}

export const DEFAULT_TRAIN: Omit<TrainOptions, 'seed'> = { epochs: 12, learningRate: 0.01, batchSize: 32 };

/**
 * Trains a policy on step decisions. Deterministic for a given seed; examples with a single legal move carry no
 * signal and are skipped.
 *
 * @example const { policy } = trainPolicy(examples, { ...DEFAULT_TRAIN, seed: 1 })
 */
export function trainPolicy(examples: readonly StepExample[], options: TrainOptions): TrainResult {
  const policy = options.init ? clonePolicy(options.init) : createBasePolicy();
  const F = FEATURE_COUNT;
  const H = policy.hidden;
  const decay = options.weightDecay ?? 1e-4;

  // Pack every example's feature rows once.
  const useful = examples.map((e) => ({ e, s: stateFeatures(e.numbers, e.target) })).filter((x) => x.s.moves.length > 1);
  const offsets = new Int32Array(useful.length);
  const counts = new Int32Array(useful.length);
  const choices = new Int32Array(useful.length);
  let rows = 0;
  let maxMoves = 1;
  useful.forEach((x, i) => {
    offsets[i] = rows;
    counts[i] = x.s.moves.length;
    choices[i] = x.e.choice;
    rows += x.s.moves.length;
    maxMoves = Math.max(maxMoves, x.s.moves.length);
  });
  const X = new Float64Array(rows * F);
  useful.forEach((x, i) => X.set(x.s.features, offsets[i]! * F));

  const params = [policy.w1, policy.b1, policy.w2, policy.skip];
  const grads = params.map((p) => new Float64Array(p.length));
  const m1 = params.map((p) => new Float64Array(p.length));
  const m2 = params.map((p) => new Float64Array(p.length));
  const [gW1, gB1, gW2, gSkip] = grads as [Float64Array, Float64Array, Float64Array, Float64Array];
  const hid = new Float64Array(maxMoves * H);
  const score = new Float64Array(maxMoves);
  const prob = new Float64Array(maxMoves);
  const rng = createRng(options.seed);
  const order = Array.from(useful, (_, i) => i);
  const beta1 = 0.9;
  const beta2 = 0.999;
  let t = 0;
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
        const ex = order[b]!;
        const n = counts[ex]!;
        const base = offsets[ex]! * F;
        // Forward.
        let max = -Infinity;
        for (let m = 0; m < n; m++) {
          const x = base + m * F;
          let s = 0;
          for (let f = 0; f < F; f++) s += policy.skip[f]! * X[x + f]!;
          for (let h = 0; h < H; h++) {
            let a = policy.b1[h]!;
            const row = h * F;
            for (let f = 0; f < F; f++) a += policy.w1[row + f]! * X[x + f]!;
            const z = Math.tanh(a);
            hid[m * H + h] = z;
            s += policy.w2[h]! * z;
          }
          score[m] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let m = 0; m < n; m++) sum += (prob[m] = Math.exp(score[m]! - max));
        for (let m = 0; m < n; m++) prob[m]! /= sum;
        epochLoss -= Math.log(Math.max(prob[choices[ex]!]!, 1e-300));
        // Backward: d loss / d score = p - onehot.
        for (let m = 0; m < n; m++) {
          const d = prob[m]! - (m === choices[ex] ? 1 : 0);
          if (d === 0) continue;
          const x = base + m * F;
          for (let f = 0; f < F; f++) gSkip[f]! += d * X[x + f]!;
          for (let h = 0; h < H; h++) {
            const z = hid[m * H + h]!;
            gW2[h]! += d * z;
            const da = d * policy.w2[h]! * (1 - z * z);
            if (da === 0) continue;
            gB1[h]! += da;
            const row = h * F;
            for (let f = 0; f < F; f++) gW1[row + f]! += da * X[x + f]!;
          }
        }
      }
      // Adam step on the batch mean (+ L2).
      t++;
      const scale = 1 / (end - start);
      const lrT = (options.learningRate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
      for (let k = 0; k < params.length; k++) {
        const p = params[k]!;
        const g = grads[k]!;
        const a = m1[k]!;
        const v = m2[k]!;
        for (let i = 0; i < p.length; i++) {
          const gi = g[i]! * scale + decay * p[i]!;
          a[i] = beta1 * a[i]! + (1 - beta1) * gi;
          v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
          p[i]! -= (lrT * a[i]!) / (Math.sqrt(v[i]!) + 1e-8);
        }
      }
    }
    const loss = useful.length ? epochLoss / useful.length : 0;
    losses.push(loss);
    options.onProgress?.({ epoch, epochs: options.epochs, loss });
  }
  return { policy, losses, trainedTokens: useful.length * options.epochs };
}

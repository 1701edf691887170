/**
 * Difficulty-adaptive test-time compute (Snell et al. 2024, "Scaling LLM Test-Time Compute Optimally"): estimate
 * each problem's difficulty from its stored history, bin it, and split a round's budget of model calls where it
 * pays: a call or two for problems solved every time, more calls and tree search for medium and hard ones.
 *
 * Difficulty is a posterior solve rate per sample: Beta(alpha, beta) prior plus the problem's samples and correct
 * samples, older rounds weighted down (the model changes every round). The split maximises the expected number
 * of problems solved under that posterior, as if calls were independent samples: the k-th call of a problem
 * solves it with probability E[(1 - p)^(k-1) p], which falls with k, so handing calls out one at a time to the
 * largest gain is optimal. Search is stronger per call than sampling, so on medium and hard problems the real
 * gain is larger than planned: the split is conservative there.
 *
 * Pure functions: the caller reads the history (per round: samples n, correct c) and runs what comes out.
 */
import type { StrategyName } from './types.js';

export interface RoundHistory {
  /** Samples drawn for the problem in that round. */
  n: number;
  /** How many of them the verifier accepted. */
  correct: number;
}

export interface ProblemHistory {
  problemId: string | number;
  /** Oldest first. */
  rounds: readonly RoundHistory[];
}

export type DifficultyBin = 'solved-always' | 'easy' | 'medium' | 'hard' | 'unseen';

export interface DifficultyOptions {
  /** Beta prior on the solve rate; default { alpha: 1, beta: 1 } (uniform). */
  prior?: { alpha: number; beta: number };
  /** Weight of a round relative to the one after it; default 0.5 (last round 1, the one before 0.5, ...). */
  recency?: number;
  /** Solve-rate cut-offs: ≥ easy is easy, ≥ medium is medium, below is hard; default { easy: 0.6, medium: 0.2 } (with a uniform prior, 0 of 4 correct is hard). */
  thresholds?: { easy: number; medium: number };
}

export interface Difficulty {
  /** Weighted samples and correct samples. */
  samples: number;
  correct: number;
  /** Posterior mean solve rate per sample. */
  solveRate: number;
  /** Posterior Beta parameters (prior plus weighted counts). */
  alpha: number;
  beta: number;
  bin: DifficultyBin;
}

/**
 * @example estimateDifficulty([{ n: 16, correct: 16 }]) // → bin 'solved-always', solveRate 17/18
 * @example estimateDifficulty([{ n: 16, correct: 1 }])  // → bin 'hard', solveRate 2/18
 */
export function estimateDifficulty(rounds: readonly RoundHistory[], options: DifficultyOptions = {}): Difficulty {
  const prior = options.prior ?? { alpha: 1, beta: 1 };
  const recency = options.recency ?? 0.5;
  const thresholds = options.thresholds ?? { easy: 0.6, medium: 0.2 };
  let samples = 0;
  let correct = 0;
  let allCorrect = true;
  rounds.forEach((r, i) => {
    const w = recency ** (rounds.length - 1 - i);
    samples += w * r.n;
    correct += w * r.correct;
    if (r.n > 0 && r.correct < r.n) allCorrect = false;
  });
  const alpha = prior.alpha + correct;
  const beta = prior.beta + (samples - correct);
  const solveRate = alpha / (alpha + beta);
  let bin: DifficultyBin;
  if (samples === 0) bin = 'unseen';
  else if (allCorrect) bin = 'solved-always';
  else if (solveRate >= thresholds.easy) bin = 'easy';
  else if (solveRate >= thresholds.medium) bin = 'medium';
  else bin = 'hard';
  return { samples, correct, solveRate, alpha, beta, bin };
}

/** P(no success in k calls) = E[(1 - p)^k] under Beta(alpha, beta). */
export function missProbability(alpha: number, beta: number, k: number): number {
  let miss = 1;
  for (let j = 0; j < k; j++) miss *= (beta + j) / (alpha + beta + j);
  return miss;
}

export const DEFAULT_STRATEGIES: Readonly<Record<DifficultyBin, StrategyName>> = {
  'solved-always': 'best-of-n',
  easy: 'best-of-n',
  medium: 'mcts',
  hard: 'mcts',
  unseen: 'best-of-n',
};

export interface AllocationOptions extends DifficultyOptions {
  /** The round's total budget of model calls. */
  totalCalls: number;
  /** Calls every problem gets first (when the total allows); default 1. */
  minCalls?: number;
  /** Most calls for one problem; default 256. */
  maxCalls?: number;
  /** Strategy per bin; default {@link DEFAULT_STRATEGIES}. */
  strategies?: Partial<Record<DifficultyBin, StrategyName>>;
}

export interface Allocation {
  problemId: string | number;
  bin: DifficultyBin;
  strategy: StrategyName;
  calls: number;
  solveRate: number;
  /** Planned probability of solving it with these calls (independent samples at the posterior solve rate). */
  expectedSolve: number;
}

/**
 * Splits `totalCalls` across problems to maximise the expected number solved; every problem first gets
 * `minCalls`, the rest go one at a time to the largest marginal gain (ties to the earlier problem).
 *
 * @example
 * allocateBudget([{ problemId: 'a', rounds: [{ n: 4, correct: 4 }] }, { problemId: 'b', rounds: [{ n: 4, correct: 1 }] }], { totalCalls: 20 })
 * // → a: solved-always, best-of-n, 4 calls; b: medium, mcts, 16 calls
 */
export function allocateBudget(problems: readonly ProblemHistory[], options: AllocationOptions): Allocation[] {
  const maxCalls = options.maxCalls ?? 256;
  const minCalls = Math.min(options.minCalls ?? 1, maxCalls);
  const strategies = { ...DEFAULT_STRATEGIES, ...options.strategies };
  const est = problems.map((p) => estimateDifficulty(p.rounds, options));
  const calls = problems.map(() => 0);
  const miss = est.map(() => 1);
  let left = Math.max(0, Math.floor(options.totalCalls));

  const give = (i: number) => {
    miss[i]! *= (est[i]!.beta + calls[i]!) / (est[i]!.alpha + est[i]!.beta + calls[i]!);
    calls[i]!++;
    left--;
  };
  // The floor first, easiest-to-solve first when even that does not fit.
  const order = problems.map((_, i) => i).sort((a, b) => est[b]!.solveRate - est[a]!.solveRate || a - b);
  for (let round = 0; round < minCalls; round++) for (const i of order) if (left > 0) give(i);

  // Then the largest marginal gain: miss[i] · alpha / (alpha + beta + k). A binary heap keeps it O(total · log n).
  const gain = (i: number) => (calls[i]! >= maxCalls ? -1 : (miss[i]! * est[i]!.alpha) / (est[i]!.alpha + est[i]!.beta + calls[i]!));
  const heap = new GainHeap(problems.length, gain);
  while (left > 0 && heap.size > 0) {
    const i = heap.top();
    if (gain(i) < 0) break;
    give(i);
    heap.update(i);
  }

  return problems.map((p, i) => ({
    problemId: p.problemId,
    bin: est[i]!.bin,
    strategy: strategies[est[i]!.bin],
    calls: calls[i]!,
    solveRate: est[i]!.solveRate,
    expectedSolve: 1 - miss[i]!,
  }));
}

/** A max-heap of problem indices by a gain that changes only for the index just served. Ties: lower index first. */
class GainHeap {
  private readonly items: number[];
  private readonly pos: number[];

  constructor(
    n: number,
    private readonly gain: (i: number) => number,
  ) {
    this.items = Array.from({ length: n }, (_, i) => i);
    this.pos = Array.from({ length: n }, (_, i) => i);
    for (let k = Math.floor(n / 2) - 1; k >= 0; k--) this.down(k);
  }

  get size(): number {
    return this.items.length;
  }

  top(): number {
    return this.items[0]!;
  }

  /** Restores order after item i's gain fell. */
  update(i: number): void {
    this.down(this.pos[i]!);
  }

  private before(a: number, b: number): boolean {
    const ga = this.gain(a);
    const gb = this.gain(b);
    return ga > gb || (ga === gb && a < b);
  }

  private down(k: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * k + 1;
      const r = l + 1;
      let best = k;
      if (l < n && this.before(this.items[l]!, this.items[best]!)) best = l;
      if (r < n && this.before(this.items[r]!, this.items[best]!)) best = r;
      if (best === k) return;
      this.swap(k, best);
      k = best;
    }
  }

  private swap(a: number, b: number): void {
    [this.items[a], this.items[b]] = [this.items[b]!, this.items[a]!];
    this.pos[this.items[a]!] = a;
    this.pos[this.items[b]!] = b;
  }
}

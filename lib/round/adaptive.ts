/** Difficulty-adaptive budgets of a round: the rows to store per train problem, from their solve history. */
import type { RunConfig } from '../../config/schema.js';
import { allocateBudget, type DifficultyBin, type ProblemHistory } from '../search/budget.js';

export interface ProblemBudgetPlan {
  problemId: number;
  bin: DifficultyBin;
  solveRate: number;
  samples: number;
  /** `none`: sampling only; else the step-search strategy that spends `searchBudget`. */
  strategy: string;
  searchBudget: number;
}

/** Samples drawn and verified correct per train problem and earlier round (any order). */
export interface SolveCounts {
  problemId: number;
  round: number;
  n: number;
  c: number;
}

/**
 * The uniform plan's total (problems × samples, plus the search budget when step search is on) split by each
 * problem's solve history. Problems binned for search get a few samples and the rest of their calls as search
 * budget.
 */
export function planAdaptiveBudgets(config: RunConfig, problemIds: readonly number[], history: readonly SolveCounts[]): ProblemBudgetPlan[] {
  const byProblem = new Map<number, SolveCounts[]>();
  for (const h of history) byProblem.set(h.problemId, [...(byProblem.get(h.problemId) ?? []), h]);
  const histories: ProblemHistory[] = problemIds.map((id) => ({
    problemId: id,
    rounds: (byProblem.get(id) ?? []).sort((a, b) => a.round - b.round).map(({ n, c }) => ({ n, correct: c })),
  }));
  const step = config.search.step;
  const searching = step.strategy !== 'none';
  const allocations = allocateBudget(histories, {
    totalCalls: problemIds.length * config.generate.samplesPerProblem,
    minCalls: config.adaptive.minSamples,
    maxCalls: config.adaptive.maxSamples + (searching ? (step.trainBudget ?? step.budget) : 0),
    ...(searching ? {} : { strategies: { 'solved-always': 'best-of-n', easy: 'best-of-n', medium: 'best-of-n', hard: 'best-of-n', unseen: 'best-of-n' } }),
  });
  return allocations.map((a) => {
    const sampling = a.strategy === 'best-of-n' || a.strategy === 'majority';
    const samples = sampling ? Math.min(a.calls, config.adaptive.maxSamples) : Math.min(a.calls, config.adaptive.minSamples);
    return {
      problemId: Number(a.problemId),
      bin: a.bin,
      solveRate: a.solveRate,
      samples: Math.max(1, samples),
      strategy: sampling ? 'none' : a.strategy,
      searchBudget: sampling ? 0 : Math.max(0, a.calls - samples),
    };
  });
}

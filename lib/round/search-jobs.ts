/** Which problems of a shard step-level search works on, with which strategy and budget. */
import type { RunConfig } from '../../config/schema.js';
import type { BudgetUnit, SearchOutcome, StrategyName } from '../search/types.js';
import type { Verdict } from '../verify/types.js';
import type { Purpose } from './stages.js';

export interface SearchJob<P> {
  problem: P;
  strategy: StrategyName;
  budget: number;
  /** Adaptive plans split calls; a uniform budget counts `search.step.budgetUnit`. */
  budgetUnit: BudgetUnit;
}

/**
 * Held-out problems: all of them when `search.step.eval` is on. Train problems: as the adaptive plan decided per
 * problem (`budgets`, when the round has one), else all, or those no sample solved (`solved`), per `search.step.train`.
 */
export function planSearchJobs<P extends { id: number }>(
  config: RunConfig,
  purpose: Purpose,
  problems: readonly P[],
  budgets: ReadonlyMap<number, { searchBudget: number; strategy: string }>,
  solved: ReadonlySet<number>,
): Array<SearchJob<P>> {
  const step = config.search.step;
  if (step.strategy === 'none') return [];
  const strategy: StrategyName = step.strategy;
  const budget = purpose === 'train' ? (step.trainBudget ?? step.budget) : step.budget;
  const uniform = (list: readonly P[]) => list.map((problem) => ({ problem, strategy, budget, budgetUnit: step.budgetUnit }));
  if (purpose === 'eval') return step.eval ? uniform(problems) : [];
  if (budgets.size > 0) {
    return problems.flatMap((problem) => {
      const b = budgets.get(problem.id);
      return b && b.searchBudget > 0 && b.strategy !== 'none' ? [{ problem, strategy: b.strategy as StrategyName, budget: b.searchBudget, budgetUnit: 'calls' as const }] : [];
    });
  }
  if (step.train === 'none') return [];
  if (step.train === 'all') return uniform(problems);
  return uniform(problems.filter((p) => !solved.has(p.id)));
}

export interface SearchTraceToStore {
  text: string;
  score: number;
  verdict: Verdict;
  flags: Record<string, unknown>;
}

/**
 * What a search leaves in Postgres: on held-out problems only the chosen trace; on train problems every finished
 * trace (each a real model generation), so training can use all that search found. Every stored trace gets a
 * verdict: those the search did not verify are verified by `verify` (the verify stage has run). `chosen` is the
 * index of the trace the search answered with, flagged with the search's details.
 */
export async function searchTracesToStore(
  outcome: SearchOutcome,
  purpose: Purpose,
  verify: (text: string) => Promise<Verdict>,
): Promise<{ traces: SearchTraceToStore[]; chosen: number | null }> {
  const keep = purpose === 'eval' ? outcome.traces.filter((t) => t.text === outcome.text).slice(0, 1) : outcome.traces;
  const index = keep.findIndex((t) => t.text === outcome.text);
  const chosen = index === -1 ? null : index;
  const traces = await Promise.all(
    keep.map(async (trace, i) => ({
      text: trace.text,
      score: trace.score,
      verdict: trace.verdict ?? (trace.text === outcome.text ? outcome.verdict : null) ?? (await verify(trace.text)),
      flags: i === chosen ? { search: { chosen: true, ...outcome.detail } } : {},
    })),
  );
  return { traces, chosen };
}

/**
 * The evaluate stage's numbers: held-out greedy pass@1, unbiased pass@k and maj@k of a model, the coverage curve
 * and its fit, and accuracy with step-level search, from each problem's verified samples.
 */
import type { RunConfig } from '../../config/schema.js';
import { majorityVote } from '../search/vote.js';
import { coverageCurve, fitCoverage, samplingStopsPaying } from './coverage.js';
import { passAtK } from './pass-at-k.js';

export interface EvalSummary {
  model: string;
  problems: number;
  greedyPassAt1: number | null;
  passAtK: Record<string, number>;
  majAtK: Record<string, number>;
  /** Mean pass@k at k = 1, 2, 4, ... n and the fit c(k) = exp(a·k^b) (Brown et al. 2024), when it can be fitted. */
  coverage: {
    points: Array<{ k: number; coverage: number }>;
    fit: { a: number; b: number; r2: number } | null;
    /** The k from which doubling the samples gains less than one point of coverage (by the fit). */
    stopsPayingAt: number | null;
  } | null;
  /** The model with step-level search on the same held-out problems, and the compute it spent. */
  search: { strategy: string; budget: number; accuracy: number; meanCalls: number; verifiedDuringSearch: boolean } | null;
}

/** One verified held-out sample of a problem. */
export interface EvalSample {
  strategy: string;
  sampleIndex: number;
  answer: string | null;
  correct: boolean;
}

/** One number the evaluate stage stores (`evals`): `strategy` is `none` for the model alone. */
export interface EvalMetric {
  metric: string;
  k: number;
  value: number;
  strategy: string;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/**
 * Scores a model from its held-out samples per problem and, when step search ran on held-out problems, the search
 * outcome per problem (`search`: whether the chosen trace was correct, and the calls spent).
 */
export function summarizeEval(
  config: RunConfig,
  model: string,
  problems: ReadonlyMap<number, readonly EvalSample[]>,
  search: { outcomes: ReadonlyArray<{ calls: number; correct: boolean }>; verifiedDuringSearch: boolean } | null,
): { summary: EvalSummary; metrics: EvalMetric[] } {
  const count = problems.size;
  const metrics: EvalMetric[] = [];
  const push = (metric: string, k: number, value: number, strategy = 'none') => metrics.push({ metric, k, value, strategy });
  const summary: EvalSummary = { model, problems: count, greedyPassAt1: null, passAtK: {}, majAtK: {}, coverage: null, search: null };

  if (config.evaluate.greedy) {
    summary.greedyPassAt1 = mean([...problems.values()].map((s) => (s.find((x) => x.strategy === 'greedy')?.correct ? 1 : 0)));
    push('greedy_pass@1', 1, summary.greedyPassAt1);
  }
  if (config.evaluate.samples > 0) {
    const sampled = [...problems.values()].map((s) => s.filter((x) => x.strategy === 'sample'));
    for (const k of config.evaluate.k) {
      // pass@k needs at least k samples of a problem; config validation guarantees evaluate.samples >= k.
      const enough = sampled.filter((s) => s.length >= k);
      const pass = mean(enough.map((s) => passAtK(s.length, s.filter((x) => x.correct).length, k)));
      const maj = mean(
        sampled.map((s) => {
          const firstK = s.slice(0, k);
          const vote = majorityVote(firstK.map((x) => ({ index: x.sampleIndex, answer: x.answer })));
          return firstK.find((x) => x.sampleIndex === vote.index)?.correct ? 1 : 0;
        }),
      );
      summary.passAtK[String(k)] = pass;
      summary.majAtK[String(k)] = maj;
      push('pass@k', k, pass);
      push('maj@k', k, maj);
    }
    const counts = sampled.filter((s) => s.length > 0).map((s) => ({ n: s.length, c: s.filter((x) => x.correct).length }));
    if (counts.length) {
      const points = coverageCurve(counts);
      const fit = fitCoverage(points);
      summary.coverage = {
        points,
        fit: fit && { a: fit.a, b: fit.b, r2: fit.r2 },
        stopsPayingAt: fit ? samplingStopsPaying(fit, 0.01, { maxK: 2 ** 20 }) : null,
      };
      for (const p of points) push('coverage', p.k, p.coverage);
    }
  }
  const step = config.search.step;
  if (step.strategy !== 'none' && step.eval && search) {
    const { outcomes } = search;
    const accuracy = count ? outcomes.filter((o) => o.correct).length / count : 0;
    const meanCalls = outcomes.length ? outcomes.reduce((sum, o) => sum + o.calls, 0) / outcomes.length : 0;
    summary.search = { strategy: step.strategy, budget: step.budget, accuracy, meanCalls, verifiedDuringSearch: search.verifiedDuringSearch };
    push('search_accuracy', step.budget, accuracy, step.strategy);
    push('search_calls', step.budget, meanCalls, step.strategy);
  }
  return { summary, metrics };
}

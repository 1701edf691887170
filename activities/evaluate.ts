/**
 * Scoring the evaluate stage: held-out greedy pass@1, unbiased pass@k and maj@k of the round's model, from the
 * eval traces the fan-out generated and verified. Stored in `evals`, one row per metric and k.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import type { NewEval } from '../db/evals.js';
import { upsertEvals } from '../db/evals.js';
import { getRoundContext, mergeRoundStats } from '../db/rounds.js';
import { verifiedSamples } from '../db/traces.js';
import { coverageCurve, fitCoverage, passAtK, samplingStopsPaying } from '../lib/metrics/index.js';
import { majorityVote } from '../lib/search/vote.js';
import type { ActivityDeps } from './deps.js';
import { byProblem } from './search.js';
import { verifiesAtEval } from './search-step.js';

/** Per held-out problem: whether the trace the search chose was verified correct, and the calls it spent. */
async function searchOutcomes(db: Db, roundId: number, strategy: string, verifier: { name: string; version: string }) {
  const res = await db.execute(sql`
    SELECT s.problem_id, s.calls, coalesce(v.correct, false) AS correct
    FROM flywheel.search_results s
    LEFT JOIN flywheel.verdicts v ON v.trace_id = s.trace_id AND v.verifier = ${verifier.name} AND v.verifier_version = ${verifier.version}
    WHERE s.round_id = ${roundId} AND s.purpose = 'eval' AND s.strategy = ${strategy}`);
  return (res.rows as Array<{ calls: number; correct: boolean }>).map((r) => ({ calls: Number(r.calls), correct: Boolean(r.correct) }));
}

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

export function evaluateActivities(deps: ActivityDeps) {
  return {
    async scoreEval({ roundId }: { roundId: number }): Promise<EvalSummary> {
      const { db } = deps;
      const { round, config } = await getRoundContext(db, roundId);
      const model = round.model!;
      const verifier = deps.verifier(config.verifier, config.model);
      const problems = byProblem(await verifiedSamples(db, round.id, 'eval', verifier));
      const count = problems.size;
      const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
      const rows: NewEval[] = [];
      const base = { roundId, model, split: 'test', strategy: 'none', problems: count };

      let greedyPassAt1: number | null = null;
      if (config.evaluate.greedy) {
        greedyPassAt1 = mean([...problems.values()].map((s) => (s.find((x) => x.strategy === 'greedy')?.correct ? 1 : 0)));
        rows.push({ ...base, metric: 'greedy_pass@1', k: 1, value: greedyPassAt1 });
      }
      const summary: EvalSummary = { model, problems: count, greedyPassAt1, passAtK: {}, majAtK: {}, coverage: null, search: null };
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
          rows.push({ ...base, metric: 'pass@k', k, value: pass }, { ...base, metric: 'maj@k', k, value: maj });
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
          for (const p of points) rows.push({ ...base, metric: 'coverage', k: p.k, value: p.coverage });
        }
      }
      const step = config.search.step;
      if (step.strategy !== 'none' && step.eval) {
        const outcomes = await searchOutcomes(db, roundId, step.strategy, verifier);
        const accuracy = count ? outcomes.filter((o) => o.correct).length / count : 0;
        const meanCalls = outcomes.length ? outcomes.reduce((sum, o) => sum + o.calls, 0) / outcomes.length : 0;
        summary.search = { strategy: step.strategy, budget: step.budget, accuracy, meanCalls, verifiedDuringSearch: verifiesAtEval(config) };
        const at = { ...base, strategy: step.strategy, k: step.budget };
        rows.push({ ...at, metric: 'search_accuracy', value: accuracy }, { ...at, metric: 'search_calls', value: meanCalls });
      }
      await upsertEvals(db, rows);
      await mergeRoundStats(db, roundId, { eval: summary });
      return summary;
    },
  };
}

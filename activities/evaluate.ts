/**
 * Scoring the evaluate stage: held-out greedy pass@1, unbiased pass@k and maj@k of the round's model, from the
 * eval traces the fan-out generated and verified. Stored in `evals`, one row per metric and k.
 */
import type { NewEval } from '../db/evals.js';
import { upsertEvals } from '../db/evals.js';
import { getRoundContext, mergeRoundStats } from '../db/rounds.js';
import { verifiedSamples } from '../db/traces.js';
import { passAtK } from '../lib/metrics/index.js';
import { majorityVote } from '../lib/search/vote.js';
import type { ActivityDeps } from './deps.js';
import { byProblem } from './search.js';

export interface EvalSummary {
  model: string;
  problems: number;
  greedyPassAt1: number | null;
  passAtK: Record<string, number>;
  majAtK: Record<string, number>;
}

export function evaluateActivities(deps: ActivityDeps) {
  return {
    async scoreEval({ roundId }: { roundId: number }): Promise<EvalSummary> {
      const { db } = deps;
      const { round, config } = await getRoundContext(db, roundId);
      const model = round.model!;
      const verifier = deps.verifier(config.verifier, deps.modelEndpoint(config.model));
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
      const summary: EvalSummary = { model, problems: count, greedyPassAt1, passAtK: {}, majAtK: {} };
      if (config.evaluate.samples > 0) {
        const sampled = [...problems.values()].map((s) => s.filter((x) => x.strategy === 'sample'));
        for (const k of config.evaluate.k) {
          const pass = mean(sampled.map((s) => passAtK(s.length, s.filter((x) => x.correct).length, k)));
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
      }
      await upsertEvals(db, rows);
      await mergeRoundStats(db, roundId, { eval: summary });
      return summary;
    },
  };
}

/**
 * Scoring the evaluate stage (lib/metrics/eval-summary.ts) from the eval traces the fan-out generated, verified and
 * searched; stored in `evals`, one row per metric and k, and in the round's stats.
 */
import { upsertEvals } from '../db/evals.js';
import { getRoundContext, mergeRoundStats } from '../db/rounds.js';
import { evalSearchOutcomes } from '../db/search.js';
import { verifiedSamples } from '../db/traces.js';
import { summarizeEval, type EvalSummary } from '../lib/metrics/eval-summary.js';
import { samplingModel } from '../lib/round/purpose.js';
import { groupByProblem, verifiesAtEval } from '../lib/round/samples.js';
import type { ActivityDeps } from './deps.js';

export type { EvalSummary };

export function evaluateActivities(deps: ActivityDeps) {
  return {
    async scoreEval({ roundId }: { roundId: number }): Promise<EvalSummary> {
      const { db } = deps;
      const { round, config } = await getRoundContext(db, roundId);
      const model = samplingModel(round, 'eval');
      const verifier = deps.verifier(config.verifier, config.model);
      const problems = groupByProblem(await verifiedSamples(db, round.id, 'eval', verifier));
      const step = config.search.step;
      const search =
        step.strategy !== 'none' && step.eval
          ? { outcomes: await evalSearchOutcomes(db, roundId, step.strategy, verifier), verifiedDuringSearch: verifiesAtEval(config) }
          : null;
      const { summary, metrics } = summarizeEval(config, model, problems, search);
      await upsertEvals(db, metrics.map((m) => ({ roundId, model, split: 'test', problems: problems.size, ...m })));
      await mergeRoundStats(db, roundId, { eval: summary });
      return summary;
    },
  };
}

/**
 * The promote stage: the candidate this round trained becomes the current model only when the gate holds
 * (held-out greedy pass@1 at least the current model's plus `promote.minImprovement`). Either way the round
 * records which model samples next (`rounds.sampler`).
 */
import { latestMetric } from '../db/evals.js';
import { getRoundContext, mergeRoundStats, startingModel, updateRound } from '../db/rounds.js';
import { promoteModel } from '../db/runs.js';
import { promotionGate } from '../lib/round/promotion.js';
import type { ActivityDeps } from './deps.js';

export function promoteActivities(deps: ActivityDeps) {
  return {
    async promote({ roundId }: { roundId: number }) {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, roundId);
      const current = await startingModel(db, run.id, round.index);
      const candidate = round.model ?? current;
      const gate = promotionGate({
        candidate,
        current,
        before: await latestMetric(db, run.id, current, 'greedy_pass@1'),
        after: await latestMetric(db, run.id, candidate, 'greedy_pass@1'),
        minImprovement: config.promote.minImprovement,
      });
      const sampler = gate.promoted ? candidate : current;
      if (gate.promoted) await promoteModel(db, run.id, candidate);
      await updateRound(db, roundId, { sampler });
      await mergeRoundStats(db, roundId, { promote: gate });
      return { promoted: gate.promoted, model: sampler };
    },
  };
}

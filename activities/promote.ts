/**
 * The promote stage: the candidate this round trained becomes the current model only when the gate holds
 * (held-out greedy pass@1 at least the current model's plus `promote.minImprovement`). Either way the round
 * records which model samples next (`rounds.sampler`).
 */
import { latestMetric } from '../db/evals.js';
import { getRoundContext, mergeRoundStats, updateRound } from '../db/rounds.js';
import { promoteModel } from '../db/runs.js';
import type { ActivityDeps } from './deps.js';
import { startModel } from './round.js';

export function promoteActivities(deps: ActivityDeps) {
  return {
    async promote({ roundId }: { roundId: number }) {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, roundId);
      const current = await startModel(deps, run.id, round.index);
      const candidate = round.model ?? current;
      const before = await latestMetric(db, run.id, current, 'greedy_pass@1');
      const after = await latestMetric(db, run.id, candidate, 'greedy_pass@1');
      const promoted =
        candidate !== current && (before === null || (after !== null && after >= before + config.promote.minImprovement));
      const sampler = promoted ? candidate : current;
      if (promoted) await promoteModel(db, run.id, candidate);
      await updateRound(db, roundId, { sampler });
      const gate = { promoted, candidate, current, before, after, minImprovement: config.promote.minImprovement };
      await mergeRoundStats(db, roundId, { promote: gate });
      return { promoted, model: sampler };
    },
  };
}

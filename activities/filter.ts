/**
 * The filter stage: the round's training sets, built in SQL from what earlier rounds verified: the policy's (traces)
 * and the process reward model's (step labels of step-level search).
 */
import { buildDataset, type DatasetFilter } from '../db/datasets.js';
import { buildPrmDataset } from '../db/prm-dataset.js';
import { getRoundContext, mergeRoundStats } from '../db/rounds.js';
import type { ActivityDeps } from './deps.js';

export function filterActivities(deps: ActivityDeps) {
  return {
    async filterRound({ roundId }: { roundId: number }) {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, roundId);
      const verifier = deps.verifier(config.verifier, config.model);
      const filter: DatasetFilter = {
        fromRound: Math.max(0, round.index - config.filter.window),
        toRound: round.index - 1,
        verifier: verifier.name,
        verifierVersion: verifier.version,
        correctOnly: config.filter.correctOnly,
        minScore: config.filter.minScore,
        dedupe: config.filter.dedupe,
        maxPerProblem: config.filter.maxPerProblem,
        rationalized: config.filter.rationalized,
      };
      const dataset = await buildDataset(db, run.id, round.index, filter);
      const prmDataset = await buildPrmDataset(db, roundId);
      await mergeRoundStats(db, roundId, { dataset, prmDataset });
      return { ...dataset, prm: prmDataset };
    },
  };
}

/**
 * The search stage over a round's samples (lib/search/rank-samples.ts): best-of-N (with the configured scorer) and
 * majority vote per problem, stored in `search_results`, with each trace's search score on the trace itself.
 */
import { getRoundContext, mergeRoundStats } from '../db/rounds.js';
import { setTraceScores, upsertSearchResults, verifiedSamples } from '../db/traces.js';
import { groupByProblem } from '../lib/round/samples.js';
import type { Purpose } from '../lib/round/stages.js';
import { rankSamples } from '../lib/search/rank-samples.js';
import type { ActivityDeps } from './deps.js';

export function searchActivities(deps: ActivityDeps) {
  return {
    async searchRound({ roundId, purpose }: { roundId: number; purpose: Purpose }) {
      const { db } = deps;
      const { round, config } = await getRoundContext(db, roundId);
      const verifier = deps.verifier(config.verifier, config.model);
      const rows = (await verifiedSamples(db, round.id, purpose, verifier)).filter((s) => s.strategy === 'sample');
      const problems = groupByProblem(rows);
      const { picks, scores, solved } = rankSamples(problems, config.search.strategies, config.search.scorer);
      await setTraceScores(db, scores);
      await upsertSearchResults(db, picks.map((p) => ({ roundId, purpose, ...p })));
      const n = problems.size || 1;
      const search = { problems: problems.size, bestOfN: solved['best-of-n'] / n, majority: solved.majority / n, scorer: config.search.scorer };
      await mergeRoundStats(db, roundId, { search });
      return search;
    },
  };
}

/**
 * The search stage over a round's samples (lib/search/rank-samples.ts): best-of-N (with the configured scorer) and
 * majority vote per problem, stored in `search_results`, with each trace's search score on the trace itself. The
 * round's samples are streamed and ranked 1,000 problems at a time, so a round of millions is never in memory.
 */
import { getRoundContext, mergeRoundStats } from '../db/rounds.js';
import { setTraceScores, streamVerifiedSamples, upsertSearchResults } from '../db/traces.js';
import { problemBatches } from '../lib/round/samples.js';
import type { Purpose } from '../lib/round/stages.js';
import { rankSamples } from '../lib/search/rank-samples.js';
import type { ActivityDeps } from './deps.js';

export function searchActivities(deps: ActivityDeps) {
  return {
    async searchRound({ roundId, purpose }: { roundId: number; purpose: Purpose }) {
      const { db } = deps;
      const { round, config } = await getRoundContext(db, roundId);
      const verifier = deps.verifier(config.verifier, config.model);
      const solved = { problems: 0, 'best-of-n': 0, majority: 0 };
      for await (const problems of problemBatches(streamVerifiedSamples(db, round.id, purpose, 'sample', verifier), 1000)) {
        const ranked = rankSamples(problems, config.search.strategies, config.search.scorer);
        await setTraceScores(db, ranked.scores);
        await upsertSearchResults(db, ranked.picks.map((p) => ({ roundId, purpose, ...p })));
        solved.problems += problems.size;
        solved['best-of-n'] += ranked.solved['best-of-n'];
        solved.majority += ranked.solved.majority;
      }
      const n = solved.problems || 1;
      const search = { problems: solved.problems, bestOfN: solved['best-of-n'] / n, majority: solved.majority / n, scorer: config.search.scorer };
      await mergeRoundStats(db, roundId, { search });
      return search;
    },
  };
}

/**
 * The search stage over a round's samples: best-of-N (with the configured scorer) and majority vote per problem,
 * stored in `search_results`, with each trace's search score on the trace itself.
 */
import { getRoundContext, mergeRoundStats } from '../db/rounds.js';
import { setTraceScores, upsertSearchResults, verifiedSamples, type NewSearchResult, type VerifiedSample } from '../db/traces.js';
import { bestOfN, majorityVote, scoreSamples, type ScoredSample } from '../lib/search/vote.js';
import type { Purpose } from '../workflows/shared.js';
import type { ActivityDeps } from './deps.js';

/** Groups rows (ordered by problem) into one list per problem. */
export function byProblem<T extends { problemId: number }>(rows: readonly T[]): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const r of rows) {
    const list = out.get(r.problemId);
    if (list) list.push(r);
    else out.set(r.problemId, [r]);
  }
  return out;
}

const asScored = (s: VerifiedSample): ScoredSample => ({
  index: s.sampleIndex,
  answer: s.answer,
  logprob: s.logprob,
  verifierScore: s.score,
});

export function searchActivities(deps: ActivityDeps) {
  return {
    async searchRound({ roundId, purpose }: { roundId: number; purpose: Purpose }) {
      const { db } = deps;
      const { round, config } = await getRoundContext(db, roundId);
      const verifier = deps.verifier(config.verifier, config.model);
      const rows = (await verifiedSamples(db, round.id, purpose, verifier)).filter((s) => s.strategy === 'sample');
      const results: NewSearchResult[] = [];
      const scores: Array<{ traceId: number; score: number }> = [];
      const solved = { 'best-of-n': 0, majority: 0 };
      const problems = byProblem(rows);
      for (const [problemId, samples] of problems) {
        const scored = samples.map(asScored);
        const tokens = samples.reduce((s, x) => s + x.completionTokens, 0);
        const common = { roundId, problemId, purpose, calls: samples.length, tokens };
        if (config.search.strategies.includes('best-of-n')) {
          const values = scoreSamples(scored, config.search.scorer);
          values.forEach((score, i) => scores.push({ traceId: samples[i].traceId, score }));
          const pick = samples[bestOfN(scored, values)];
          results.push({ ...common, strategy: 'best-of-n', traceId: pick.traceId, answer: pick.answer, votes: 0 });
          if (pick.correct) solved['best-of-n']++;
        }
        if (config.search.strategies.includes('majority')) {
          const vote = majorityVote(scored);
          const pick = samples.find((s) => s.sampleIndex === vote.index) ?? null;
          results.push({ ...common, strategy: 'majority', traceId: pick?.traceId ?? null, answer: vote.answer, votes: vote.votes });
          if (pick?.correct) solved.majority++;
        }
      }
      await setTraceScores(db, scores);
      await upsertSearchResults(db, results);
      const n = problems.size || 1;
      const stats = {
        search: { problems: problems.size, bestOfN: solved['best-of-n'] / n, majority: solved.majority / n, scorer: config.search.scorer },
      };
      await mergeRoundStats(db, roundId, stats);
      return stats.search;
    },
  };
}

/** The search stage over a round's samples: best-of-N and majority vote per problem, and each sample's score. */
import { bestOfN, majorityVote, scoreSamples, type ScoredSample } from './vote.js';

export interface RankedSample {
  traceId: number;
  problemId: number;
  sampleIndex: number;
  logprob: number | null;
  completionTokens: number;
  answer: string | null;
  score: number;
  correct: boolean;
}

/** A trace of a round with its verdict, as db/traces.ts `verifiedSamples` reads it: a ranked sample and its strategy. */
export interface VerifiedSample extends RankedSample {
  /** 'sample', 'greedy', or a search strategy such as 'mcts'. */
  strategy: string;
}

export interface ProblemPick {
  problemId: number;
  strategy: 'best-of-n' | 'majority';
  traceId: number | null;
  answer: string | null;
  votes: number;
  calls: number;
  tokens: number;
}

export type Scorer = Parameters<typeof scoreSamples>[1];

/**
 * Picks a trace per problem with each strategy, scores every sample with `scorer` (best-of-N), and counts the
 * problems each strategy solved. `problems` holds each problem's samples.
 */
export function rankSamples(
  problems: ReadonlyMap<number, readonly RankedSample[]>,
  strategies: ReadonlyArray<'best-of-n' | 'majority'>,
  scorer: Scorer,
): { picks: ProblemPick[]; scores: Array<{ traceId: number; score: number }>; solved: { 'best-of-n': number; majority: number } } {
  const picks: ProblemPick[] = [];
  const scores: Array<{ traceId: number; score: number }> = [];
  const solved = { 'best-of-n': 0, majority: 0 };
  for (const [problemId, samples] of problems) {
    const scored: ScoredSample[] = samples.map((s) => ({ index: s.sampleIndex, answer: s.answer, logprob: s.logprob, verifierScore: s.score }));
    const common = { problemId, calls: samples.length, tokens: samples.reduce((sum, x) => sum + x.completionTokens, 0) };
    if (strategies.includes('best-of-n')) {
      const values = scoreSamples(scored, scorer);
      values.forEach((score, i) => {
        const sample = samples[i];
        if (sample) scores.push({ traceId: sample.traceId, score });
      });
      const pick = samples[bestOfN(scored, values)];
      if (pick) {
        picks.push({ ...common, strategy: 'best-of-n', traceId: pick.traceId, answer: pick.answer, votes: 0 });
        if (pick.correct) solved['best-of-n']++;
      }
    }
    if (strategies.includes('majority')) {
      const vote = majorityVote(scored);
      const pick = samples.find((s) => s.sampleIndex === vote.index) ?? null;
      picks.push({ ...common, strategy: 'majority', traceId: pick?.traceId ?? null, answer: vote.answer, votes: vote.votes });
      if (pick?.correct) solved.majority++;
    }
  }
  return { picks, scores, solved };
}

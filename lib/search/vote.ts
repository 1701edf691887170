/**
 * Search over samples already drawn: majority vote and best-of-N. Both are pure functions of the samples, so the
 * same code ranks a round's training samples and computes maj@k on held-out ones.
 */
export interface ScoredSample {
  /** Position of the sample (ties go to the earliest). */
  index: number;
  /** The normalised final answer (null when the sample has none). */
  answer: string | null;
  /** Mean token log-probability, if known. */
  logprob?: number | null;
  /** The verifier's graded score, if known. */
  verifierScore?: number;
}

export interface VoteResult {
  answer: string | null;
  votes: number;
  /** The earliest sample that gave the winning answer (−1 when no sample had an answer). */
  index: number;
}

/**
 * The most frequent non-null answer; ties go to the answer that appeared first.
 *
 * @example majorityVote([{index: 0, answer: '4'}, {index: 1, answer: '5'}, {index: 2, answer: '5'}]) // → '5', 2 votes
 */
export function majorityVote(samples: readonly ScoredSample[]): VoteResult {
  const tally = new Map<string, { votes: number; first: number }>();
  for (const s of [...samples].sort((a, b) => a.index - b.index)) {
    if (s.answer === null) continue;
    const t = tally.get(s.answer);
    if (t) t.votes++;
    else tally.set(s.answer, { votes: 1, first: s.index });
  }
  let best: VoteResult = { answer: null, votes: 0, index: -1 };
  for (const [answer, t] of tally) {
    if (t.votes > best.votes || (t.votes === best.votes && t.first < best.index)) best = { answer, votes: t.votes, index: t.first };
  }
  return best;
}

export type Scorer = 'self-consistency' | 'logprob' | 'verifier';

/** Each sample's score under a scorer: agreement with the others, mean log-probability, or the graded verdict. */
export function scoreSamples(samples: readonly ScoredSample[], scorer: Scorer): number[] {
  if (scorer === 'logprob') return samples.map((s) => s.logprob ?? -Infinity);
  if (scorer === 'verifier') return samples.map((s) => s.verifierScore ?? 0);
  const counts = new Map<string, number>();
  for (const s of samples) if (s.answer !== null) counts.set(s.answer, (counts.get(s.answer) ?? 0) + 1);
  return samples.map((s) => (s.answer === null ? 0 : (counts.get(s.answer) ?? 0) / samples.length));
}

/** Best-of-N: the sample with the highest score (ties go to the earliest). Returns its position in `samples`. */
export function bestOfN(samples: readonly ScoredSample[], scores: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < samples.length; i++) {
    if (best < 0 || scores[i]! > scores[best]! || (scores[i] === scores[best] && samples[i]!.index < samples[best]!.index)) best = i;
  }
  return best;
}

/**
 * maj@k (majority voting, "self-consistency"): for one problem, take the first k samples in sample order, group
 * them by their normalised answer (samples without an answer do not vote), and pick the answer with the most
 * votes, ties going to the answer that appeared first. maj@k is 1 when that answer is a correct one, else 0 (also
 * when no sample of the k has an answer).
 */
import { createRng } from '../rng.js';

export interface VotedSample {
  /** The normalised answer (the verdict's `answer`), or null when the sample has none. */
  answer: string | null;
  correct: boolean;
}

export interface MajorityResult {
  answer: string | null;
  correct: boolean;
  /** Votes the winning answer got. */
  votes: number;
}

function assertK(k: number, n: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`maj@k needs a whole k >= 1, got ${k}`);
  if (k > n) throw new RangeError(`maj@${k} needs at least ${k} samples of the problem, it has ${n}: sample more, or ask for a smaller k`);
}

function majorityOf(samples: readonly VotedSample[]): MajorityResult {
  const tally = new Map<string, { votes: number; correct: boolean }>(); // insertion order = first appearance
  for (const s of samples) {
    if (s.answer === null) continue;
    const entry = tally.get(s.answer) ?? { votes: 0, correct: false };
    entry.votes++;
    entry.correct ||= s.correct;
    tally.set(s.answer, entry);
  }
  let best: MajorityResult = { answer: null, correct: false, votes: 0 };
  for (const [answer, entry] of tally) {
    if (entry.votes > best.votes) best = { answer, correct: entry.correct, votes: entry.votes };
  }
  return best;
}

/**
 * maj@k of one problem from its samples in sample order.
 *
 * @example
 * majAtK([{ answer: '3', correct: false }, { answer: '4', correct: true }, { answer: '4', correct: true }], 3)
 * // { answer: '4', correct: true, votes: 2 }
 */
export function majAtK(samples: readonly VotedSample[], k: number): MajorityResult {
  assertK(k, samples.length);
  return majorityOf(samples.slice(0, k));
}

export interface MeanMajOptions {
  /**
   * 0 (default): each problem's first k samples, exactly the definition above. R > 0: for problems with more than
   * k samples, the mean over R random k-subsets (kept in sample order), an estimate of the expected maj@k of k
   * fresh samples with less variance than the first k alone.
   */
  resamples?: number;
  /** Seed of the subset draws (default 0), so the number is reproducible. */
  seed?: number;
}

/** Mean maj@k over problems (each a list of samples in sample order). Throws on an empty list. */
export function meanMajAtK(problems: ReadonlyArray<readonly VotedSample[]>, k: number, options: MeanMajOptions = {}): number {
  if (problems.length === 0) throw new RangeError('mean maj@k over no problems: evaluate at least one problem');
  const resamples = options.resamples ?? 0;
  const rng = createRng(options.seed ?? 0);
  let sum = 0;
  for (const samples of problems) {
    assertK(k, samples.length);
    if (resamples <= 0 || samples.length === k) {
      sum += majorityOf(samples.slice(0, k)).correct ? 1 : 0;
      continue;
    }
    let hits = 0;
    for (let r = 0; r < resamples; r++) {
      // A uniform k-subset (partial Fisher-Yates), then back in sample order for the tie-break.
      const indices = samples.map((_, i) => i);
      for (let i = 0; i < k; i++) {
        const j = i + Math.floor(rng() * (indices.length - i));
        [indices[i], indices[j]] = [indices[j]!, indices[i]!];
      }
      const subset = indices.slice(0, k).sort((a, b) => a - b).map((i) => samples[i]!);
      if (majorityOf(subset).correct) hits++;
    }
    sum += hits / resamples;
  }
  return sum / problems.length;
}

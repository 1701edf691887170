/**
 * Majority vote (maj@k): draw k whole traces and answer with the most frequent answer. It never looks at a
 * verdict, so it works on problems without a reference answer: in pseudo-label mode the majority answer becomes
 * the problem's label, with the agreement (votes / samples) as its confidence.
 */
import { majorityVote, type ScoredSample } from './vote.js';
import { TraceJudge } from './judge.js';
import { CallMeter } from './meter.js';
import { sequenceText } from './samplers.js';
import type { CommonSearchOptions, SearchOutcome, SearchProblem, TraceSampler } from './types.js';

export interface MajorityOptions extends Omit<CommonSearchOptions, 'verifyDuringSearch'> {
  sampler: TraceSampler;
  /** k; default (and at most) the budget in calls; in tokens, as many as the budget pays for. */
  n?: number;
  /** Default 1. */
  temperature?: number;
  /** Samples per request; default all k (in requests of at most maxN). */
  batch?: number;
  /** Default 128. */
  maxN?: number;
  /** Stop drawing once no remaining sample could change the winner; default true (saves calls only with `batch` < k). */
  stopWhenDecided?: boolean;
  /** Report the majority answer as the label; default: when the problem has no reference. */
  pseudoLabel?: boolean;
  answerOf?: (text: string) => string | null;
}

/**
 * @example
 * const { answer, detail } = await majoritySearch({ prompt }, { sampler, budget: 16 }); // detail.agreement: votes / samples
 */
export async function majoritySearch(problem: SearchProblem, options: MajorityOptions): Promise<SearchOutcome> {
  const meter = new CallMeter(options.budget, options.seed, options.signal, options.budgetUnit);
  const judge = new TraceJudge(problem, { ...options, verifyDuringSearch: false, source: 'self-consistency' }, meter);
  const n = Math.min(options.n ?? meter.sequencesLeft, meter.sequencesLeft);
  // In tokens the default batch is small: a batch shares what is left, and the first request measures a trace.
  const batch = Math.max(1, Math.min(options.batch ?? (meter.unit === 'tokens' ? 4 : n), options.maxN ?? 128));
  const samples: ScoredSample[] = [];
  let vote = majorityVote(samples);
  while (samples.length < n) {
    const k = meter.affordable(Math.min(batch, n - samples.length));
    if (k < 1) break;
    const generation = await meter.sample(options.sampler, problem.prompt, k, options.temperature ?? 1);
    const judged = await judge.judge(generation.sequences.map(sequenceText));
    for (const t of judged) samples.push({ index: samples.length, answer: t.answer });
    vote = majorityVote(samples);
    if ((options.stopWhenDecided ?? true) && meter.unit === 'calls' && decided(samples, vote, n - samples.length)) break;
  }
  const chosen = vote.index >= 0 ? judge.traces[vote.index]! : null;
  const pseudoLabel = options.pseudoLabel ?? (problem.reference === undefined || problem.reference === null);
  const agreement = samples.length ? vote.votes / samples.length : 0;
  for (const t of judge.traces) t.score = judge.agreement(t.answer);
  return judge.outcome('majority', chosen, {
    samples: samples.length,
    votes: vote.votes,
    agreement,
    distinctAnswers: new Set(samples.map((s) => s.answer).filter((a) => a !== null)).size,
    pseudoLabel: pseudoLabel ? vote.answer : null,
  });
}

/** True when the leader stays ahead whatever the remaining samples say (ties go to the earlier answer). */
function decided(samples: readonly ScoredSample[], vote: ReturnType<typeof majorityVote>, remaining: number): boolean {
  if (vote.answer === null) return remaining === 0;
  let runnerUp = 0;
  const counts = new Map<string, number>();
  for (const s of samples) if (s.answer !== null) counts.set(s.answer, (counts.get(s.answer) ?? 0) + 1);
  for (const [answer, c] of counts) if (answer !== vote.answer) runnerUp = Math.max(runnerUp, c);
  return vote.votes > runnerUp + remaining;
}

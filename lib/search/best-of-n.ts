/**
 * Best-of-N: draw N whole traces and keep the one a scorer ranks highest. Scorers: the verifier's graded score
 * (only with verifyDuringSearch), an outcome reward model, self-consistency (agreement with the other samples),
 * or the mean token log-probability. With the verifier, drawing stops at the first batch with a correct trace.
 */
import { bestOfN as pickBest, scoreSamples, type ScoredSample } from './vote.js';
import { TraceJudge, type ValueSource } from './judge.js';
import { CallMeter } from './meter.js';
import type { RewardModelClient } from './reward-model.js';
import { sequenceText } from './samplers.js';
import type { CommonSearchOptions, SearchOutcome, SearchProblem, TraceSampler } from './types.js';

export interface BestOfNOptions extends CommonSearchOptions {
  sampler: TraceSampler;
  scorer: ValueSource;
  /** Samples to draw; default (and at most) the budget in calls; in tokens, as many as the budget pays for. */
  n?: number;
  /** Default 1. */
  temperature?: number;
  /** Samples per request, the granularity of the early stop; default all N (in requests of at most maxN). */
  batch?: number;
  /** Most samples a server gives per request; default 128 (OpenAI's and the embedded server's cap). */
  maxN?: number;
  /** With the verifier scorer, stop drawing once a trace is verified correct; default true. */
  stopWhenCorrect?: boolean;
  rewardModel?: RewardModelClient;
  answerOf?: (text: string) => string | null;
}

/**
 * @example
 * const outcome = await bestOfNSearch({ prompt, reference }, {
 *   sampler: samplerFromStepModel(model), scorer: 'verifier', verifier: countdownVerifier, verifyDuringSearch: true, budget: 16,
 * });
 */
export async function bestOfNSearch(problem: SearchProblem, options: BestOfNOptions): Promise<SearchOutcome> {
  const meter = new CallMeter(options.budget, options.seed, options.signal, options.budgetUnit);
  const judge = new TraceJudge(problem, { ...options, source: options.scorer }, meter);
  const n = Math.min(options.n ?? meter.sequencesLeft, meter.sequencesLeft);
  // In tokens the default batch is small: a batch shares what is left, and the first request measures a trace.
  const batch = Math.max(1, Math.min(options.batch ?? (meter.unit === 'tokens' ? 4 : n), options.maxN ?? 128));
  const stopWhenCorrect = (options.stopWhenCorrect ?? true) && options.scorer === 'verifier';
  const scored: ScoredSample[] = [];
  while (scored.length < n) {
    const k = meter.affordable(Math.min(batch, n - scored.length));
    if (k < 1) break;
    const generation = await meter.sample(options.sampler, problem.prompt, k, options.temperature ?? 1);
    const texts = generation.sequences.map(sequenceText);
    const judged = await judge.judge(texts, generation.sequences.map((s) => s.meanLogprob));
    judged.forEach((t, i) => {
      scored.push({ index: scored.length, answer: t.answer, logprob: generation.sequences[i]!.meanLogprob, verifierScore: t.verdict?.score ?? 0 });
    });
    if (stopWhenCorrect && judge.firstCorrect()) break;
  }
  const scores = options.scorer === 'reward-model' ? judge.traces.map((t) => t.score) : scoreSamples(scored, options.scorer);
  judge.traces.forEach((t, i) => (t.score = scores[i]!));
  const pick = pickBest(scored, scores);
  return judge.outcome('best-of-n', pick >= 0 ? judge.traces[pick]! : null, { samples: scored.length, scorer: options.scorer });
}

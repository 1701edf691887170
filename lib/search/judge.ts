/**
 * Judges the finished traces of one search: their answer key, and their score from the verifier (only when
 * verifying during search), an outcome reward model, or self-consistency (agreement with the other traces). Keeps
 * every finished trace, picks the best, and builds the outcome, so every strategy reports the same way.
 */
import type { Verdict, Verifier } from '../verify/types.js';
import type { CallMeter } from './meter.js';
import type { RewardModelClient } from './reward-model.js';
import type { SearchOutcome, SearchProblem, SearchTrace, StrategyName } from './types.js';

export interface JudgeOptions {
  verifier?: Verifier;
  verifyDuringSearch?: boolean;
  /** Outcome reward model; used when not verifying during search. */
  rewardModel?: RewardModelClient;
  /**
   * The answer key of a trace (what votes group on). Default: the verifier's normalised `answer` when a verifier is
   * given (only that field is read unless verifying during search), else the text after the last `Answer:`.
   */
  answerOf?: (text: string) => string | null;
  /** Force where scores come from; default: the verifier when verifying, else the reward model, else agreement. */
  source?: ValueSource;
}

/**
 * Where a finished trace's score comes from: the verifier's graded score, a reward model, agreement with the
 * other traces, or the trace's mean token log-probability.
 */
export type ValueSource = 'verifier' | 'reward-model' | 'self-consistency' | 'logprob';

/** The text after the last `Answer:` line, or null. */
export function answerLine(text: string): string | null {
  const all = [...text.matchAll(/^\s*(?:final\s+)?answer\s*:\s*(.*)$/gim)];
  return all.length ? all[all.length - 1]![1]!.trim() || null : null;
}

export class TraceJudge {
  readonly source: ValueSource;
  readonly traces: SearchTrace[] = [];
  private readonly cache = new Map<string, { answer: string | null; verdict: Verdict | null }>();

  constructor(
    private readonly problem: SearchProblem,
    private readonly options: JudgeOptions,
    private readonly meter: CallMeter,
  ) {
    if (options.verifyDuringSearch && !options.verifier) {
      throw new Error('search: verifyDuringSearch is set but no verifier was given; pass `verifier`, or leave verifyDuringSearch false');
    }
    this.source = options.source ?? (options.verifyDuringSearch ? 'verifier' : options.rewardModel ? 'reward-model' : 'self-consistency');
    if (this.source === 'verifier' && !options.verifyDuringSearch) {
      throw new Error('search: scoring by the verifier needs verifyDuringSearch: true (and a verifier that needs nothing hidden)');
    }
    if (this.source === 'reward-model' && !options.rewardModel) {
      throw new Error('search: scoring by a reward model needs `rewardModel` (createRewardModelClient({ url }))');
    }
  }

  private async read(text: string): Promise<{ answer: string | null; verdict: Verdict | null }> {
    const hit = this.cache.get(text);
    if (hit) return hit;
    const { verifier, verifyDuringSearch, answerOf } = this.options;
    let verdict: Verdict | null = null;
    let answer: string | null;
    if (verifier && (verifyDuringSearch || !answerOf)) {
      try {
        verdict = await verifier.verify({ prompt: this.problem.prompt, reference: this.problem.reference ?? null, text });
      } catch (err) {
        if (verifyDuringSearch) throw err;
      }
    }
    if (answerOf) answer = answerOf(text);
    else answer = verdict ? verdict.answer : answerLine(text);
    const read = { answer, verdict: verifyDuringSearch ? verdict : null };
    this.cache.set(text, read);
    return read;
  }

  /**
   * Judges finished traces (one reward-model request for all of them where the format allows) and keeps them.
   * `logprobs` are the traces' mean token log-probabilities, for the `logprob` source.
   */
  async judge(texts: readonly string[], logprobs: ReadonlyArray<number | null> = []): Promise<SearchTrace[]> {
    const read = await Promise.all(texts.map((t) => this.read(t)));
    let scores: number[];
    if (this.source === 'verifier') scores = read.map((r) => r.verdict?.score ?? 0);
    else if (this.source === 'reward-model') {
      const res = await this.options.rewardModel!.score(this.problem.prompt, texts);
      this.meter.scorerCalls += res.requests;
      scores = res.scores;
    } else if (this.source === 'logprob') scores = texts.map((_, i) => logprobs[i] ?? -Infinity);
    else scores = read.map(() => 0);
    const judged = texts.map((text, i): SearchTrace => ({ text, answer: read[i]!.answer, score: scores[i]!, verdict: read[i]!.verdict }));
    this.traces.push(...judged);
    if (this.source === 'self-consistency') for (const t of judged) t.score = this.agreement(t.answer);
    return judged;
  }

  /** Share of the finished traces so far whose answer is `answer` (0 for no answer). */
  agreement(answer: string | null): number {
    if (answer === null || this.traces.length === 0) return 0;
    return this.traces.filter((t) => t.answer === answer).length / this.traces.length;
  }

  /** A trace the verifier accepted during search, if any. */
  firstCorrect(): SearchTrace | null {
    return this.traces.find((t) => t.verdict?.correct) ?? null;
  }

  /** The best finished trace: highest score (self-consistency recomputed over all traces), ties to the earliest. */
  best(): SearchTrace | null {
    if (this.source === 'self-consistency') for (const t of this.traces) t.score = this.agreement(t.answer);
    let best: SearchTrace | null = null;
    for (const t of this.traces) if (!best || t.score > best.score) best = t;
    return best;
  }

  /**
   * The finished trace a process reward model scores highest, its distinct texts scored in one request (counted as
   * scorer calls); ties go to the trace more traces agree with, then to the earliest. Null when none finished.
   */
  async bestByPrm(prm: RewardModelClient): Promise<SearchTrace | null> {
    const texts = [...new Set(this.traces.map((t) => t.text))];
    if (texts.length === 0) return null;
    const scored = await prm.score(this.problem.prompt, texts);
    this.meter.scorerCalls += scored.requests;
    const prmOf = new Map(texts.map((t, i) => [t, scored.scores[i] ?? 0]));
    let best: SearchTrace | null = null;
    for (const t of this.traces) {
      if (!best) best = t;
      else {
        const [a, b] = [prmOf.get(t.text)!, prmOf.get(best.text)!];
        if (a > b || (a === b && this.agreement(t.answer) > this.agreement(best.answer))) best = t;
      }
    }
    return best;
  }

  /** The outcome for a chosen trace; verifies it afterwards when a verifier was given but did not steer the search. */
  async outcome(strategy: StrategyName, chosen: SearchTrace | null, detail: SearchOutcome['detail']): Promise<SearchOutcome> {
    let verdict = chosen?.verdict ?? null;
    const { verifier, verifyDuringSearch } = this.options;
    if (chosen && verifier && !verifyDuringSearch) {
      try {
        verdict = await verifier.verify({ prompt: this.problem.prompt, reference: this.problem.reference ?? null, text: chosen.text });
      } catch {
        verdict = null; // e.g. no reference to judge against (pseudo-labelling)
      }
    }
    return {
      strategy,
      text: chosen?.text ?? null,
      answer: chosen?.answer ?? null,
      score: chosen?.score ?? 0,
      verdict,
      correct: verdict ? verdict.correct : null,
      calls: this.meter.calls,
      tokens: this.meter.tokens,
      promptTokens: this.meter.promptTokens,
      cachedPromptTokens: this.meter.cachedPromptTokens,
      budget: this.meter.budget,
      budgetUnit: this.meter.unit,
      scorerCalls: this.meter.scorerCalls,
      traces: this.traces,
      detail: { valueSource: this.source, ...detail },
    };
  }
}

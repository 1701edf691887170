/**
 * Step-level beam search: keep the best `width` partial traces; expand each (one step request), score the
 * children with a process scorer, keep the best `width`, until the traces are finished or the budget is spent.
 *
 * Process scorers:
 * - `rollouts`: the value of a child is the mean score of `rollouts` completions from it (m model calls per child),
 *   judged like any finished trace (verifier during search, reward model, or agreement). Only the `candidates`
 *   children with the highest log-probability are valued per depth; the others rank behind them.
 * - `prm`: a process reward model scores the partial traces (no model calls; see reward-model.ts). Where the
 *   verifier does not steer and no outcome reward model judges, it also picks the answer among the finished traces.
 * - `logprob`: the summed log-probability of the partial trace (free).
 */
import { appendLine, childrenOf } from './children.js';
import { TraceJudge } from './judge.js';
import { CallMeter } from './meter.js';
import type { RewardModelClient } from './reward-model.js';
import type { StepStat } from './step-stats.js';
import type { CommonSearchOptions, Generation, SearchOutcome, SearchProblem, StepModel } from './types.js';

export type ProcessScorer = 'rollouts' | 'prm' | 'logprob';

export interface BeamOptions extends CommonSearchOptions {
  model: StepModel;
  /** Partial traces kept per depth; default 4. */
  width?: number;
  /**
   * Samples per expansion request. Default: 1 when the server lists whole lines as alternatives (the embedded model
   * in steps mode), else {@link SAMPLED_EXPANSION} (an LLM: children come from samples); the first expansion tells.
   */
  expandSamples?: number;
  /** Temperature of expansion samples; default 1. */
  temperature?: number;
  /** Default `rollouts` when verifying during search or given a reward model, else `logprob`. */
  processScorer?: ProcessScorer;
  /** Process reward model, for the `prm` scorer. */
  prm?: RewardModelClient;
  /** Rollouts per valued child (m); default 1. */
  rollouts?: number;
  /** Default 0 (the model's best continuation). */
  rolloutTemperature?: number;
  /** Children valued by rollouts per depth, most likely first; default 4 × width. */
  candidates?: number;
  /** Most lines in a trace; default 64. */
  maxDepth?: number;
  /** Stop at the first trace the verifier accepts (with verifyDuringSearch); default true. */
  stopWhenCorrect?: boolean;
  /** Outcome reward model for finished traces when not verifying during search. */
  rewardModel?: RewardModelClient;
  answerOf?: (text: string) => string | null;
}

/** Samples per expansion on a server whose alternatives are sub-line tokens. */
export const SAMPLED_EXPANSION = 4;

function merge(a: Generation, b: Generation): Generation {
  const cached = a.cachedPromptTokens == null && b.cachedPromptTokens == null ? null : (a.cachedPromptTokens ?? 0) + (b.cachedPromptTokens ?? 0);
  return {
    sequences: [...a.sequences, ...b.sequences],
    completionTokens: a.completionTokens + b.completionTokens,
    promptTokens: (a.promptTokens ?? 0) + (b.promptTokens ?? 0),
    cachedPromptTokens: cached,
  };
}

interface Candidate {
  partial: string;
  /** What the search learns about the step that made this candidate (reported in the outcome's `steps`). */
  stat: StepStat;
  /** Summed log-probability of the lines so far. */
  logprob: number;
  score: number;
}

/**
 * @example
 * const outcome = await beamSearch({ prompt, reference }, { model, verifier, verifyDuringSearch: true, budget: 64, width: 2 });
 */
export async function beamSearch(problem: SearchProblem, options: BeamOptions): Promise<SearchOutcome> {
  const meter = new CallMeter(options.budget, options.seed, options.signal, options.budgetUnit);
  const judge = new TraceJudge(problem, options, meter);
  const width = options.width ?? 4;
  let expandSamples = options.expandSamples;
  const scorer = options.processScorer ?? (options.verifyDuringSearch || options.rewardModel ? 'rollouts' : 'logprob');
  if (scorer === 'prm' && !options.prm) throw new Error('beam search: processScorer "prm" needs `prm` (createRewardModelClient({ url }))');
  const m = options.rollouts ?? 1;
  const valued = options.candidates ?? 4 * width;
  const stopWhenCorrect = (options.stopWhenCorrect ?? true) && judge.source === 'verifier';
  const done = () => stopWhenCorrect && judge.firstCorrect() !== null;
  let beams: Array<Omit<Candidate, 'stat'> & { stat?: StepStat }> = [{ partial: '', logprob: 0, score: 0 }];
  const verifying = judge.source === 'verifier';
  const steps: StepStat[] = [];
  const stepOf = (prefix: string, step: string, depth: number): StepStat => {
    const stat: StepStat = { prefix, step, depth, visits: 0, rollouts: 0, verifiedRollouts: verifying ? 0 : null, value: null, verdict: null };
    steps.push(stat);
    return stat;
  };
  let depth = 0;
  let expansions = 0;
  let rollouts = 0;

  search: for (; depth < (options.maxDepth ?? 64) && beams.length > 0; depth++) {
    const live: Candidate[] = [];
    const finished: string[] = [];
    /** The step each finished trace ended with (null: the trace ended without a new line). */
    const finishedSteps: Array<StepStat | null> = [];
    for (const beam of beams) {
      const n = meter.affordable(expandSamples ?? 1);
      if (n < 1) break search;
      if (beam.stat) beam.stat.visits++;
      let generation = await meter.step(options.model, problem.prompt, beam.partial, n, options.temperature ?? 1);
      expansions++;
      if (expandSamples === undefined) {
        // Auto: a server whose alternatives are whole lines shows every child in one sample; otherwise sample them.
        const listsLines = generation.sequences.some((s) => (s.lines[0]?.alternatives.length ?? 0) > 0);
        expandSamples = listsLines ? 1 : SAMPLED_EXPANSION;
        const more = meter.affordable(expandSamples - n);
        if (more > 0) generation = merge(generation, await meter.step(options.model, problem.prompt, beam.partial, more, options.temperature ?? 1));
      }
      if (generation.sequences.some((s) => s.lines.length === 0 && s.finished)) {
        finished.push(beam.partial);
        finishedSteps.push(null);
      }
      for (const child of childrenOf(generation)) {
        const logprob = beam.logprob + (child.logprob ?? Math.log(child.prior));
        const stat = stepOf(beam.partial, child.text, depth + 1);
        if (child.final) {
          finished.push(beam.partial + child.text);
          finishedSteps.push(stat);
        } else live.push({ partial: appendLine(beam.partial, child.text), logprob, score: logprob, stat });
      }
    }
    if (finished.length) {
      const judged = await judge.judge(finished);
      judged.forEach((trace, i) => {
        const stat = finishedSteps[i];
        if (!stat) return;
        stat.value = trace.score;
        stat.verdict = trace.verdict ? trace.verdict.correct : null;
      });
    }
    if (done()) break;
    live.sort((a, b) => b.logprob - a.logprob);
    if (scorer === 'prm' && live.length) {
      const res = await options.prm!.score(problem.prompt, live.map((c) => c.partial));
      meter.scorerCalls += res.requests;
      live.forEach((c, i) => (c.score = c.stat.value = res.scores[i]!));
    } else if (scorer === 'rollouts') {
      for (const [i, c] of live.entries()) {
        if (i >= valued || meter.affordable(m) < m || done()) {
          c.score = -Infinity; // not valued: behind every valued child, in log-probability order
          continue;
        }
        const generation = await meter.rollout(options.model, problem.prompt, c.partial, m, options.rolloutTemperature ?? 0);
        rollouts += m;
        const judged = await judge.judge(generation.sequences.map((s) => c.partial + s.lines.map((l) => l.text).join('\n')));
        c.score = judged.reduce((a, t) => a + t.score, 0) / judged.length;
        c.stat.value = c.score;
        c.stat.rollouts += judged.length;
        if (c.stat.verifiedRollouts !== null) c.stat.verifiedRollouts += judged.filter((t) => t.verdict?.correct === true).length;
      }
      if (done()) break;
    }
    if (scorer === 'logprob') for (const c of live) c.stat.value = c.logprob;
    beams = keepBest(live, width);
  }

  // A beam steered by the PRM is also judged by it where nothing else judges finished traces (as MCTS's `value: prm`).
  const pickByPrm = scorer === 'prm' && (judge.source === 'self-consistency' || judge.source === 'logprob');
  const chosen = judge.firstCorrect() ?? (pickByPrm ? await judge.bestByPrm(options.prm!) : judge.best());
  const outcome = await judge.outcome('beam', chosen, {
    width,
    depth,
    expansions,
    rollouts,
    processScorer: scorer,
    expandSamples: expandSamples ?? null,
    pickedBy: pickByPrm ? 'prm' : judge.source,
  });
  return { ...outcome, steps };
}

/** The `width` best candidates by score, then log-probability (stable). */
export function keepBest<T extends { score: number; logprob: number }>(candidates: readonly T[], width: number): T[] {
  return [...candidates].sort((a, b) => b.score - a.score || b.logprob - a.logprob).slice(0, width);
}

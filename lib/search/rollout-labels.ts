/**
 * Math-Shepherd labelling (Wang et al. 2024) of ordinary samples: from each step prefix of a sampled trace, `k`
 * rollouts of the model; the step's soft label is the share of them the verifier accepts. The trace's last line
 * (its answer) is labelled by the trace's own verdict. Prefixes shared by several traces are rolled once. Every
 * rollout is a model call, spent within `budget` and reported like a search's compute.
 */
import type { Verifier } from '../verify/types.js';
import { CallMeter } from './meter.js';
import { prefixLines, type StepStat } from './step-stats.js';
import type { SearchProblem, StepModel } from './types.js';

export interface RolloutLabelOptions {
  model: StepModel;
  verifier: Verifier;
  /** Rollouts per step prefix. */
  rollouts: number;
  /** Most model calls for the problem; steps beyond it are left unlabelled. */
  budget: number;
  /** Default 1: the rollouts sample the policy's continuations (Math-Shepherd's completer). */
  temperature?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface RolloutLabels {
  steps: StepStat[];
  calls: number;
  tokens: number;
  promptTokens: number;
  cachedPromptTokens: number | null;
}

/**
 * @example
 * const { steps, calls } = await rolloutLabels({ prompt, reference }, sampledTexts, { model, verifier, rollouts: 4, budget: 64 });
 */
export async function rolloutLabels(problem: SearchProblem, traces: readonly string[], options: RolloutLabelOptions): Promise<RolloutLabels> {
  const meter = new CallMeter(options.budget, options.seed, options.signal);
  const verify = (text: string) => options.verifier.verify({ prompt: problem.prompt, reference: problem.reference ?? null, text });
  const steps = new Map<string, StepStat>();
  for (const trace of traces) {
    const lines = prefixLines(`${trace}\n`).filter((l) => l.trim() !== '');
    if (lines.length === 0) continue;
    const verdict = (await verify(trace)).correct;
    let prefix = '';
    for (const [i, line] of lines.entries()) {
      const key = `${prefix}${line}`;
      const last = i === lines.length - 1;
      if (!steps.has(key)) {
        const stat: StepStat = { prefix, step: line, depth: i + 1, visits: 0, rollouts: 0, verifiedRollouts: 0, value: null, verdict: last ? verdict : null };
        steps.set(key, stat);
        if (last) stat.value = verdict ? 1 : 0;
        else if (meter.affordable(options.rollouts) === options.rollouts) {
          const partial = `${prefix}${line}\n`;
          const generation = await meter.rollout(options.model, problem.prompt, partial, options.rollouts, options.temperature ?? 1);
          const verdicts = await Promise.all(generation.sequences.map((s) => verify(partial + s.lines.map((l) => l.text).join('\n'))));
          stat.rollouts = verdicts.length;
          stat.verifiedRollouts = verdicts.filter((v) => v.correct).length;
          stat.value = stat.rollouts ? stat.verifiedRollouts / stat.rollouts : null;
        }
      }
      prefix = `${prefix}${line}\n`;
    }
  }
  return { steps: [...steps.values()], calls: meter.calls, tokens: meter.tokens, promptTokens: meter.promptTokens, cachedPromptTokens: meter.cachedPromptTokens };
}

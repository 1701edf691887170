/**
 * In-process measurements of a policy, without HTTP: held-out greedy pass@1, and one round of self-sampling that
 * keeps verified-correct traces (the generate → verify → filter part of a flywheel round, in miniature).
 */
import type { CountdownProblem } from '../lib/tasks/countdown.js';
import { formatPrompt } from '../lib/tasks/countdown.js';
import { verifyCountdown } from '../lib/verify/countdown.js';
import { createRng, hashSeed } from '../lib/rng.js';
import type { Policy } from './policy.js';
import { rollout, rolloutText, stepDistribution } from './policy.js';
import type { StepExample } from './train.js';
import { examplesFromTrace } from './train.js';

/** Fraction of problems the greedy trace solves. */
export function greedyPassAt1(policy: Policy, problems: readonly CountdownProblem[]): number {
  if (problems.length === 0) return 0;
  const rng = createRng(0);
  let solved = 0;
  for (const problem of problems) {
    const text = rolloutText(rollout(policy, problem, { temperature: 0, rng }));
    if (verifyCountdown(problem, text).correct) solved++;
  }
  return solved / problems.length;
}

/** Mean entropy (nats) of the policy's first-step distribution: how much it still explores. */
export function meanFirstStepEntropy(policy: Policy, problems: readonly CountdownProblem[]): number {
  let total = 0;
  for (const p of problems) {
    const { logprobs } = stepDistribution(policy, p.numbers, p.target);
    for (const lp of logprobs) total -= Math.exp(lp) * lp;
  }
  return problems.length ? total / problems.length : 0;
}

export interface SampleOptions {
  samples: number;
  temperature: number;
  seed: number;
  /** At most this many distinct correct traces kept per problem. */
  keepPerProblem: number;
}

export interface KeptTrace {
  problem: CountdownProblem;
  trace: string;
}

export interface SampleResult {
  kept: KeptTrace[];
  /** Problems with at least one correct sample. */
  solvedProblems: number;
  /** Correct samples, before dedupe and cap. */
  correctSamples: number;
  totalSamples: number;
}

/** Samples traces per problem, verifies them, and keeps distinct correct ones (deterministic given the seed). */
export function sampleCorrectTraces(policy: Policy, problems: readonly CountdownProblem[], options: SampleOptions): SampleResult {
  const kept: KeptTrace[] = [];
  let solvedProblems = 0;
  let correctSamples = 0;
  problems.forEach((problem, p) => {
    const seen = new Set<string>();
    for (let s = 0; s < options.samples; s++) {
      const rng = createRng(hashSeed(options.seed, p, s));
      const trace = rolloutText(rollout(policy, problem, { temperature: options.temperature, rng }));
      if (!verifyCountdown(problem, trace).correct) continue;
      correctSamples++;
      if (seen.has(trace) || seen.size >= options.keepPerProblem) continue;
      seen.add(trace);
      kept.push({ problem, trace });
    }
    if (seen.size > 0) solvedProblems++;
  });
  return { kept, solvedProblems, correctSamples, totalSamples: problems.length * options.samples };
}

export function examplesFromKept(kept: readonly KeptTrace[]): StepExample[] {
  return kept.flatMap((k) => examplesFromTrace(k.problem, k.trace));
}

/** The chat-format training line for a kept trace (what a fine-tuning file holds). */
export function chatExample(k: KeptTrace): { messages: Array<{ role: 'user' | 'assistant'; content: string }> } {
  return {
    messages: [
      { role: 'user', content: formatPrompt(k.problem) },
      { role: 'assistant', content: k.trace },
    ],
  };
}

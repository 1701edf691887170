/**
 * Text generation with the step policy, shared by chat and legacy completions. In `steps` mode the vocabulary is
 * made of whole steps: each step line plus its newline is one token, and the `Answer: <expression>` line is the
 * last token, so `max_tokens` counts steps. In `subword` mode the same policy writes subword tokens one at a time
 * (see subword.ts), so `max_tokens` counts those. Either way a stop sequence of "\n" cuts the text after exactly
 * one step, and every token lists exactly `topLogprobs` alternatives.
 */
import { randomInt } from 'node:crypto';
import type { CountdownProblem, Step } from '../lib/tasks/countdown.js';
import { createRng, hashSeed } from '../lib/rng.js';
import type { Hint } from './hint.js';
import type { Policy } from './policy.js';
import { rollout } from './policy.js';
import { subwordRollout } from './subword.js';
import type { TokenMode } from './tokenizer.js';
import { padAlternatives, promptTokens, subwordTokens } from './tokenizer.js';

export interface Token {
  /** The token's text as it appears in the output (step tokens end with "\n"). */
  text: string;
  logprob: number;
  /** The best tokens at this position, best first (empty unless asked for). */
  top: Array<{ text: string; logprob: number }>;
}

export interface GeneratedChoice {
  /** The output text, cut before the first stop sequence. */
  text: string;
  /** The tokens generated up to and including the one where a stop sequence matched. */
  tokens: Token[];
  finishReason: 'stop' | 'length';
  /** The stop sequence that cut the text, when one did. */
  stopMatched?: string;
}

export interface GenerateOptions {
  n: number;
  /** 0 = greedy. */
  temperature: number;
  /** Base seed; choice i samples with hashSeed(seed, i). A random one when absent. */
  seed?: number;
  maxTokens?: number;
  stop: readonly string[];
  /** Alternatives to list per token. */
  topLogprobs: number;
  /** The prompt's hint, if it has one (see hint.ts). */
  hint?: Hint | null;
  /** What the client sees as tokens; default `steps`. */
  tokens?: TokenMode;
}

/** The reply to a prompt the model cannot read: one token, no sampling. */
export const UNREADABLE_REPLY =
  'I only play countdown. Ask like: "Using the numbers [25, 5, 3, 2], make 31." and I will answer step by step.';

/**
 * `n` continuations of a countdown state: the problem and the steps already taken.
 *
 * @example generateChoices(policy, problem, [], { n: 4, temperature: 1, seed: 7, stop: [], topLogprobs: 0 })
 */
export function generateChoices(
  policy: Policy,
  problem: CountdownProblem,
  prefix: readonly Step[],
  options: GenerateOptions,
): GeneratedChoice[] {
  const seed = options.seed ?? randomInt(2 ** 31);
  const choices: GeneratedChoice[] = [];
  for (let i = 0; i < options.n; i++) {
    const rng = createRng(hashSeed(seed, i));
    if (options.tokens === 'subword') {
      const run = subwordRollout(policy, problem, {
        temperature: options.temperature,
        rng,
        maxTokens: options.maxTokens,
        prefix,
        topK: options.topLogprobs,
        hint: options.hint,
      });
      choices.push(applyStop(run.tokens, options.stop, run.finished));
      continue;
    }
    const run = rollout(policy, problem, {
      temperature: options.temperature,
      rng,
      maxTokens: options.maxTokens,
      prefix,
      topK: options.topLogprobs,
      hint: options.hint,
    });
    const tokens: Token[] = run.tokens.map((t, k) => {
      const isStep = k < run.steps.length;
      const top = t.top.map((alt) => ({ text: isStep ? `${alt.text}\n` : alt.text, logprob: alt.logprob }));
      return { text: isStep ? `${t.text}\n` : t.text, logprob: t.logprob, top: padAlternatives(top, options.topLogprobs, 'steps') };
    });
    choices.push(applyStop(tokens, options.stop, run.finished));
  }
  return choices;
}

/** The fixed reply for unreadable prompts, as `n` identical choices (forced: every token has logprob 0). */
export function unreadableChoices(n: number, topLogprobs: number, mode: TokenMode = 'steps'): GeneratedChoice[] {
  const texts = mode === 'subword' ? subwordTokens(UNREADABLE_REPLY) : [UNREADABLE_REPLY];
  const tokens: Token[] = texts.map((text) => ({ text, logprob: 0, top: padAlternatives([{ text, logprob: 0 }], topLogprobs, mode) }));
  return Array.from({ length: n }, () => ({ text: UNREADABLE_REPLY, tokens, finishReason: 'stop' as const }));
}

/** Cuts the text before the first stop sequence; tokens after the one that completed it are dropped. */
export function applyStop(tokens: Token[], stop: readonly string[], finished: boolean): GeneratedChoice {
  let text = '';
  for (let k = 0; k < tokens.length; k++) {
    const scanFrom = Math.max(0, text.length - longest(stop) + 1);
    text += tokens[k]!.text;
    let cut = -1;
    let matched = '';
    for (const s of stop) {
      const at = text.indexOf(s, scanFrom);
      if (at >= 0 && (cut < 0 || at < cut)) [cut, matched] = [at, s];
    }
    if (cut >= 0) return { text: text.slice(0, cut), tokens: tokens.slice(0, k + 1), finishReason: 'stop', stopMatched: matched };
  }
  return { text, tokens, finishReason: finished ? 'stop' : 'length' };
}

function longest(stop: readonly string[]): number {
  return stop.reduce((m, s) => Math.max(m, s.length), 1);
}

/** Prompt tokens counted for `usage`: the mode's prompt tokenization (steps: numbers, words, single symbols). */
export function countTokens(text: string, mode: TokenMode = 'steps'): number {
  return promptTokens(text, mode).length;
}

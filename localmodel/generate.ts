/**
 * Text generation with the step policy, shared by chat and legacy completions. The vocabulary is made of whole
 * steps: each step line plus its newline is one token, and the `Answer: <expression>` line is the last token.
 * So `max_tokens` counts steps, and a stop sequence of "\n" cuts the text after exactly one step.
 */
import { randomInt } from 'node:crypto';
import type { CountdownProblem, Step } from '../lib/tasks/countdown.js';
import { createRng, hashSeed } from '../lib/rng.js';
import type { Hint } from './hint.js';
import type { Policy } from './policy.js';
import { rollout } from './policy.js';

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
    const run = rollout(policy, problem, {
      temperature: options.temperature,
      rng: createRng(hashSeed(seed, i)),
      maxTokens: options.maxTokens,
      prefix,
      topK: options.topLogprobs,
      hint: options.hint,
    });
    const tokens: Token[] = run.tokens.map((t, k) => {
      const isStep = k < run.steps.length;
      return {
        text: isStep ? `${t.text}\n` : t.text,
        logprob: t.logprob,
        top: t.top.map((alt) => ({ text: isStep ? `${alt.text}\n` : alt.text, logprob: alt.logprob })),
      };
    });
    choices.push(applyStop(tokens, options.stop, run.finished));
  }
  return choices;
}

/** The fixed reply for unreadable prompts, as `n` identical choices. */
export function unreadableChoices(n: number, topLogprobs: number): GeneratedChoice[] {
  const token: Token = { text: UNREADABLE_REPLY, logprob: 0, top: topLogprobs > 0 ? [{ text: UNREADABLE_REPLY, logprob: 0 }] : [] };
  return Array.from({ length: n }, () => ({ text: UNREADABLE_REPLY, tokens: [token], finishReason: 'stop' as const }));
}

/** Cuts the text before the first stop sequence; tokens after the one that completed it are dropped. */
export function applyStop(tokens: Token[], stop: readonly string[], finished: boolean): GeneratedChoice {
  let text = '';
  for (let k = 0; k < tokens.length; k++) {
    const scanFrom = Math.max(0, text.length - longest(stop) + 1);
    text += tokens[k].text;
    let cut = -1;
    for (const s of stop) {
      const at = text.indexOf(s, scanFrom);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) return { text: text.slice(0, cut), tokens: tokens.slice(0, k + 1), finishReason: 'stop' };
  }
  return { text, tokens, finishReason: finished ? 'stop' : 'length' };
}

function longest(stop: readonly string[]): number {
  return stop.reduce((m, s) => Math.max(m, s.length), 1);
}

/** A rough token count for `usage`: numbers, words and single symbols. */
export function countTokens(text: string): number {
  return text.match(/\d+|[A-Za-z]+|[^\s\dA-Za-z]/g)?.length ?? 0;
}

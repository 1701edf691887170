/**
 * Token-by-token decoding of the step policy, as an LLM decodes: the policy gives a distribution over whole step
 * lines; cut into subword tokens, those lines form a tree, and the distribution of the next token given the tokens
 * written so far in a line is the marginal over the lines that share that prefix. Sampling those marginals one
 * token at a time (temperature applied per token, as an LLM applies it) draws whole lines with exactly the
 * policy's probabilities at temperature 1; the reported logprobs are the marginals at temperature 1, and the
 * log-probabilities of a line's tokens sum to the line's.
 *
 * Where a line's tokens are forced (the spaces, the result after `=`, the newline, most of the answer line) the
 * token has logprob 0 and its alternatives are impossible tokens.
 */
import type { CountdownProblem, Move, Step } from '../lib/tasks/countdown.js';
import { stepsToExpression } from '../lib/tasks/countdown.js';
import type { Rng } from '../lib/rng.js';
import type { Hint } from './hint.js';
import type { Policy, PolicyToken } from './policy.js';
import { hintedDistribution, stateAfter } from './policy.js';
import { padAlternatives, subwordTokens } from './tokenizer.js';

export interface SubwordRolloutOptions {
  temperature: number;
  rng: Rng;
  /** Stop after this many subword tokens. */
  maxTokens?: number;
  prefix?: readonly Step[];
  /** Alternatives listed per token, padded with impossible tokens to exactly this many. */
  topK?: number;
  hint?: Hint | null;
}

export interface SubwordRollout {
  tokens: PolicyToken[];
  /** True when the answer line was written; false when maxTokens cut the trace. */
  finished: boolean;
}

/** One line the model may write at a state: its tokens and its log-probability. */
interface LineOption {
  tokens: readonly string[];
  logprob: number;
  move: Move | null;
}

const moveTokens = new WeakMap<Move, string[]>();

function tokensOfMove(move: Move): string[] {
  let t = moveTokens.get(move);
  if (!t) {
    t = subwordTokens(`${move.text}\n`);
    moveTokens.set(move, t);
  }
  return t;
}

function logSumExp(values: readonly number[]): number {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  if (max === -Infinity) return max;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}

/** The next-token distribution over `live` lines at token position `pos`: tokens in first-seen (canonical) order. */
export function nextTokenMarginals(live: readonly LineOption[], pos: number): Array<{ text: string; logprob: number }> {
  const groups = new Map<string, number[]>();
  for (const line of live) {
    const t = line.tokens[pos]!;
    const g = groups.get(t);
    if (g) g.push(line.logprob);
    else groups.set(t, [line.logprob]);
  }
  const total = logSumExp(live.map((l) => l.logprob));
  return [...groups].map(([text, lps]) => ({ text, logprob: logSumExp(lps) - total }));
}

/** Greedy at temperature 0 (first on ties), else a draw from softmax(logprob / temperature). */
function pick(options: ReadonlyArray<{ logprob: number }>, temperature: number, rng: Rng): number {
  if (options.length === 1) return 0;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < options.length; i++) if (options[i]!.logprob > options[best]!.logprob) best = i;
    return best;
  }
  const scaled = options.map((o) => o.logprob / temperature);
  const lse = logSumExp(scaled);
  let u = rng();
  for (let i = 0; i < scaled.length; i++) {
    u -= Math.exp(scaled[i]! - lse);
    if (u < 0) return i;
  }
  return scaled.length - 1;
}

function topOf(marginals: ReadonlyArray<{ text: string; logprob: number }>, k: number): Array<{ text: string; logprob: number }> {
  if (k <= 0) return [];
  const order = marginals.map((_, i) => i).sort((a, b) => marginals[b]!.logprob - marginals[a]!.logprob || a - b);
  return padAlternatives(order.slice(0, k).map((i) => marginals[i]!), k, 'subword');
}

/**
 * Writes a trace token by token from the state after `prefix` until the answer line is written.
 *
 * @example subwordRollout(policy, { numbers: [75, 3, 8, 2], target: 24 }, { temperature: 1, rng: createRng(1), topK: 5 })
 */
export function subwordRollout(p: Policy, problem: CountdownProblem, options: SubwordRolloutOptions): SubwordRollout {
  const maxTokens = options.maxTokens ?? Infinity;
  const topK = options.topK ?? 0;
  const prefix = options.prefix ?? [];
  const state = stateAfter(problem, prefix, options.hint);
  let numbers = state.numbers;
  const steps: Step[] = [...prefix];
  const tokens: PolicyToken[] = [];
  for (;;) {
    let lines: LineOption[];
    if (numbers.length <= 1) {
      lines = [{ tokens: subwordTokens(`Answer: ${stepsToExpression(problem.numbers, steps)}`), logprob: 0, move: null }];
    } else {
      const dist = hintedDistribution(p, numbers, problem.target, state.hint);
      lines = dist.moves.map((move, i) => ({ tokens: tokensOfMove(move), logprob: dist.logprobs[i]!, move }));
    }
    let live = lines;
    for (let pos = 0; ; pos++) {
      if (tokens.length >= maxTokens) return { tokens, finished: false };
      const marginals = nextTokenMarginals(live, pos);
      const chosen = marginals[pick(marginals, options.temperature, options.rng)]!;
      tokens.push({ text: chosen.text, logprob: chosen.logprob, top: topOf(marginals, topK) });
      live = live.filter((l) => l.tokens[pos] === chosen.text);
      // Lines are distinct and each ends with its own last token, so a line is done exactly when it is the only one left.
      if (live.length === 1 && live[0]!.tokens.length === pos + 1) break;
    }
    const move = live[0]!.move;
    if (!move) return { tokens, finished: true };
    state.hint?.advance(numbers, move.step);
    steps.push(move.step);
    numbers = move.left;
  }
}

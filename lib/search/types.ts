/**
 * The shapes every search strategy shares: the problem it gets, the step model it drives, and the outcome it
 * returns. A strategy is `(problem, options) => Promise<SearchOutcome>`; it never spends more model calls than its
 * budget, and it reports what it spent.
 *
 * Compute is counted the same way everywhere: one model call = one generated sequence (a request with n = 8 is 8
 * calls; one n = 1 request with logprobs is 1 call), the completion tokens the server reported, and the prompt
 * tokens it read, of which it found some in its prefix cache (vLLM and OpenAI report `cached_tokens`: a search
 * re-sends the problem and the partial trace, which a GPU server with prefix caching barely pays for again). A
 * budget is set in calls or in generated tokens. Calls to a reward model or a verifier are not model calls;
 * reward-model calls are reported separately.
 */
import type { Verdict, Verifier } from '../verify/types.js';
import type { StepStat } from './step-stats.js';

/** A problem as the flywheel stores it: the prompt the model sees, and the verifier's reference (if any). */
export interface SearchProblem {
  prompt: string;
  /** What the verifier needs (`problems.reference`); null or absent when the problem has no known answer. */
  reference?: unknown;
}

/** One step line a model wrote (without its newline), as the adapter parsed it. */
export interface StepLine {
  text: string;
  /** Summed token log-probability of the line, when the server reported logprobs. */
  logprob: number | null;
  /**
   * Other complete lines the model could have written here instead (top-logprob tokens that end the line), with
   * their log-probabilities. Empty when the server lists only sub-line tokens (a typical LLM).
   */
  alternatives: Array<{ text: string; logprob: number }>;
  /** True when the line is the trace's final answer (the trace ends after it). */
  final: boolean;
}

/** One generated sequence, split into lines. */
export interface GeneratedSequence {
  lines: StepLine[];
  /** The model ended the trace (finish_reason "stop" on a rollout, or a final line); false when cut by max_tokens. */
  finished: boolean;
  /** Mean token log-probability of the whole sequence, when known (the `logprob` best-of-N scorer). */
  meanLogprob: number | null;
}

export interface Generation {
  sequences: GeneratedSequence[];
  /** Completion tokens the server reported for the whole request. */
  completionTokens: number;
  /** Prompt tokens the server reported (the prompt is read once for all n sequences); 0 when it reported none. */
  promptTokens?: number;
  /** Of those, the ones it served from its prefix cache; null or absent when it did not say. */
  cachedPromptTokens?: number | null;
}

export interface StepRequest {
  /** Sequences to generate; every one counts as a model call. */
  n: number;
  temperature: number;
  /** Per-request seed, so that a search is deterministic given its own seed (servers that honour `seed`). */
  seed?: number;
  /** Most completion tokens per sequence (a token budget's share); the model's own cap applies when lower. */
  maxTokens?: number;
}

/**
 * A model that writes traces one line at a time. `partial` is the trace so far: complete lines, each ending with
 * "\n" ('' at the root). Both methods are one request each.
 */
export interface StepModel {
  /** Continues `partial` by exactly one line (a step or the final answer). */
  step(prompt: string, partial: string, request: StepRequest): Promise<Generation>;
  /** Continues `partial` to the end of the trace. */
  rollout(prompt: string, partial: string, request: StepRequest): Promise<Generation>;
}

/** Draws whole traces for a prompt (best-of-N, majority vote): a StepModel's rollout from '' or chat samples. */
export interface TraceSampler {
  sample(prompt: string, request: StepRequest): Promise<Generation>;
}

/** A complete trace a search produced, with what it was scored on; stored as a trace by the caller. */
export interface SearchTrace {
  /** The full trace text: step lines and the final line, joined by "\n". */
  text: string;
  /** The normalised final answer (the key majority voting groups on), or null. */
  answer: string | null;
  /** The score the strategy ranked it by (verifier, reward model, agreement, value or log-probability). */
  score: number;
  /** The verifier's verdict, when it was verified during search. */
  verdict: Verdict | null;
}

export type StrategyName = 'best-of-n' | 'majority' | 'beam' | 'mcts';

/** What a search budget counts: model calls (generated sequences) or generated (completion) tokens. */
export type BudgetUnit = 'calls' | 'tokens';

export interface SearchOutcome {
  strategy: StrategyName;
  /** The chosen full trace, or null when the budget ran out before any trace was finished. */
  text: string | null;
  answer: string | null;
  /** The strategy's score of the chosen trace. */
  score: number;
  /**
   * The verifier's verdict on the chosen trace: during search when `verifyDuringSearch`, else after the choice (it
   * did not steer it). Null when no verifier was given.
   */
  verdict: Verdict | null;
  /** Whether the verifier accepted the chosen trace; null when no verifier was given. */
  correct: boolean | null;
  /** Model calls spent (generated sequences); never more than `budget` when the budget is in calls. */
  calls: number;
  /** Completion tokens spent; never more than `budget` when the budget is in tokens. */
  tokens: number;
  /** Prompt tokens the server read for this search's requests. */
  promptTokens: number;
  /** Of those, served from the server's prefix cache; null when the server did not report it. */
  cachedPromptTokens: number | null;
  budget: number;
  budgetUnit: BudgetUnit;
  /** Requests to a reward or process reward model (not model calls). */
  scorerCalls: number;
  /** Every finished trace, in the order produced (the chosen one among them), for storage and training. */
  traces: SearchTrace[];
  /** Strategy-specific numbers worth storing: votes, agreement, nodes, depth, simulations... */
  detail: Record<string, number | string | boolean | null>;
  /** Step-level strategies (MCTS, beam): what the search learnt about each step it expanded (step-stats.ts). */
  steps?: StepStat[];
}

/** What the strategies share. */
export interface CommonSearchOptions {
  /** Most model calls (or, with `budgetUnit: 'tokens'`, generated tokens) to spend on this problem. */
  budget: number;
  /** What `budget` counts; default `calls`. */
  budgetUnit?: BudgetUnit;
  /**
   * Judges finished traces. With `verifyDuringSearch` it also steers the search (values, ranking, early stop);
   * without, it only judges the chosen trace afterwards.
   */
  verifier?: Verifier;
  /**
   * Verify candidates during the search. Legitimate at evaluation time only when the verifier needs nothing hidden:
   * Countdown's verifier reads the numbers and target from the prompt, so search may use it on held-out problems.
   * For tasks whose verifier needs a reference answer, leave this false at evaluation time and use a reward model
   * or self-consistency instead. Default false.
   */
  verifyDuringSearch?: boolean;
  /** Base seed; request i uses hashSeed(seed, i). Default 0. */
  seed?: number;
  signal?: AbortSignal;
}

/**
 * Honest compute accounting for one search: every request goes through a meter that refuses to exceed the budget
 * and counts one call per generated sequence, the completion tokens, and the prompt tokens (with what the server
 * served from its prefix cache). A budget in tokens caps each request's `max_tokens` at its share of what is left,
 * so a search never generates more tokens than its budget. Seeds come from here too, so that request i of a
 * search with seed s always uses the same seed.
 */
import { hashSeed } from '../rng.js';
import type { BudgetUnit, Generation, StepModel, StepRequest, TraceSampler } from './types.js';

/** A strategy asked for more than it had left: a bug in the strategy, never a user error. */
export class BudgetExceededError extends Error {
  constructor(wanted: number, left: number, unit: BudgetUnit) {
    super(`search asked for ${wanted} sequences with ${left} ${unit} left in its budget`);
    this.name = 'BudgetExceededError';
  }
}

export class CallMeter {
  calls = 0;
  tokens = 0;
  promptTokens = 0;
  /** Null until the server reports cached prompt tokens. */
  cachedPromptTokens: number | null = null;
  scorerCalls = 0;
  private requests = 0;

  constructor(
    readonly budget: number,
    private readonly seed = 0,
    private readonly signal?: AbortSignal,
    readonly unit: BudgetUnit = 'calls',
  ) {
    if (!Number.isInteger(budget) || budget < 0) throw new RangeError(`search budget must be a whole number of ${unit} ≥ 0, got ${budget}`);
  }

  /** What is left of the budget, in its unit. */
  get remaining(): number {
    return this.budget - (this.unit === 'tokens' ? this.tokens : this.calls);
  }

  /** Whether a request for `n` sequences fits (in tokens: at least one token each). */
  canAfford(n: number): boolean {
    return n <= this.remaining;
  }

  /**
   * The most sequences, up to `n`, one request may ask for now. In tokens, as many as the tokens left would pay
   * for at the mean length so far (one at first: the first request measures it), so that a batch is not cut short.
   */
  affordable(n: number): number {
    const left = this.remaining;
    if (left <= 0) return 0;
    if (this.unit === 'calls') return Math.min(n, left);
    const fit = this.calls === 0 ? 1 : Math.floor(left / Math.max(1, this.tokens / this.calls));
    return Math.max(1, Math.min(n, fit, left));
  }

  /** The most sequences a strategy could still draw: the budget in calls, unbounded (but for tokens) in tokens. */
  get sequencesLeft(): number {
    return this.unit === 'calls' ? this.remaining : this.remaining > 0 ? Number.MAX_SAFE_INTEGER : 0;
  }

  /** The request for `n` sequences, with this search's next seed (and, in tokens, its share of max_tokens). */
  request(n: number, temperature: number): StepRequest {
    const request: StepRequest = { n, temperature, seed: hashSeed(this.seed, this.requests++) };
    if (this.unit === 'tokens') request.maxTokens = Math.max(1, Math.floor(this.remaining / n));
    return request;
  }

  /** Runs one request after checking the budget, and charges what it generated. */
  async spend(n: number, send: () => Promise<Generation>): Promise<Generation> {
    this.signal?.throwIfAborted();
    if (n < 1 || !this.canAfford(n)) throw new BudgetExceededError(n, this.remaining, this.unit);
    const generation = await send();
    this.calls += n;
    this.tokens += generation.completionTokens;
    this.promptTokens += generation.promptTokens ?? 0;
    if (generation.cachedPromptTokens !== undefined && generation.cachedPromptTokens !== null) {
      this.cachedPromptTokens = (this.cachedPromptTokens ?? 0) + generation.cachedPromptTokens;
    }
    return generation;
  }

  step(model: StepModel, prompt: string, partial: string, n: number, temperature: number): Promise<Generation> {
    return this.spend(n, () => model.step(prompt, partial, this.request(n, temperature)));
  }

  rollout(model: StepModel, prompt: string, partial: string, n: number, temperature: number): Promise<Generation> {
    return this.spend(n, () => model.rollout(prompt, partial, this.request(n, temperature)));
  }

  sample(sampler: TraceSampler, prompt: string, n: number, temperature: number): Promise<Generation> {
    return this.spend(n, () => sampler.sample(prompt, this.request(n, temperature)));
  }
}

/**
 * Honest compute accounting for one search: every request goes through a meter that refuses to exceed the budget
 * and counts one call per generated sequence, plus completion tokens. Seeds come from here too, so that request i
 * of a search with seed s always uses the same seed.
 */
import { hashSeed } from '../rng.js';
import type { Generation, StepModel, StepRequest, TraceSampler } from './types.js';

/** A strategy asked for more calls than it had left: a bug in the strategy, never a user error. */
export class BudgetExceededError extends Error {
  constructor(wanted: number, left: number) {
    super(`search asked for ${wanted} model calls with ${left} left in its budget`);
    this.name = 'BudgetExceededError';
  }
}

export class CallMeter {
  calls = 0;
  tokens = 0;
  scorerCalls = 0;
  private requests = 0;

  constructor(
    readonly budget: number,
    private readonly seed = 0,
    private readonly signal?: AbortSignal,
  ) {
    if (!Number.isInteger(budget) || budget < 0) throw new RangeError(`search budget must be a whole number of calls ≥ 0, got ${budget}`);
  }

  get remaining(): number {
    return this.budget - this.calls;
  }

  canAfford(n: number): boolean {
    return n <= this.remaining;
  }

  /** The request for `n` sequences, with this search's next seed. */
  request(n: number, temperature: number): StepRequest {
    return { n, temperature, seed: hashSeed(this.seed, this.requests++) };
  }

  /** Runs one request after checking the budget, and charges what it generated. */
  async spend(n: number, send: () => Promise<Generation>): Promise<Generation> {
    this.signal?.throwIfAborted();
    if (n < 1 || !this.canAfford(n)) throw new BudgetExceededError(n, this.remaining);
    const generation = await send();
    this.calls += n;
    this.tokens += generation.completionTokens;
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

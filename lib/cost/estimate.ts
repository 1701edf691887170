/**
 * What a stage will cost before it runs: its planned samples times the mean tokens per sample seen so far in the
 * run (or, before any sample, the completion cap, an upper bound), and whether that fits the run's budget.
 */
import { priceUsage, type ModelPrice, type TokenUsage } from './price.js';

export interface UsageSoFar {
  samples: number;
  inputTokens: number;
  outputTokens: number;
}

export interface StageEstimate extends TokenUsage {
  tokens: number;
  /** null when the model has no price. */
  cost: number | null;
  /** `history`: means of the samples so far; `cap`: no samples yet, every completion assumed to reach maxTokens. */
  basis: 'history' | 'cap';
}

/**
 * @example
 * estimateStage({ plannedSamples: 8000, soFar: { samples: 100, inputTokens: 5000, outputTokens: 20000 }, maxCompletionTokens: 512, price })
 * // { inputTokens: 400000, outputTokens: 1600000, tokens: 2000000, cost: ..., basis: 'history' }
 */
export function estimateStage(input: {
  plannedSamples: number;
  soFar: UsageSoFar | null;
  /** The completion cap per sample (generate.maxTokens), used before any sample was drawn. */
  maxCompletionTokens: number;
  /** Prompt tokens per sample before any sample was drawn (0 when unknown). */
  promptTokensGuess?: number;
  price: ModelPrice | null;
}): StageEstimate {
  if (!Number.isInteger(input.plannedSamples) || input.plannedSamples < 0) {
    throw new RangeError(`plannedSamples must be a whole number ≥ 0, got ${input.plannedSamples}`);
  }
  const history = input.soFar && input.soFar.samples > 0 ? input.soFar : null;
  const perSampleIn = history ? history.inputTokens / history.samples : (input.promptTokensGuess ?? 0);
  const perSampleOut = history ? history.outputTokens / history.samples : input.maxCompletionTokens;
  const inputTokens = Math.ceil(perSampleIn * input.plannedSamples);
  const outputTokens = Math.ceil(perSampleOut * input.plannedSamples);
  return {
    inputTokens,
    outputTokens,
    tokens: inputTokens + outputTokens,
    cost: input.price ? priceUsage(input.price, { inputTokens, outputTokens }) : null,
    basis: history ? 'history' : 'cap',
  };
}

export interface Budget {
  maxCost?: number;
  maxTokens?: number;
}

export interface Spend {
  cost: number;
  tokens: number;
}

export type BudgetVerdict =
  | { fits: true }
  | { fits: false; limit: 'maxCost' | 'maxTokens'; max: number; spent: number; estimate: number; message: string };

/**
 * Whether a stage estimated at `estimate` may start after `spent`: it fits when spent + estimate stays within every
 * limit. An unpriced estimate (cost null) under a maxCost is refused: an unknown cost cannot be shown to fit.
 */
export function checkBudget(budget: Budget, spent: Spend, estimate: { cost: number | null; tokens: number }, stage = 'the next stage'): BudgetVerdict {
  if (budget.maxTokens !== undefined && spent.tokens + estimate.tokens > budget.maxTokens) {
    return {
      fits: false,
      limit: 'maxTokens',
      max: budget.maxTokens,
      spent: spent.tokens,
      estimate: estimate.tokens,
      message: `${stage} would use about ${estimate.tokens} tokens after ${spent.tokens} so far, past budget.maxTokens ${budget.maxTokens}: raise the budget or stop the run`,
    };
  }
  if (budget.maxCost !== undefined && (estimate.cost === null || spent.cost + estimate.cost > budget.maxCost)) {
    const est = estimate.cost === null ? 'an unpriced amount (no price for its model in costs.models)' : `about ${formatCost(estimate.cost)}`;
    return {
      fits: false,
      limit: 'maxCost',
      max: budget.maxCost,
      spent: spent.cost,
      estimate: estimate.cost ?? Number.POSITIVE_INFINITY,
      message: `${stage} would cost ${est} after ${formatCost(spent.cost)} so far, past budget.maxCost ${formatCost(budget.maxCost)}: raise the budget or stop the run`,
    };
  }
  return { fits: true };
}

/** `$12.35`, `$0.0042`: cents for amounts over a dollar, four places below. */
export function formatCost(cost: number): string {
  return cost >= 1 || cost === 0 ? `$${cost.toFixed(2)}` : `$${cost.toPrecision(2)}`;
}

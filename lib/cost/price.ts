/**
 * What tokens and trainer jobs cost, from the prices a run's config names. Pure: the `flywheel.round_costs` view
 * applies the same rules in SQL, and the tests hold the two to each other.
 */

/** Price of a model's tokens, per million. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/** A trainer's price: per GPU-hour (times the GPUs a job holds) or per million trained tokens. */
export type TrainerPrice = { perGpuHour: number; gpus: number } | { perMTrainedTokens: number };

export interface CostPrices {
  /** Keys are model names; a key ending in `*` prices every model whose name starts with what precedes it. */
  models: Record<string, ModelPrice>;
  trainer?: TrainerPrice;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/**
 * The price of `model`: its exact key, else the longest `prefix*` key it starts with (so `ft:gpt-4o-mini:*` prices
 * every fine-tune of gpt-4o-mini), else null (unpriced).
 *
 * @example
 * priceFor({ 'gpt-4o-mini': a, 'ft:gpt-4o-mini:*': b }, 'ft:gpt-4o-mini:acme:x1') // b
 */
export function priceFor(models: Record<string, ModelPrice>, model: string): ModelPrice | null {
  if (Object.hasOwn(models, model)) return models[model]!;
  let best: { key: string; price: ModelPrice } | null = null;
  for (const [key, price] of Object.entries(models)) {
    if (!key.endsWith('*')) continue;
    const prefix = key.slice(0, -1);
    if (model.startsWith(prefix) && (!best || key.length > best.key.length)) best = { key, price };
  }
  return best?.price ?? null;
}

/** Cost of `usage` at `price`. */
export function priceUsage(price: ModelPrice, usage: TokenUsage): number {
  return (usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1_000_000;
}

export interface TrainerUsage {
  /** Tokens the trainer read: the training file's tokens times its epochs. */
  trainedTokens: number;
  /** Wall-clock hours of the job, from creation to its end. */
  hours: number;
}

/** Cost of one trainer job; null without a trainer price. */
export function priceTraining(price: TrainerPrice | undefined, usage: TrainerUsage): number | null {
  if (!price) return null;
  if ('perGpuHour' in price) return usage.hours * price.gpus * price.perGpuHour;
  return (usage.trainedTokens * price.perMTrainedTokens) / 1_000_000;
}

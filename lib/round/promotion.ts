/** The promote gate and what a finished round says about it. */

export interface PromotionGate {
  promoted: boolean;
  candidate: string;
  current: string;
  before: number | null;
  after: number | null;
  minImprovement: number;
}

/**
 * Whether the candidate replaces the current model: it must be a new model, and its held-out greedy pass@1 at
 * least the current one's plus `minImprovement` (a current model never measured is always replaced).
 */
export function promotionGate(input: Omit<PromotionGate, 'promoted'>): PromotionGate {
  const { candidate, current, before, after, minImprovement } = input;
  const promoted = candidate !== current && (before === null || (after !== null && after >= before + minImprovement));
  return { promoted, ...input };
}

/**
 * Whether a finished round promoted its model, from what its promote stage recorded (`stats.promote`). Round 0 has
 * no promote stage: its model is the base, the current model by definition.
 */
export function roundPromoted(round: { index: number; stats: unknown }): boolean {
  if (round.index === 0) return true;
  const promote = (round.stats as { promote?: { promoted?: unknown } } | null)?.promote;
  if (typeof promote?.promoted !== 'boolean') {
    throw new Error(`round ${round.index} has no record of its promote stage (rounds.stats.promote): it cannot have finished`);
  }
  return promote.promoted;
}

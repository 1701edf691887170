/** What a shard's purpose decides: which split of the task set it reads and which model samples. */
import type { Purpose } from './stages.js';

/** The split of the task set a purpose reads: train problems to learn from, held-out (test) ones to measure. */
export function splitOf(purpose: Purpose): 'train' | 'test' {
  return purpose === 'train' ? 'train' : 'test';
}

/**
 * The model a purpose samples with: training data comes from the round's sampler (the promoted model), held-out
 * measurements from the round's model (the candidate it trained, or the base in round 0).
 */
export function samplingModel(round: { index: number; sampler: string | null; model: string | null }, purpose: Purpose): string {
  const field = purpose === 'train' ? 'sampler' : 'model';
  const model = round[field];
  if (!model) {
    throw new Error(
      `round ${round.index} has no ${field} yet: ${purpose === 'train' ? 'the promote stage sets it' : 'the fine-tune stage sets it'}, ` +
        'and it has not run for this round',
    );
  }
  return model;
}

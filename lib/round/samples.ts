/** What the sampling stages draw per problem, and when the verifier may steer search. */
import type { RunConfig } from '../../config/schema.js';
import type { Purpose } from './stages.js';

export interface SampleGroup {
  strategy: 'sample' | 'greedy';
  n: number;
  temperature: number;
}

/** What one problem gets: the round's samples for training; greedy plus samples for evaluation. */
export function sampleGroups(config: RunConfig, purpose: Purpose): SampleGroup[] {
  if (purpose === 'train') {
    return [{ strategy: 'sample', n: config.generate.samplesPerProblem, temperature: config.generate.temperature }];
  }
  const groups: SampleGroup[] = [];
  if (config.evaluate.greedy) groups.push({ strategy: 'greedy', n: 1, temperature: 0 });
  if (config.evaluate.samples > 0) {
    groups.push({ strategy: 'sample', n: config.evaluate.samples, temperature: config.evaluate.temperature });
  }
  return groups;
}

/** Whether the verifier may steer search on held-out problems (see `search.step.verifyAtEval`). */
export function verifiesAtEval(config: RunConfig): boolean {
  const v = config.search.step.verifyAtEval;
  return v === 'auto' ? config.verifier.name === 'countdown' : v;
}

/** Whether search verifies while it searches: always on train problems, on held-out ones when allowed. */
export function verifiesDuringSearch(config: RunConfig, purpose: Purpose): boolean {
  return purpose === 'train' || verifiesAtEval(config);
}

/** Groups rows (ordered by problem) into one list per problem, in order of first appearance. */
export function groupByProblem<T extends { problemId: number }>(rows: readonly T[]): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const row of rows) {
    const list = out.get(row.problemId);
    if (list) list.push(row);
    else out.set(row.problemId, [row]);
  }
  return out;
}

/**
 * Groups a stream of rows (ordered by problem) into maps of at most `problems` problems each, a problem's rows never
 * split across two maps: a stage over a whole round holds one batch of problems at a time.
 */
export async function* problemBatches<T extends { problemId: number }>(rows: AsyncIterable<T>, problems: number): AsyncGenerator<Map<number, T[]>> {
  let batch = new Map<number, T[]>();
  for await (const row of rows) {
    const list = batch.get(row.problemId);
    if (list) {
      list.push(row);
      continue;
    }
    if (batch.size >= problems) {
      yield batch;
      batch = new Map();
    }
    batch.set(row.problemId, [row]);
  }
  if (batch.size) yield batch;
}

/**
 * What the value head sees of a partial trace: the state it leaves (the numbers still to combine, and the target),
 * never the step that led there and no lookahead. Each number is written relative to the target twice, as a ratio
 * and as a log ratio, so that whether two numbers make the target by +, −, × or ÷ is a band the head can learn
 * (x/t + y/t = 1, x/t − y/t = 1, log(x/t) + log(y/t) + log t = 0, ...), not a feature given to it: how well the head judges a state is what
 * its labels taught it, and it improves with more of them.
 */
import { sortDesc } from '../lib/tasks/countdown.js';

/** Numbers described per state; states with more (a problem of more than 4 numbers) keep their 4 largest. */
export const VALUE_SLOTS = 4;

export const VALUE_FEATURE_NAMES = [
  'one-left',
  'two-left',
  'three-left',
  'four-plus-left',
  'solved',
  'target-in-left',
  'log-target',
  ...Array.from({ length: VALUE_SLOTS }, (_, i) => [`n${i}-present`, `n${i}-ratio`, `n${i}-log-ratio`, `n${i}-is-target`]).flat(),
] as const;

export const VALUE_FEATURE_COUNT = VALUE_FEATURE_NAMES.length;

const LOG100 = Math.log(100);
/** Where the per-number slots start. */
const HEAD = VALUE_FEATURE_NAMES.indexOf('n0-present');

/**
 * The features of the state a prefix leaves: `left` the numbers not yet used, `target` the problem's.
 *
 * @example valueFeatures([24], 24)[4] // 1: solved
 */
export function valueFeatures(left: readonly number[], target: number): Float64Array {
  const x = new Float64Array(VALUE_FEATURE_COUNT);
  const k = left.length;
  const sorted = sortDesc(left);
  x[0] = k === 1 ? 1 : 0;
  x[1] = k === 2 ? 1 : 0;
  x[2] = k === 3 ? 1 : 0;
  x[3] = k >= 4 ? 1 : 0;
  x[4] = k === 1 && sorted[0] === target ? 1 : 0;
  x[5] = sorted.includes(target) ? 1 : 0;
  x[6] = Math.log(Math.max(1, target)) / LOG100;
  for (let i = 0; i < Math.min(k, VALUE_SLOTS); i++) {
    const n = sorted[i]!;
    const o = HEAD + i * 4;
    x[o] = 1;
    x[o + 1] = Math.min(4, n / target);
    x[o + 2] = Math.max(-1.5, Math.min(1.5, Math.log(Math.max(n, 1e-9) / target) / LOG100));
    x[o + 3] = n === target ? 1 : 0;
  }
  return x;
}

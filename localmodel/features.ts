/**
 * What the step policy sees of a move: a handful of arithmetic features of the step and of the state it leads to.
 * They are hints, not a solver: the policy only learns how much to trust each one. The one lookahead that is exact
 * is the short one (two numbers left: is the target one operation away); with three numbers left the policy only
 * knows whether the *other* numbers can make the partner the new result needs, which misses every solution that
 * keeps building on the new result.
 */
import type { Move } from '../lib/tasks/countdown.js';
import { OPS, combine, legalMoves, reachableValues, sortDesc } from '../lib/tasks/countdown.js';

export const FEATURE_NAMES = [
  'last-step',
  'two-left',
  'three-plus-left',
  'op-add',
  'op-sub',
  'op-mul',
  'op-div',
  'solved',
  'result-is-target',
  'target-in-left',
  'target-one-op-away',
  'others-make-partner',
  'partner-in-others',
  'log-distance',
  'result-above-target',
  'result-divides-target',
  'target-divides-result',
  'log-result',
  'closest-left-distance',
  'no-op-step',
  'result-is-small',
] as const;

export const FEATURE_COUNT = FEATURE_NAMES.length;

const LOG100 = Math.log(100);

/** True when some operation on a and b (either order) gives the target. */
function oneOpTo(a: number, b: number, target: number): boolean {
  const [hi, lo] = a >= b ? [a, b] : [b, a];
  for (const op of OPS) if (combine(hi, op, lo) === target) return true;
  return false;
}

/** The numbers in `left` without one copy of `value`. */
function without(left: readonly number[], value: number): number[] {
  const i = left.indexOf(value);
  return i < 0 ? [...left] : left.filter((_, k) => k !== i);
}

/** Writes the features of one move into `out` at `offset` (FEATURE_COUNT slots). */
export function writeMoveFeatures(move: Move, target: number, out: Float64Array, offset: number): void {
  const r = move.step.result;
  const left = move.left;
  const k = left.length;
  const others = without(left, r);
  const f = (i: number, v: number | boolean) => {
    out[offset + i] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  };
  f(0, k === 1);
  f(1, k === 2);
  f(2, k >= 3);
  f(3 + OPS.indexOf(move.step.op), 1);
  f(7, k === 1 && r === target);
  f(8, r === target);
  f(9, left.includes(target));
  f(10, k === 2 && oneOpTo(left[0]!, left[1]!, target));
  let partner = false;
  if (k >= 2 && others.length <= 3) for (const p of reachableValues(others)) if (oneOpTo(r, p, target)) partner = true;
  f(11, partner);
  f(12, k >= 2 && others.some((x) => oneOpTo(r, x, target)));
  f(13, Math.min(1.5, Math.log1p(Math.abs(r - target)) / LOG100));
  f(14, r > target);
  f(15, r > 1 && target % r === 0);
  f(16, r % target === 0);
  f(17, Math.min(2, Math.log(r) / LOG100));
  let closest = Infinity;
  for (const x of left) closest = Math.min(closest, Math.abs(x - target));
  f(18, Math.min(1.5, Math.log1p(closest) / LOG100));
  f(19, r === move.step.a || r === move.step.b);
  f(20, r < 10);
}

/** The legal moves of a state and their features, row-major (moves × FEATURE_COUNT). */
export interface StateFeatures {
  moves: Move[];
  features: Float64Array;
}

const memo = new Map<string, StateFeatures>();

/**
 * Legal moves and features of a state, memoised: sampling visits the same states many times.
 * Callers must not mutate the result.
 */
export function stateFeatures(numbers: readonly number[], target: number): StateFeatures {
  const key = `${sortDesc(numbers).join(',')}>${target}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const moves = legalMoves(numbers);
  const features = new Float64Array(moves.length * FEATURE_COUNT);
  moves.forEach((move, i) => writeMoveFeatures(move, target, features, i * FEATURE_COUNT));
  if (memo.size > 100_000) memo.clear();
  const value = { moves, features };
  memo.set(key, value);
  return value;
}

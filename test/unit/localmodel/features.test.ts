import { expect, test } from 'vitest';
import { FEATURE_COUNT, FEATURE_NAMES, stateFeatures } from '../../../localmodel/features.js';

const feature = (numbers: number[], target: number, moveText: string, name: (typeof FEATURE_NAMES)[number]) => {
  const { moves, features } = stateFeatures(numbers, target);
  const i = moves.findIndex((m) => m.text === moveText);
  expect(i).toBeGreaterThanOrEqual(0);
  return features[i * FEATURE_COUNT + FEATURE_NAMES.indexOf(name)];
};

test('the last step knows when it solves the problem', () => {
  expect(feature([20, 4], 24, '20 + 4 = 24', 'solved')).toBe(1);
  expect(feature([20, 4], 24, '20 - 4 = 16', 'solved')).toBe(0);
});

test('with two numbers left it knows whether the target is one operation away', () => {
  expect(feature([10, 2, 4], 48, '10 + 2 = 12', 'target-one-op-away')).toBe(1); // 12 * 4
  expect(feature([10, 2, 4], 20, '4 / 2 = 2', 'target-one-op-away')).toBe(1); // 10 * 2
  expect(feature([10, 2, 4], 23, '10 + 2 = 12', 'target-one-op-away')).toBe(0);
});

test('with three numbers left it knows whether the others can make the partner it needs', () => {
  // 75 - 3 = 72; 72 / (8 - 5) = 24
  expect(feature([75, 3, 8, 5], 24, '75 - 3 = 72', 'others-make-partner')).toBe(1);
  expect(feature([75, 3, 8, 5], 24, '75 + 3 = 78', 'others-make-partner')).toBe(0);
});

test('every feature is finite and bounded', () => {
  const { features } = stateFeatures([99, 98, 97, 1], 10);
  for (const v of features) expect(Math.abs(v)).toBeLessThanOrEqual(2);
});

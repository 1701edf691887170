import { describe, expect, test } from 'vitest';
import { rocAuc, stepAccuracy, stepLabelMetrics } from '../../../lib/metrics/step-labels.js';

const row = (score: number, label: boolean) => ({ score, label });

describe('rocAuc', () => {
  test('1 when every positive outscores every negative, 0 when reversed, 0.5 for all ties', () => {
    expect(rocAuc([row(0.9, true), row(0.8, true), row(0.1, false)])).toBe(1);
    expect(rocAuc([row(0.1, true), row(0.9, false), row(0.8, false)])).toBe(0);
    expect(rocAuc([row(0.5, true), row(0.5, false), row(0.5, true)])).toBe(0.5);
  });

  test('counts pairs, ties half: the Mann–Whitney U over positives × negatives', () => {
    // pairs (pos, neg): (0.8,0.6)=1, (0.8,0.9)=0, (0.6,0.6)=0.5, (0.6,0.9)=0  → 1.5 / 4
    expect(rocAuc([row(0.8, true), row(0.6, true), row(0.6, false), row(0.9, false)])).toBeCloseTo(0.375, 12);
  });

  test('NaN without both classes', () => {
    expect(rocAuc([row(0.2, true)])).toBeNaN();
    expect(rocAuc([])).toBeNaN();
  });
});

describe('stepAccuracy', () => {
  test('score ≥ threshold means good', () => {
    expect(stepAccuracy([row(0.5, true), row(0.49, false), row(0.7, false), row(0.2, true)])).toBe(0.5);
    expect(stepAccuracy([row(0.7, false)], 0.8)).toBe(1);
    expect(stepLabelMetrics([row(0.9, true), row(0.1, false)])).toEqual({ accuracy: 1, balancedAccuracy: 1, auc: 1, steps: 2, positives: 1 });
  });

  test('balanced: the mean of the accuracy on good and on bad steps', () => {
    // 3 bad steps right, 1 good step wrong: accuracy 0.75, balanced (1 + 0) / 2.
    const rows = [row(0.1, false), row(0.2, false), row(0.3, false), row(0.4, true)];
    expect(stepLabelMetrics(rows)).toMatchObject({ accuracy: 0.75, balancedAccuracy: 0.5 });
    expect(stepLabelMetrics([row(0.9, true)]).balancedAccuracy).toBeNaN();
  });
});

import { describe, expect, it } from 'vitest';
import { balancedStepAccuracy, stepLabelMetrics } from '../../../lib/metrics/step-labels.js';
import { prmGate } from '../../../lib/round/prm-gate.js';

const m = (balancedAccuracy: number, steps = 10, accuracy = balancedAccuracy) => ({ accuracy, balancedAccuracy, auc: 0.8, steps, positives: 5 });

describe('prmGate', () => {
  it('promotes the first measured PRM, and a candidate whose balanced accuracy does not drop', () => {
    expect(prmGate(m(0.6), null, 0).promoted).toBe(true);
    expect(prmGate(m(0.7), m(0.7), 0).promoted).toBe(true);
    expect(prmGate(m(0.68), m(0.7), 0.05).promoted).toBe(true);
  });

  it('keeps the incumbent when balanced accuracy drops, saying by how much; refuses an unmeasured candidate', () => {
    expect(prmGate(m(0.69), m(0.7), 0)).toEqual({ promoted: false, reason: 'balanced held-out step accuracy 0.6900 < 0.7000 (the current PRM\'s 0.7000 − 0)' });
    expect(prmGate(m(NaN, 0), null, 0)).toMatchObject({ promoted: false, reason: expect.stringMatching(/no held-out step labels/) });
  });

  it('is not fooled by a PRM that calls every step bad when most steps are bad', () => {
    // 95 bad steps, 5 good: "all bad" is 95% accurate and learns nothing; the candidate finds 4 of the 5 good ones.
    const labels = [...Array.from({ length: 95 }, () => false), ...Array.from({ length: 5 }, () => true)];
    const allBad = stepLabelMetrics(labels.map((label) => ({ score: 0.1, label })));
    const candidate = stepLabelMetrics(labels.map((label, i) => ({ score: label ? (i < 99 ? 0.9 : 0.2) : i < 10 ? 0.7 : 0.1, label })));
    expect(allBad.accuracy).toBeGreaterThan(candidate.accuracy); // 0.95 > 0.89
    expect(allBad.balancedAccuracy).toBe(0.5);
    expect(candidate.balancedAccuracy).toBeCloseTo((0.8 + 85 / 95) / 2, 12);
    expect(prmGate(candidate, allBad, 0).promoted).toBe(true);
    expect(prmGate(allBad, candidate, 0).promoted).toBe(false);
  });

  it('falls back to plain accuracy where the held-out labels have one class only', () => {
    expect(balancedStepAccuracy([{ score: 0.9, label: true }])).toBeNaN();
    expect(prmGate(m(NaN, 10, 0.8), m(NaN, 10, 0.9), 0)).toMatchObject({ promoted: false, reason: expect.stringMatching(/one class only/) });
  });
});

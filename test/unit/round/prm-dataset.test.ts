import { describe, expect, it } from 'vitest';
import { balanceCaps, stepLabels } from '../../../lib/round/prm-dataset.js';

describe('PRM step labels', () => {
  it('labels by the share of verified rollouts, and by the verdict where the step ended a trace', () => {
    expect(stepLabels({ rollouts: 4, verifiedRollouts: 3, verdict: null })).toEqual({ soft: 0.75, hard: true });
    expect(stepLabels({ rollouts: 4, verifiedRollouts: 2, verdict: null })).toEqual({ soft: 0.5, hard: true });
    expect(stepLabels({ rollouts: 3, verifiedRollouts: 1, verdict: null })).toEqual({ soft: 1 / 3, hard: false });
    expect(stepLabels({ rollouts: 0, verifiedRollouts: 0, verdict: true })).toEqual({ soft: 1, hard: true });
    expect(stepLabels({ rollouts: 0, verifiedRollouts: null, verdict: false })).toEqual({ soft: 0, hard: false });
    // The verdict wins over the share (a final step revisited counts its own verdict each time anyway).
    expect(stepLabels({ rollouts: 2, verifiedRollouts: 2, verdict: false })).toEqual({ soft: 1, hard: false });
  });

  it('gives no label without counts or a verdict', () => {
    expect(stepLabels({ rollouts: 0, verifiedRollouts: 0, verdict: null })).toBeNull();
    expect(stepLabels({ rollouts: 5, verifiedRollouts: null, verdict: null })).toBeNull();
  });
});

describe('PRM class balance', () => {
  it('caps the majority class at the minority', () => {
    expect(balanceCaps(900, 100)).toEqual({ positives: 100, negatives: 100 });
    expect(balanceCaps(3, 10)).toEqual({ positives: 3, negatives: 3 });
    expect(balanceCaps(5, 5)).toEqual({ positives: 5, negatives: 5 });
  });

  it('allows a ratio, and keeps nothing when a class is missing', () => {
    expect(balanceCaps(900, 100, 2)).toEqual({ positives: 200, negatives: 100 });
    expect(balanceCaps(10, 30, 1.5)).toEqual({ positives: 10, negatives: 15 });
    expect(balanceCaps(50, 0)).toEqual({ positives: 0, negatives: 0 });
    expect(() => balanceCaps(1, 1, 0.5)).toThrow(/at least 1/);
  });
});

import { describe, expect, it } from 'vitest';
import { prmGate } from '../../../lib/round/prm-gate.js';

const m = (accuracy: number, steps = 10) => ({ accuracy, auc: 0.8, steps, positives: 5 });

describe('prmGate', () => {
  it('promotes the first measured PRM, and a candidate whose accuracy does not drop', () => {
    expect(prmGate(m(0.6), null, 0).promoted).toBe(true);
    expect(prmGate(m(0.7), m(0.7), 0).promoted).toBe(true);
    expect(prmGate(m(0.68), m(0.7), 0.05).promoted).toBe(true);
  });

  it('keeps the incumbent when accuracy drops, saying by how much; refuses an unmeasured candidate', () => {
    expect(prmGate(m(0.69), m(0.7), 0)).toEqual({ promoted: false, reason: 'held-out step accuracy 0.6900 < 0.7000 (the current PRM\'s 0.7000 − 0)' });
    expect(prmGate(m(NaN, 0), null, 0)).toMatchObject({ promoted: false, reason: expect.stringMatching(/no held-out step labels/) });
  });
});

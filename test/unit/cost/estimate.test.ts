import { describe, expect, it } from 'vitest';
import { checkBudget, estimateStage, formatCost } from '../../../lib/cost/index.js';

const price = { inputPerMTok: 1, outputPerMTok: 4 };

describe('estimateStage', () => {
  it('planned samples × the mean tokens per sample so far', () => {
    const e = estimateStage({ plannedSamples: 8000, soFar: { samples: 100, inputTokens: 5_000, outputTokens: 20_000 }, maxCompletionTokens: 512, price });
    expect(e).toEqual({ inputTokens: 400_000, outputTokens: 1_600_000, tokens: 2_000_000, cost: expect.closeTo(6.8, 12), basis: 'history' });
  });

  it('before any sample, assumes every completion reaches the cap (an upper bound)', () => {
    const e = estimateStage({ plannedSamples: 10, soFar: { samples: 0, inputTokens: 0, outputTokens: 0 }, maxCompletionTokens: 512, promptTokensGuess: 30, price });
    expect(e).toEqual({ inputTokens: 300, outputTokens: 5120, tokens: 5420, cost: (300 + 5120 * 4) / 1e6, basis: 'cap' });
    expect(estimateStage({ plannedSamples: 10, soFar: null, maxCompletionTokens: 8, price: null })).toEqual({
      inputTokens: 0, outputTokens: 80, tokens: 80, cost: null, basis: 'cap',
    });
  });

  it('rounds token estimates up and refuses a bad plan', () => {
    expect(estimateStage({ plannedSamples: 3, soFar: { samples: 2, inputTokens: 3, outputTokens: 5 }, maxCompletionTokens: 1, price: null }).tokens).toBe(5 + 8);
    expect(() => estimateStage({ plannedSamples: -1, soFar: null, maxCompletionTokens: 1, price })).toThrow(/plannedSamples must be a whole number/);
  });
});

describe('checkBudget', () => {
  it('fits when spent + estimate stays within every limit, the limit itself included', () => {
    expect(checkBudget({}, { cost: 1e9, tokens: 1e12 }, { cost: 1, tokens: 1 })).toEqual({ fits: true });
    expect(checkBudget({ maxCost: 10, maxTokens: 100 }, { cost: 6, tokens: 40 }, { cost: 4, tokens: 60 })).toEqual({ fits: true });
  });

  it('refuses past maxTokens, with the numbers', () => {
    const v = checkBudget({ maxTokens: 100 }, { cost: 0, tokens: 40 }, { cost: 0, tokens: 61 }, 'generate of round 2');
    expect(v).toMatchObject({ fits: false, limit: 'maxTokens', max: 100, spent: 40, estimate: 61 });
    expect(v.fits === false && v.message).toBe('generate of round 2 would use about 61 tokens after 40 so far, past budget.maxTokens 100: raise the budget or stop the run');
  });

  it('refuses past maxCost, and refuses an unpriced stage under a cost limit', () => {
    const v = checkBudget({ maxCost: 10 }, { cost: 6, tokens: 0 }, { cost: 4.5, tokens: 1 });
    expect(v).toMatchObject({ fits: false, limit: 'maxCost', max: 10, spent: 6, estimate: 4.5 });
    expect(v.fits === false && v.message).toMatch(/would cost about \$4\.50 after \$6\.00 so far, past budget\.maxCost \$10\.00/);
    const unpriced = checkBudget({ maxCost: 10 }, { cost: 0, tokens: 0 }, { cost: null, tokens: 1 });
    expect(unpriced.fits === false && unpriced.message).toMatch(/an unpriced amount/);
    expect(checkBudget({ maxTokens: 10 }, { cost: 0, tokens: 0 }, { cost: null, tokens: 1 })).toEqual({ fits: true });
  });
});

describe('formatCost', () => {
  it('cents from a dollar, two significant digits below', () => {
    expect(formatCost(12.345)).toBe('$12.35');
    expect(formatCost(0)).toBe('$0.00');
    expect(formatCost(0.004213)).toBe('$0.0042');
  });
});

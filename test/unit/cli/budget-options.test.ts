import { describe, expect, it } from 'vitest';
import { parseBudgetOptions } from '../../../cli/control.js';
import { UsageError } from '../../../cli/errors.js';

describe('flywheel budget options', () => {
  it('takes either limit or both', () => {
    expect(parseBudgetOptions({ maxCost: '12.5' })).toEqual({ maxCost: 12.5 });
    expect(parseBudgetOptions({ maxTokens: '5000000' })).toEqual({ maxTokens: 5_000_000 });
    expect(parseBudgetOptions({ maxCost: '3', maxTokens: '10' })).toEqual({ maxCost: 3, maxTokens: 10 });
  });

  it('refuses no limit, a non-number, zero and fractional tokens as usage errors', () => {
    expect(() => parseBudgetOptions({})).toThrow(UsageError);
    expect(() => parseBudgetOptions({})).toThrow(/needs maxCost or maxTokens/);
    expect(() => parseBudgetOptions({ maxCost: 'ten' })).toThrow(/maxCost must be a number > 0, got null/);
    expect(() => parseBudgetOptions({ maxCost: '0' })).toThrow(/maxCost must be a number > 0/);
    expect(() => parseBudgetOptions({ maxTokens: '1.5' })).toThrow(/maxTokens must be a whole number > 0, got 1.5/);
  });
});

import { describe, expect, it } from 'vitest';
import { priceFor, priceTraining, priceUsage } from '../../../lib/cost/index.js';

const mini = { inputPerMTok: 0.15, outputPerMTok: 0.6 };
const tuned = { inputPerMTok: 0.3, outputPerMTok: 1.2 };
const anyFt = { inputPerMTok: 1, outputPerMTok: 2 };

describe('priceFor', () => {
  const models = { 'gpt-4o-mini': mini, 'ft:gpt-4o-mini:*': tuned, 'ft:*': anyFt };

  it('takes the exact name first', () => {
    expect(priceFor(models, 'gpt-4o-mini')).toBe(mini);
  });

  it('else the longest prefix key that the name starts with', () => {
    expect(priceFor(models, 'ft:gpt-4o-mini:acme:abc123')).toBe(tuned);
    expect(priceFor(models, 'ft:llama-3:acme:x')).toBe(anyFt);
  });

  it('is null for a model no key prices', () => {
    expect(priceFor(models, 'gpt-4o')).toBeNull();
    expect(priceFor({}, 'gpt-4o-mini')).toBeNull();
  });

  it('does not treat a name with a star in it as a wildcard of itself', () => {
    expect(priceFor({ 'a*': mini }, 'a*')).toBe(mini);
    expect(priceFor({ 'a*': mini }, 'b')).toBeNull();
  });
});

describe('priceUsage', () => {
  it('prices prompt and completion tokens per million', () => {
    expect(priceUsage(mini, { inputTokens: 2_000_000, outputTokens: 500_000 })).toBeCloseTo(0.3 + 0.3, 12);
    expect(priceUsage(mini, { inputTokens: 0, outputTokens: 0 })).toBe(0);
    expect(priceUsage({ inputPerMTok: 3, outputPerMTok: 15 }, { inputTokens: 1234, outputTokens: 567 })).toBeCloseTo((1234 * 3 + 567 * 15) / 1e6, 12);
  });
});

describe('priceTraining', () => {
  it('per GPU-hour times the GPUs a job holds', () => {
    expect(priceTraining({ perGpuHour: 2.5, gpus: 8 }, { trainedTokens: 1e9, hours: 1.5 })).toBeCloseTo(30, 12);
  });

  it('per million trained tokens', () => {
    expect(priceTraining({ perMTrainedTokens: 3 }, { trainedTokens: 2_500_000, hours: 99 })).toBeCloseTo(7.5, 12);
  });

  it('is null without a trainer price', () => {
    expect(priceTraining(undefined, { trainedTokens: 10, hours: 1 })).toBeNull();
  });
});

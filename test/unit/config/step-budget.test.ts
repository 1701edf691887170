import { describe, expect, it } from 'vitest';
import { ConfigError, parseRunConfig } from '../../../config/load.js';

describe('search.step budgets', () => {
  it('counts calls by default, and tokens when asked', () => {
    expect(parseRunConfig('task: {kind: countdown}\n').search.step).toMatchObject({ budget: 64, budgetUnit: 'calls' });
    const step = parseRunConfig('task: {kind: countdown}\nsearch: {step: {strategy: mcts, budget: 20000, budgetUnit: tokens}}\n').search.step;
    expect(step).toMatchObject({ budget: 20000, budgetUnit: 'tokens' });
  });

  it('refuses more than 4096 calls and says how to budget in tokens', () => {
    try {
      parseRunConfig('task: {kind: countdown}\nsearch:\n  step: {strategy: mcts, budget: 20000}\n', 'run.yaml', {});
      expect.unreachable('a call budget of 20000 was accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const [issue] = (err as ConfigError).issues;
      expect(issue!.path).toBe('search.step.budget');
      expect(issue!.message).toMatch(/at most 4096 model calls.*budgetUnit: tokens/);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { rolloutLabels } from '../../../lib/search/rollout-labels.js';
import { TRAP, answerVerifier, createFakeModel } from './fake-model.js';

const problem = { prompt: 'Find 42.', reference: '42' };

describe('Math-Shepherd rollout labels', () => {
  it('rolls k times from each step prefix, shares prefixes between traces, labels the answer by its verdict', async () => {
    const model = createFakeModel(TRAP);
    const traces = ['b\nb1\nAnswer: 7', 'b\nb2\nAnswer: 42'];
    const out = await rolloutLabels(problem, traces, { model, verifier: answerVerifier, rollouts: 4, budget: 100, seed: 3 });
    // Rolled from 'b\n' once, 'b\nb1\n' and 'b\nb2\n': 3 prefixes × 4 rollouts.
    expect(model.requests.map((r) => [r.kind, r.partial, r.n])).toEqual([
      ['rollout', 'b\n', 4],
      ['rollout', 'b\nb1\n', 4],
      ['rollout', 'b\nb2\n', 4],
    ]);
    expect(out.calls).toBe(12);
    const by = new Map(out.steps.map((s) => [`${s.prefix}${s.step}`, s]));
    expect(by.get('b\nb1')).toMatchObject({ depth: 2, rollouts: 4, verifiedRollouts: 0, value: 0 });
    expect(by.get('b\nb2')).toMatchObject({ depth: 2, rollouts: 4, verifiedRollouts: 4, value: 1 });
    const b = by.get('b')!;
    expect(b.rollouts).toBe(4);
    expect(b.verifiedRollouts).toBeGreaterThan(0); // b → b2 → 42 has probability 0.4 at temperature 1
    expect(by.get('b\nb1\nAnswer: 7')).toMatchObject({ rollouts: 0, verdict: false, value: 0 });
    expect(by.get('b\nb2\nAnswer: 42')).toMatchObject({ rollouts: 0, verdict: true, value: 1 });
    expect(out.steps).toHaveLength(5);
  });

  it('never spends more than its budget; steps past it stay unlabelled', async () => {
    const model = createFakeModel(TRAP);
    const out = await rolloutLabels(problem, ['a\na1\nAnswer: 1'], { model, verifier: answerVerifier, rollouts: 3, budget: 5 });
    expect(out.calls).toBe(3);
    expect(out.steps.map((s) => s.rollouts)).toEqual([3, 0, 0]);
  });
});

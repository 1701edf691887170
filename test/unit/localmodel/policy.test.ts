import { describe, expect, test } from 'vitest';
import { generateCountdown, legalMoves } from '../../../lib/tasks/countdown.js';
import { createRng } from '../../../lib/rng.js';
import { greedyPassAt1 } from '../../../localmodel/evaluate.js';
import {
  createBasePolicy,
  policyFromJson,
  policyToJson,
  rollout,
  rolloutText,
  stepDistribution,
} from '../../../localmodel/policy.js';

const problems = generateCountdown({ seed: 11, train: 0, test: 200 });

describe('base policy', () => {
  test('is exactly uniform over legal moves', () => {
    const base = createBasePolicy();
    for (const p of problems.slice(0, 20)) {
      const dist = stepDistribution(base, p.numbers, p.target);
      expect(dist.moves.length).toBe(legalMoves(p.numbers).length);
      for (const lp of dist.logprobs) expect(lp).toBeCloseTo(-Math.log(dist.moves.length), 12);
    }
  });

  test('greedy solves almost nothing (≤ 5% held-out pass@1)', () => {
    expect(greedyPassAt1(createBasePolicy(), problems)).toBeLessThanOrEqual(0.05);
  });

  test('greedy decoding is deterministic: ties go to the first legal move', () => {
    const base = createBasePolicy();
    const p = problems[0]!;
    const a = rollout(base, p, { temperature: 0, rng: createRng(1) });
    const b = rollout(base, p, { temperature: 0, rng: createRng(999) });
    expect(a.steps).toEqual(b.steps);
    expect(a.steps[0]).toEqual(legalMoves(p.numbers)[0]!.step);
  });

  test('the same seed gives the same weights; another seed other weights', () => {
    expect(policyToJson(createBasePolicy(5))).toEqual(policyToJson(createBasePolicy(5)));
    expect(policyToJson(createBasePolicy(5)).w1).not.toEqual(policyToJson(createBasePolicy(6)).w1);
  });
});

describe('rollout', () => {
  test('sampling is deterministic given the rng seed and writes a full trace', () => {
    const base = createBasePolicy();
    const p = problems[3]!;
    const a = rolloutText(rollout(base, p, { temperature: 1, rng: createRng(42) }));
    const b = rolloutText(rollout(base, p, { temperature: 1, rng: createRng(42) }));
    expect(a).toBe(b);
    const lines = a.split('\n');
    expect(lines).toHaveLength(p.numbers.length);
    expect(lines.at(-1)).toMatch(/^Answer: /);
  });

  test('maxTokens cuts the trace and marks it unfinished', () => {
    const r = rollout(createBasePolicy(), problems[0]!, { temperature: 1, rng: createRng(1), maxTokens: 2 });
    expect(r.tokens).toHaveLength(2);
    expect(r.finished).toBe(false);
  });

  test('topK lists the best alternatives, best first', () => {
    const r = rollout(createBasePolicy(), problems[0]!, { temperature: 1, rng: createRng(1), topK: 3 });
    expect(r.tokens[0]!.top).toHaveLength(3);
    expect(r.tokens.at(-1)!.logprob).toBe(0);
  });
});

test('weights survive a JSON round trip', () => {
  const p = createBasePolicy(3);
  p.w2[0] = 0.5;
  const back = policyFromJson(JSON.parse(JSON.stringify(policyToJson(p))));
  const s = problems[0]!;
  expect(Array.from(stepDistribution(back, s.numbers, s.target).logprobs)).toEqual(Array.from(stepDistribution(p, s.numbers, s.target).logprobs));
});

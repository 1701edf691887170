import { describe, expect, test } from 'vitest';
import { formatTrace, generateCountdown, solve } from '../../../lib/tasks/countdown.js';
import { examplesFromKept, greedyPassAt1, sampleCorrectTraces } from '../../../localmodel/evaluate.js';
import { createBasePolicy, policyToJson } from '../../../localmodel/policy.js';
import { DEFAULT_TRAIN, examplesFromTrace, trainPolicy } from '../../../localmodel/train.js';

const set = generateCountdown({ seed: 21, train: 150, test: 100 });
const train = set.filter((p) => p.split === 'train');
const test_ = set.filter((p) => p.split === 'test');

describe('examplesFromTrace', () => {
  test('turns each legal step into a decision at its state', () => {
    const p = train[0]!;
    const trace = formatTrace(p, solve(p)!);
    const examples = examplesFromTrace(p, trace);
    expect(examples).toHaveLength(p.numbers.length - 1);
    expect(examples[0]!.numbers).toEqual([...p.numbers].sort((a, b) => b - a));
    expect(examples.every((e) => e.target === p.target && e.choice >= 0)).toBe(true);
  });

  test('stops at the first illegal step', () => {
    const p = { numbers: [10, 5, 3, 2], target: 16 };
    expect(examplesFromTrace(p, '10 + 5 = 15\n99 - 3 = 96\n15 - 3 = 12')).toHaveLength(1);
  });
});

describe('trainPolicy', () => {
  // One round of expert iteration on a small set: the policy's own verified samples teach it.
  const sampled = sampleCorrectTraces(createBasePolicy(), train, { samples: 16, temperature: 1, seed: 1, keepPerProblem: 4 });
  const examples = examplesFromKept(sampled.kept);

  test('learning from verified samples lifts greedy pass@1 clearly', () => {
    expect(examples.length).toBeGreaterThan(50);
    const before = greedyPassAt1(createBasePolicy(), train);
    const { policy, losses } = trainPolicy(examples, { ...DEFAULT_TRAIN, seed: 1 });
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    const trainAfter = greedyPassAt1(policy, train);
    expect(before).toBeLessThanOrEqual(0.05);
    expect(trainAfter).toBeGreaterThan(0.4);
    expect(greedyPassAt1(policy, test_)).toBeGreaterThan(0.4);
  });

  test('is deterministic given the seed, and the seed matters', () => {
    const opts = { ...DEFAULT_TRAIN, epochs: 3, seed: 7 };
    const a = policyToJson(trainPolicy(examples, opts).policy);
    const b = policyToJson(trainPolicy(examples, opts).policy);
    const c = policyToJson(trainPolicy(examples, { ...opts, seed: 8 }).policy);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  test('reports progress once per epoch and can continue from given weights', () => {
    const seen: number[] = [];
    const first = trainPolicy(examples, { ...DEFAULT_TRAIN, epochs: 2, seed: 1, onProgress: (p) => seen.push(p.epoch) });
    expect(seen).toEqual([1, 2]);
    const init = policyToJson(first.policy);
    const more = trainPolicy(examples, { ...DEFAULT_TRAIN, epochs: 2, seed: 1, init: first.policy });
    expect(policyToJson(first.policy)).toEqual(init); // the start weights are not mutated
    expect(more.losses[0]).toBeLessThan(first.losses[0]!);
  });
});

import { describe, expect, it } from 'vitest';
import { majAtK, meanMajAtK, type VotedSample } from '../../../lib/metrics/index.js';

const s = (answer: string | null, correct = false): VotedSample => ({ answer, correct });

describe('majAtK', () => {
  it('takes the most common answer of the first k samples', () => {
    const samples = [s('3'), s('4', true), s('4', true), s('3'), s('3')];
    expect(majAtK(samples, 3)).toEqual({ answer: '4', correct: true, votes: 2 });
    expect(majAtK(samples, 5)).toEqual({ answer: '3', correct: false, votes: 3 });
  });

  it('breaks ties by the earliest first appearance', () => {
    expect(majAtK([s('b'), s('a', true)], 2).answer).toBe('b');
    expect(majAtK([s('b'), s('a', true), s('a', true)], 2)).toEqual({ answer: 'b', correct: false, votes: 1 });
    expect(majAtK([s('b'), s('a', true), s('a', true)], 3)).toEqual({ answer: 'a', correct: true, votes: 2 });
  });

  it('ignores samples without an answer, and is wrong when none has one', () => {
    expect(majAtK([s(null), s(null), s('7', true)], 3)).toEqual({ answer: '7', correct: true, votes: 1 });
    expect(majAtK([s(null), s(null)], 2)).toEqual({ answer: null, correct: false, votes: 0 });
  });

  it('refuses k larger than the samples', () => {
    expect(() => majAtK([s('1')], 2)).toThrow(/maj@2 needs at least 2 samples/);
  });
});

describe('meanMajAtK', () => {
  const problems = [
    [s('1', true), s('2'), s('2')], // first 1: right; first 3: wrong
    [s('5'), s('6', true), s('6', true)], // first 1: wrong; first 3: right
  ];

  it('uses the first k samples by default', () => {
    expect(meanMajAtK(problems, 1)).toBe(0.5);
    expect(meanMajAtK(problems, 3)).toBe(0.5);
    expect(meanMajAtK([[s('1', true), s('2')]], 1)).toBe(1);
  });

  it('estimates the expectation over k-subsets when resampling, reproducibly', () => {
    // One correct sample among three, k = 1: the expected maj@1 is 1/3 (the first sample alone says 1).
    const one = [[s('x', true), s('y'), s('y')]];
    const estimate = meanMajAtK(one, 1, { resamples: 3000, seed: 7 });
    expect(estimate).toBeGreaterThan(0.3);
    expect(estimate).toBeLessThan(0.37);
    expect(meanMajAtK(one, 1, { resamples: 3000, seed: 7 })).toBe(estimate);
    // k = 2 of [x✓, y, y]: subsets {x,y} ×2 (tie → x, the earlier, right) and {y,y} (wrong): 2/3.
    const two = meanMajAtK(one, 2, { resamples: 3000, seed: 1 });
    expect(two).toBeGreaterThan(0.63);
    expect(two).toBeLessThan(0.7);
  });

  it('refuses an empty problem list', () => {
    expect(() => meanMajAtK([], 1)).toThrow(/no problems/);
  });
});

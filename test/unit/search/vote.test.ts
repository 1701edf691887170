import { describe, expect, it } from 'vitest';
import { bestOfN, majorityVote, scoreSamples } from '../../../lib/search/vote.js';

const s = (index: number, answer: string | null, extra: object = {}) => ({ index, answer, ...extra });

describe('majority vote', () => {
  it('picks the most frequent answer and the earliest sample that gave it', () => {
    expect(majorityVote([s(0, '4'), s(1, '5'), s(2, '5'), s(3, null), s(4, '4'), s(5, '5')])).toEqual({ answer: '5', votes: 3, index: 1 });
  });
  it('breaks ties by first appearance and ignores samples without an answer', () => {
    expect(majorityVote([s(0, null), s(1, 'b'), s(2, 'a'), s(3, 'a'), s(4, 'b')])).toEqual({ answer: 'b', votes: 2, index: 1 });
    expect(majorityVote([s(0, null)])).toEqual({ answer: null, votes: 0, index: -1 });
  });
});

describe('best-of-N', () => {
  const samples = [s(0, 'x', { logprob: -2, verifierScore: 0.1 }), s(1, 'y', { logprob: -0.5, verifierScore: 0 }), s(2, 'x', { logprob: -1, verifierScore: 1 })];
  it('ranks by self-consistency, log-probability or the verifier', () => {
    expect(scoreSamples(samples, 'self-consistency')).toEqual([2 / 3, 1 / 3, 2 / 3]);
    expect(bestOfN(samples, scoreSamples(samples, 'self-consistency'))).toBe(0);
    expect(bestOfN(samples, scoreSamples(samples, 'logprob'))).toBe(1);
    expect(bestOfN(samples, scoreSamples(samples, 'verifier'))).toBe(2);
  });
});

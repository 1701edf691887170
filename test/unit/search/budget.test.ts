import { describe, expect, it } from 'vitest';
import { allocateBudget, estimateDifficulty, missProbability } from '../../../lib/search/budget.js';

describe('difficulty', () => {
  it('is a Beta posterior solve rate, binned', () => {
    expect(estimateDifficulty([{ n: 16, correct: 16 }])).toMatchObject({ bin: 'solved-always', solveRate: 17 / 18 });
    expect(estimateDifficulty([{ n: 16, correct: 12 }])).toMatchObject({ bin: 'easy', solveRate: 13 / 18 });
    expect(estimateDifficulty([{ n: 16, correct: 5 }])).toMatchObject({ bin: 'medium', solveRate: 6 / 18 });
    expect(estimateDifficulty([{ n: 4, correct: 0 }])).toMatchObject({ bin: 'hard', solveRate: 1 / 6 });
    expect(estimateDifficulty([])).toMatchObject({ bin: 'unseen', solveRate: 0.5 });
    expect(estimateDifficulty([{ n: 10, correct: 0 }], { prior: { alpha: 2, beta: 2 } }).solveRate).toBeCloseTo(2 / 14, 12);
  });

  it('weighs older rounds down, and one miss anywhere means not solved-always', () => {
    const d = estimateDifficulty([
      { n: 8, correct: 0 },
      { n: 8, correct: 8 },
    ]);
    expect(d.samples).toBe(12); // 8 × 0.5 + 8
    expect(d.correct).toBe(8);
    expect(d.bin).toBe('easy');
    expect(estimateDifficulty([{ n: 8, correct: 0 }, { n: 8, correct: 8 }], { recency: 1 }).solveRate).toBeCloseTo(9 / 18, 12);
  });

  it('the miss probability is E[(1 - p)^k] under the posterior', () => {
    expect(missProbability(1, 1, 1)).toBeCloseTo(0.5, 12);
    expect(missProbability(1, 1, 3)).toBeCloseTo(1 / 4, 12); // ∫(1-p)^3 dp
    expect(missProbability(3, 2, 0)).toBe(1);
  });
});

describe('allocating a budget', () => {
  const history = [
    { problemId: 'always', rounds: [{ n: 4, correct: 4 }] },
    { problemId: 'medium', rounds: [{ n: 4, correct: 1 }] },
    { problemId: 'hard', rounds: [{ n: 4, correct: 0 }] },
    { problemId: 'new', rounds: [] },
  ];

  it('spends exactly the total, gives every problem its floor, and the solved ones little', () => {
    const alloc = allocateBudget(history, { totalCalls: 40 });
    expect(alloc.reduce((s, a) => s + a.calls, 0)).toBe(40);
    const by = Object.fromEntries(alloc.map((a) => [a.problemId, a]));
    expect(by.always).toMatchObject({ bin: 'solved-always', strategy: 'best-of-n' });
    expect(by.medium).toMatchObject({ bin: 'medium', strategy: 'mcts' });
    expect(by.hard).toMatchObject({ bin: 'hard', strategy: 'mcts' });
    expect(by.new).toMatchObject({ bin: 'unseen', strategy: 'best-of-n' });
    for (const a of alloc) expect(a.calls).toBeGreaterThanOrEqual(1);
    expect(by.always!.calls).toBeLessThan(by.medium!.calls);
    expect(by.always!.calls).toBeLessThan(by.hard!.calls);
    for (const a of alloc) expect(a.expectedSolve).toBeCloseTo(1 - missProbability(...beta(a.problemId), a.calls), 12);
  });

  it('matches the documented example, and gives each call to the largest marginal gain', () => {
    const alloc = allocateBudget(history.slice(0, 2), { totalCalls: 20 });
    expect(alloc.map((a) => [a.problemId, a.bin, a.strategy, a.calls])).toEqual([
      ['always', 'solved-always', 'best-of-n', 4],
      ['medium', 'medium', 'mcts', 16],
    ]);
    // Moving one call from either problem to the other never raises the expected number solved.
    const expected = (calls: number[]) => calls.reduce((s, k, i) => s + 1 - missProbability(...beta(history[i]!.problemId), k), 0);
    const best = expected([4, 16]);
    for (let k = 0; k <= 20; k++) expect(expected([k, 20 - k])).toBeLessThanOrEqual(best + 1e-12);
  });

  it('respects maxCalls, and a total below the floor goes to the likeliest solves first', () => {
    const capped = allocateBudget(history, { totalCalls: 1000, maxCalls: 10 });
    expect(capped.map((a) => a.calls)).toEqual([10, 10, 10, 10]);
    const short = allocateBudget(history, { totalCalls: 2 });
    expect(short.map((a) => a.calls)).toEqual([1, 0, 0, 1]);
    expect(allocateBudget([], { totalCalls: 10 })).toEqual([]);
  });

  it('custom strategies per bin', () => {
    const alloc = allocateBudget(history, { totalCalls: 8, strategies: { hard: 'beam', unseen: 'mcts' } });
    expect(alloc.map((a) => a.strategy)).toEqual(['best-of-n', 'mcts', 'beam', 'mcts']);
  });
});

/** Posterior Beta parameters of the test histories (uniform prior). */
function beta(id: string | number): [number, number] {
  const counts: Record<string, [number, number]> = { always: [4, 4], medium: [4, 1], hard: [4, 0], new: [0, 0] };
  const [n, c] = counts[String(id)]!;
  return [1 + c, 1 + n - c];
}

import { describe, expect, it } from 'vitest';
import { meanPassAtK, passAtK } from '../../../lib/metrics/index.js';

/** C(n, k) exactly, to check the product form against the definition. */
function choose(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

describe('passAtK', () => {
  it('matches values worked out by hand', () => {
    // 1 - C(3,2)/C(5,2) = 1 - 3/10
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 12);
    // k = 1 is the fraction correct: 2/5
    expect(passAtK(5, 2, 1)).toBeCloseTo(0.4, 12);
    // 1 - C(7,5)/C(10,5) = 1 - 21/252 = 11/12
    expect(passAtK(10, 3, 5)).toBeCloseTo(11 / 12, 12);
    // 1 - C(3,3)/C(6,3) = 1 - 1/20
    expect(passAtK(6, 3, 3)).toBeCloseTo(0.95, 12);
  });

  it('is 1 when every k-subset must hold a correct sample, 0 with no correct sample', () => {
    expect(passAtK(4, 1, 4)).toBe(1); // n - c = 3 < k = 4
    expect(passAtK(5, 5, 1)).toBe(1);
    expect(passAtK(10, 0, 3)).toBe(0);
  });

  it('agrees with the exact binomial form for large n', () => {
    for (const [n, c, k] of [
      [200, 100, 100],
      [1000, 1, 1],
      [1000, 7, 50],
      [64, 10, 32],
    ] satisfies Array<[number, number, number]>) {
      const exact = 1 - Number((choose(n - c, k) * 10n ** 15n) / choose(n, k)) / 1e15;
      expect(passAtK(n, c, k)).toBeCloseTo(exact, 12);
    }
  });

  it('refuses k > n and impossible counts with a clear error', () => {
    expect(() => passAtK(3, 1, 4)).toThrow(/pass@4 needs at least 4 samples.*n=3/);
    expect(() => passAtK(3, 4, 1)).toThrow(/0 <= c <= n/);
    expect(() => passAtK(3, 1, 0)).toThrow(/k >= 1/);
    expect(() => passAtK(3.5, 1, 1)).toThrow(/whole numbers/);
  });

  it('averages over problems', () => {
    expect(meanPassAtK([{ n: 5, c: 2 }, { n: 4, c: 0 }], 2)).toBeCloseTo(0.35, 12);
    expect(() => meanPassAtK([], 1)).toThrow(/no problems/);
  });
});

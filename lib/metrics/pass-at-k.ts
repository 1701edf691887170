/**
 * pass@k, the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code"): with
 * n samples of which c are correct, the chance that k samples drawn without replacement hold at least one correct,
 * 1 - C(n-c, k) / C(n, k), computed as a product so that it stays exact-ish for large n.
 */

function assertCounts(n: number, c: number, k: number): void {
  if (![n, c, k].every(Number.isInteger)) throw new RangeError(`pass@k needs whole numbers, got n=${n}, c=${c}, k=${k}`);
  if (n < 1 || c < 0 || c > n) throw new RangeError(`pass@k needs 0 <= c <= n and n >= 1, got n=${n}, c=${c}`);
  if (k < 1) throw new RangeError(`pass@k needs k >= 1, got k=${k}`);
  if (k > n) throw new RangeError(`pass@${k} needs at least ${k} samples of the problem, it has n=${n}: sample more, or ask for a smaller k`);
}

/**
 * @example
 * passAtK(5, 2, 2) // 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7
 */
export function passAtK(n: number, c: number, k: number): number {
  assertCounts(n, c, k);
  if (n - c < k) return 1; // every k-subset holds a correct sample
  // C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i)
  let allWrong = 1;
  for (let i = n - c + 1; i <= n; i++) allWrong *= 1 - k / i;
  return 1 - allWrong;
}

/** Per-problem sample counts: n samples, c of them correct. */
export interface SampleCounts {
  n: number;
  c: number;
}

/** The mean of pass@k over problems. Throws on an empty list (there is no mean to report). */
export function meanPassAtK(problems: readonly SampleCounts[], k: number): number {
  if (problems.length === 0) throw new RangeError('mean pass@k over no problems: evaluate at least one problem');
  let sum = 0;
  for (const p of problems) sum += passAtK(p.n, p.c, k);
  return sum / problems.length;
}

/**
 * Coverage (pass@k over a problem set as k grows) and its scaling law. Brown et al. 2024 ("Large Language
 * Monkeys") find coverage follows an exponentiated power law c(k) ≈ exp(a·k^b), with a < 0 and b < 0: then
 * log(−log c) = log(−a) + b·log k is a line in log k, fitted here by least squares over the points with 0 < c < 1.
 * From the fit, the k at which another doubling of samples gains less than a threshold says when sampling more
 * stops paying.
 */
import { meanPassAtK, type SampleCounts } from './pass-at-k.js';

export interface CoveragePoint {
  k: number;
  /** Mean pass@k over the problems. */
  coverage: number;
}

/**
 * Mean pass@k at k = 1, 2, 4, ... up to the smallest per-problem sample count n (and at n itself), or at `ks`.
 *
 * @example
 * coverageCurve([{ n: 8, c: 1 }, { n: 8, c: 0 }]) // k = 1, 2, 4, 8
 */
export function coverageCurve(problems: readonly SampleCounts[], ks?: readonly number[]): CoveragePoint[] {
  if (problems.length === 0) throw new RangeError('coverage over no problems: evaluate at least one problem');
  const maxK = Math.min(...problems.map((p) => p.n));
  let points = ks ? [...ks] : [];
  if (!ks) {
    for (let k = 1; k <= maxK; k *= 2) points.push(k);
    if (points[points.length - 1] !== maxK) points.push(maxK);
  }
  points = [...new Set(points)].sort((a, b) => a - b);
  return points.map((k) => ({ k, coverage: meanPassAtK(problems, k) }));
}

export interface CoverageFit {
  /** c(k) = exp(a·k^b). */
  a: number;
  b: number;
  /** R² of the line in (log k, log(−log c)). */
  r2: number;
  /** Points used (those with 0 < c < 1). */
  points: number;
  /** Extrapolated coverage at k samples. */
  predict(k: number): number;
}

/**
 * Least-squares fit of c(k) = exp(a·k^b) through the points with 0 < coverage < 1; null when fewer than two
 * such points with different k remain (coverage at 0 or 1 says nothing about the curve's shape).
 */
export function fitCoverage(points: readonly CoveragePoint[]): CoverageFit | null {
  const usable = points.filter((p) => p.k > 0 && p.coverage > 0 && p.coverage < 1);
  const xs = usable.map((p) => Math.log(p.k));
  const ys = usable.map((p) => Math.log(-Math.log(p.coverage)));
  if (usable.length < 2) return null;
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const mx = mean(xs);
  const my = mean(ys);
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    syy += (ys[i]! - my) ** 2;
  }
  if (sxx === 0) return null;
  const b = sxy / sxx;
  const intercept = my - b * mx;
  const a = -Math.exp(intercept);
  const residual = ys.reduce((s, y, i) => s + (y - (intercept + b * xs[i]!)) ** 2, 0);
  return {
    a,
    b,
    r2: syy === 0 ? 1 : 1 - residual / syy,
    points: usable.length,
    predict: (k: number) => Math.exp(a * Math.pow(k, b)),
  };
}

/**
 * The first k (of 1, 2, 4, ...) where doubling to 2k raises coverage by less than `threshold` (e.g. 0.01 for one
 * point of coverage): by the fit when given one, else by the measured points (consecutive k that double). Null
 * when no doubling up to `maxK` (default 2^40) gains that little, or the points never double.
 *
 * @example
 * samplingStopsPaying(fitCoverage(coverageCurve(problems))!, 0.01) // e.g. 64
 */
export function samplingStopsPaying(
  curve: CoverageFit | readonly CoveragePoint[],
  threshold: number,
  options: { maxK?: number } = {},
): number | null {
  if ('predict' in curve) {
    const maxK = options.maxK ?? 2 ** 40;
    for (let k = 1; k <= maxK; k *= 2) {
      if (curve.predict(2 * k) - curve.predict(k) < threshold) return k;
    }
    return null;
  }
  const byK = new Map(curve.map((p) => [p.k, p.coverage]));
  for (const p of [...curve].sort((x, y) => x.k - y.k)) {
    const doubled = byK.get(2 * p.k);
    if (doubled !== undefined && doubled - p.coverage < threshold) return p.k;
  }
  return null;
}

import { describe, expect, it } from 'vitest';
import { coverageCurve, fitCoverage, samplingStopsPaying, type CoveragePoint } from '../../../lib/metrics/index.js';

describe('coverageCurve', () => {
  it('is mean pass@k at doubling k up to the smallest n', () => {
    // pass@k of (n=4, c=1): k=1 1/4, k=2 1 - C(3,2)/C(4,2) = 1/2, k=4 1; the other problem is never solved.
    const curve = coverageCurve([{ n: 4, c: 1 }, { n: 4, c: 0 }]);
    expect(curve.map((p) => p.k)).toEqual([1, 2, 4]);
    expect(curve[0]!.coverage).toBeCloseTo(0.125, 12);
    expect(curve[1]!.coverage).toBeCloseTo(0.25, 12);
    expect(curve[2]!.coverage).toBeCloseTo(0.5, 12);
  });

  it('ends at n when n is not a power of two, and takes explicit ks', () => {
    expect(coverageCurve([{ n: 6, c: 2 }]).map((p) => p.k)).toEqual([1, 2, 4, 6]);
    expect(coverageCurve([{ n: 6, c: 2 }], [3, 1]).map((p) => p.k)).toEqual([1, 3]);
  });
});

describe('fitCoverage', () => {
  const a = -1.5;
  const b = -0.5;
  const synthetic: CoveragePoint[] = [1, 2, 4, 8, 16, 32, 64, 128, 256].map((k) => ({ k, coverage: Math.exp(a * k ** b) }));

  it('recovers a and b of exp(a·k^b) from exact points', () => {
    const fit = fitCoverage(synthetic)!;
    expect(fit.a).toBeCloseTo(a, 9);
    expect(fit.b).toBeCloseTo(b, 9);
    expect(fit.r2).toBeCloseTo(1, 9);
    expect(fit.points).toBe(9);
    // exp(-1.5 / sqrt(4096)) = exp(-0.0234375)
    expect(fit.predict(4096)).toBeCloseTo(Math.exp(-0.0234375), 9);
  });

  it('recovers them roughly from noisy points, ignoring coverage of 0 and 1', () => {
    const noisy = synthetic.map((p, i) => ({ k: p.k, coverage: p.coverage * (1 + (i % 2 ? 0.01 : -0.01)) }));
    const fit = fitCoverage([...noisy, { k: 512, coverage: 1 }, { k: 0.5, coverage: 0 }])!;
    expect(fit.points).toBe(9);
    expect(fit.a).toBeCloseTo(a, 1);
    expect(fit.b).toBeCloseTo(b, 1);
  });

  it('needs two usable points', () => {
    expect(fitCoverage([{ k: 1, coverage: 0.5 }, { k: 2, coverage: 1 }])).toBeNull();
  });
});

describe('samplingStopsPaying', () => {
  it('finds the first k whose doubling gains less than the threshold, from the fit', () => {
    const fit = fitCoverage([1, 2, 4, 8, 16].map((k) => ({ k, coverage: Math.exp(-1.5 * k ** -0.5) })))!;
    // c(1024) = exp(-1.5/32) = 0.95421, c(2048) = 0.96740: +0.0132 (still pays);
    // c(4096) = exp(-1.5/64) = 0.97684: +0.0094 < 0.01, so 2048 is where doubling stops paying.
    expect(samplingStopsPaying(fit, 0.01)).toBe(2048);
    expect(samplingStopsPaying(fit, 0.2)).toBe(1);
    expect(samplingStopsPaying(fit, 1e-9, { maxK: 1024 })).toBeNull();
  });

  it('works on measured points too', () => {
    const points = [
      { k: 1, coverage: 0.3 },
      { k: 2, coverage: 0.45 },
      { k: 4, coverage: 0.52 },
      { k: 8, coverage: 0.55 },
    ];
    expect(samplingStopsPaying(points, 0.05)).toBe(4);
    expect(samplingStopsPaying(points, 0.01)).toBeNull();
  });
});

/** Evaluation metrics: pass@k (unbiased), maj@k, coverage curves and their scaling-law fit. */
export { passAtK, meanPassAtK, type SampleCounts } from './pass-at-k.js';
export { majAtK, meanMajAtK, type VotedSample, type MajorityResult, type MeanMajOptions } from './maj-at-k.js';
export { coverageCurve, fitCoverage, samplingStopsPaying, type CoveragePoint, type CoverageFit } from './coverage.js';
export { rocAuc, stepAccuracy, stepLabelMetrics, type ScoredLabel, type StepLabelMetrics } from './step-labels.js';

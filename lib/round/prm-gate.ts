/**
 * The PRM's own promotion gate: a candidate PRM becomes the run's current one when its balanced accuracy on held-out
 * problems' step labels (the mean of its accuracy on good and on bad steps) does not drop below the incumbent's by
 * more than `maxAccuracyDrop` (the first PRM of a run has no incumbent and is promoted when it was measured at all).
 * Balanced, because most of a search's steps are bad: plain accuracy would prefer a PRM that calls every step bad.
 */
import type { StepLabelMetrics } from '../metrics/step-labels.js';

export interface PrmGateDecision {
  promoted: boolean;
  reason: string;
}

export function prmGate(candidate: StepLabelMetrics, incumbent: StepLabelMetrics | null, maxAccuracyDrop: number): PrmGateDecision {
  if (candidate.steps === 0 || !Number.isFinite(candidate.accuracy)) {
    return { promoted: false, reason: 'no held-out step labels to measure the candidate on' };
  }
  if (!incumbent || !Number.isFinite(incumbent.accuracy)) return { promoted: true, reason: 'the run has no measured PRM yet' };
  // Held-out labels of one class only (every step good, or every one bad): plain accuracy is all there is.
  const balanced = Number.isFinite(candidate.balancedAccuracy) && Number.isFinite(incumbent.balancedAccuracy);
  const [name, mine, theirs] = balanced
    ? ['balanced held-out step accuracy', candidate.balancedAccuracy, incumbent.balancedAccuracy]
    : ['held-out step accuracy (one class only)', candidate.accuracy, incumbent.accuracy];
  const floor = theirs - maxAccuracyDrop;
  return mine >= floor
    ? { promoted: true, reason: `${name} ${mine.toFixed(4)} ≥ ${floor.toFixed(4)}` }
    : { promoted: false, reason: `${name} ${mine.toFixed(4)} < ${floor.toFixed(4)} (the current PRM's ${theirs.toFixed(4)} − ${maxAccuracyDrop})` };
}

/**
 * The PRM's own promotion gate: a candidate PRM becomes the run's current one when its accuracy on held-out
 * problems' step labels does not drop below the incumbent's by more than `maxAccuracyDrop` (the first PRM of a run
 * has no incumbent and is promoted when it was measured at all).
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
  const floor = incumbent.accuracy - maxAccuracyDrop;
  return candidate.accuracy >= floor
    ? { promoted: true, reason: `held-out step accuracy ${candidate.accuracy.toFixed(4)} ≥ ${floor.toFixed(4)}` }
    : { promoted: false, reason: `held-out step accuracy ${candidate.accuracy.toFixed(4)} < ${floor.toFixed(4)} (the current PRM's ${incumbent.accuracy.toFixed(4)} − ${maxAccuracyDrop})` };
}

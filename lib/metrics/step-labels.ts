/**
 * How well a process reward model separates good steps from bad ones: ROC AUC (the probability that a random
 * positive step scores above a random negative one, ties counting half) and accuracy at a threshold. The PRM's
 * promotion gate and its benchmark read these on held-out problems' step labels.
 */

export interface ScoredLabel {
  score: number;
  /** The step's hard label: did it lead to a verified answer. */
  label: boolean;
}

/**
 * ROC AUC by the rank-sum (Mann–Whitney U) formula, ties averaged. NaN when one class is empty.
 *
 * @example rocAuc([{ score: 0.9, label: true }, { score: 0.2, label: false }]) // 1
 */
export function rocAuc(rows: readonly ScoredLabel[]): number {
  const positives = rows.filter((r) => r.label).length;
  const negatives = rows.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  const sorted = [...rows].sort((a, b) => a.score - b.score);
  let rankSum = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1]!.score === sorted[i]!.score) j++;
    const meanRank = (i + j) / 2 + 1; // 1-based ranks i+1 … j+1
    for (let k = i; k <= j; k++) if (sorted[k]!.label) rankSum += meanRank;
    i = j + 1;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Share of steps whose score is on the side of `threshold` its label says (score ≥ threshold ⇔ good). */
export function stepAccuracy(rows: readonly ScoredLabel[], threshold = 0.5): number {
  if (rows.length === 0) return NaN;
  let right = 0;
  for (const r of rows) if (r.score >= threshold === r.label) right++;
  return right / rows.length;
}

/**
 * The mean of the accuracy on good steps and on bad steps: what accuracy says when the classes are as unequal as a
 * search's steps are (most lead nowhere), where plain accuracy rewards scoring every step bad. NaN when a class is empty.
 *
 * @example balancedStepAccuracy([{ score: 0.1, label: false }, { score: 0.1, label: false }, { score: 0.1, label: true }]) // 0.5
 */
export function balancedStepAccuracy(rows: readonly ScoredLabel[], threshold = 0.5): number {
  const good = rows.filter((r) => r.label);
  const bad = rows.filter((r) => !r.label);
  if (good.length === 0 || bad.length === 0) return NaN;
  return (stepAccuracy(good, threshold) + stepAccuracy(bad, threshold)) / 2;
}

export interface StepLabelMetrics {
  accuracy: number;
  balancedAccuracy: number;
  auc: number;
  steps: number;
  positives: number;
}

export function stepLabelMetrics(rows: readonly ScoredLabel[], threshold = 0.5): StepLabelMetrics {
  return { accuracy: stepAccuracy(rows, threshold), balancedAccuracy: balancedStepAccuracy(rows, threshold), auc: rocAuc(rows), steps: rows.length, positives: rows.filter((r) => r.label).length };
}

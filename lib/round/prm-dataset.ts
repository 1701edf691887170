/**
 * The PRM dataset's decisions, kept out of SQL so they are tested on plain numbers: when a step counts as good (its
 * hard label) and how many examples of each class the set keeps. The filter stage's SQL (db/prm-dataset.ts) applies
 * them; `flywheel.step_labels` shows the same labels to people.
 */

/** A step is good when at least this share of the rollouts through it were verified (unless it ended a trace). */
export const PRM_LABEL_THRESHOLD = 0.5;

/** The majority class keeps at most this many examples per example of the minority. */
export const PRM_MAX_CLASS_RATIO = 1;

/**
 * A step's labels from its counts: soft = verified / rollouts (Math-Shepherd's soft estimate), hard = the verdict
 * of the trace it ended when it ended one, else soft ≥ the threshold. Null when there is nothing to label it by.
 *
 * @example stepLabels({ rollouts: 4, verifiedRollouts: 3, verdict: null }) // → { soft: 0.75, hard: true }
 */
export function stepLabels(step: { rollouts: number; verifiedRollouts: number | null; verdict: boolean | null }): { soft: number; hard: boolean } | null {
  const counted = step.verifiedRollouts !== null && step.rollouts > 0;
  if (!counted && step.verdict === null) return null;
  const soft = counted ? step.verifiedRollouts! / step.rollouts : step.verdict ? 1 : 0;
  return { soft, hard: step.verdict ?? soft >= PRM_LABEL_THRESHOLD };
}

/**
 * How many positive and negative examples a balanced set keeps: all of the minority class, and of the majority at
 * most `ratio` times as many. A set with one class only keeps nothing: a PRM cannot learn to rank from it.
 *
 * @example balanceCaps(900, 100) // → { positives: 100, negatives: 100 }
 */
export function balanceCaps(positives: number, negatives: number, ratio = PRM_MAX_CLASS_RATIO): { positives: number; negatives: number } {
  if (!(ratio >= 1)) throw new Error(`PRM class ratio must be at least 1, got ${ratio}`);
  const minority = Math.min(positives, negatives);
  const cap = Math.floor(minority * ratio);
  return { positives: Math.min(positives, cap), negatives: Math.min(negatives, cap) };
}

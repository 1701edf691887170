/**
 * What a step-level search learnt about each step it expanded: how often it went through the step, how many
 * rollouts through it the verifier accepted, and the search's own estimate of its value. These are the step labels
 * a process reward model trains on (Math-Shepherd's share of verified rollouts; ReST-MCTS*'s tree values), stored
 * by the search shard in `flywheel.search_steps`. Collecting them makes no model call.
 */

/** One step of a search tree or beam: the line written after `prefix`, with what the search found through it. */
export interface StepStat {
  /** The trace before the step: complete lines each ending with "\n" ('' for a first step). */
  prefix: string;
  /** The step's line, without its newline. */
  step: string;
  /** 1 for a first step: the number of lines in `prefix` plus one. */
  depth: number;
  /** MCTS: simulations through the step. Beam: times the step was kept and expanded. */
  visits: number;
  /** Rollouts (finished or cut) whose value went through the step. */
  rollouts: number;
  /** Of those, the ones whose trace the verifier accepted; null when the search did not verify (no label). */
  verifiedRollouts: number | null;
  /** The search's estimate: MCTS mean value, beam's process score; null when the search never valued it. */
  value: number | null;
  /** The verifier's verdict on the trace this step ended; null when the step ended none (or it was not verified). */
  verdict: boolean | null;
}

/** Share of verified rollouts through a step (Math-Shepherd's soft label), or null when it has none to count. */
export function verifiedShare(stat: Pick<StepStat, 'rollouts' | 'verifiedRollouts'>): number | null {
  if (stat.verifiedRollouts === null || stat.rollouts === 0) return null;
  return stat.verifiedRollouts / stat.rollouts;
}

/** Splits a partial trace ('' or lines each ending with "\n") into its lines. */
export function prefixLines(prefix: string): string[] {
  if (prefix === '') return [];
  const lines = prefix.split('\n');
  lines.pop(); // the empty string after the last "\n"
  return lines;
}

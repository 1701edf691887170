/**
 * Stepwise PRM lines (TRL's `{"prompt", "completions", "labels"}`) for countdown problems, labelled exactly by the
 * solver: a prefix is good when the target can still be reached from the numbers it leaves. Random legal traces give
 * a mix of good and bad steps, as a search's rollouts do.
 */
import type { CountdownProblem } from '../../lib/tasks/countdown.js';
import { canReach, formatPrompt, legalMoves } from '../../lib/tasks/countdown.js';
import { createRng } from '../../lib/rng.js';

export interface StepwiseLine {
  prompt: string;
  completions: string[];
  labels: boolean[];
}

export function randomLabelledTraces(problems: readonly CountdownProblem[], perProblem: number, seed: number): StepwiseLine[] {
  const rng = createRng(seed);
  const out: StepwiseLine[] = [];
  for (const p of problems) {
    for (let k = 0; k < perProblem; k++) {
      let numbers = [...p.numbers];
      const completions: string[] = [];
      const labels: boolean[] = [];
      while (numbers.length > 1) {
        const moves = legalMoves(numbers);
        const move = moves[Math.floor(rng() * moves.length)]!;
        completions.push(move.text);
        labels.push(canReach(move.left, p.target));
        numbers = move.left;
      }
      out.push({ prompt: formatPrompt(p), completions, labels });
    }
  }
  return out;
}

export function stepwiseJsonl(lines: readonly StepwiseLine[]): string {
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

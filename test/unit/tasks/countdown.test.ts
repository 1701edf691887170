import { describe, expect, it } from 'vitest';
import {
  applyStep,
  canReach,
  formatPrompt,
  formatTrace,
  generateCountdown,
  legalMoves,
  parsePrompt,
  parseTrace,
  solve,
} from '../../../lib/tasks/countdown.js';
import { verifyCountdown } from '../../../lib/verify/countdown.js';

describe('countdown task', () => {
  const problems = generateCountdown({ seed: 7, train: 300, test: 100 });

  it('is deterministic from its seed, with disjoint splits', () => {
    const again = generateCountdown({ seed: 7, train: 300, test: 100 });
    expect(again).toEqual(problems);
    const other = generateCountdown({ seed: 8, train: 300, test: 100 });
    expect(other.map((p) => p.externalId)).not.toEqual(problems.map((p) => p.externalId));
    const train = new Set(problems.filter((p) => p.split === 'train').map((p) => p.externalId));
    expect(problems.filter((p) => p.split === 'test').some((p) => train.has(p.externalId))).toBe(false);
    expect(problems.filter((p) => p.split === 'test')).toHaveLength(100);
  });

  it('draws four numbers in 1–99 and a target in 10–100, and every problem is solvable', () => {
    for (const p of problems) {
      expect(p.numbers).toHaveLength(4);
      for (const n of p.numbers) expect(n >= 1 && n <= 99).toBe(true);
      expect(p.target >= 10 && p.target <= 100).toBe(true);
      const steps = solve(p)!;
      expect(steps).toHaveLength(3);
      expect(verifyCountdown(p, formatTrace(p, steps)).correct).toBe(true);
    }
  });

  it('only allows exact, positive integer steps', () => {
    const texts = legalMoves([12, 5, 3]).map((m) => m.text);
    expect(texts).toContain('12 - 5 = 7');
    expect(texts).toContain('12 / 3 = 4');
    expect(texts).not.toContain('12 / 5 = 2');
    expect(texts.some((t) => / = 0$/.test(t) || /-\d/.test(t.split('=')[1]!))).toBe(false);
    expect(applyStep([12, 5, 3], { a: 12, op: '/', b: 5, result: 2 })).toBeNull();
    expect(applyStep([12, 5, 3], { a: 12, op: '-', b: 4, result: 8 })).toBeNull();
  });

  it('round-trips prompts and traces through text', () => {
    const p = problems[0]!;
    expect(parsePrompt(formatPrompt(p))).toEqual({ numbers: p.numbers, target: p.target });
    const steps = solve(p)!;
    const parsed = parseTrace(p, formatTrace(p, steps));
    expect(parsed.steps).toEqual(steps);
    expect(parsed.left).toEqual([p.target]);
    expect(parsed.illegal).toBe(false);
  });

  it('stops following a trace at its first illegal step', () => {
    const parsed = parseTrace({ numbers: [2, 3, 4, 5], target: 14 }, '5 * 4 = 20\n20 - 9 = 11\n3 + 2 = 5');
    expect(parsed.steps).toHaveLength(1);
    expect(parsed.illegal).toBe(true);
  });

  it('knows reachability', () => {
    expect(canReach([2, 3, 4, 5], 120)).toBe(true); // 2*3*4*5
    expect(canReach([1, 1, 1, 1], 5)).toBe(false);
  });
});

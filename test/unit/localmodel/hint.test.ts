import { describe, expect, test } from 'vitest';
import type { CountdownProblem } from '../../../lib/tasks/countdown.js';
import { applyStep, formatPrompt, generateCountdown, legalMoves, parsePrompt, parseStepLine, parseTrace } from '../../../lib/tasks/countdown.js';
import { verifyCountdown } from '../../../lib/verify/countdown.js';
import { createRng, hashSeed } from '../../../lib/rng.js';
import { createChatCompletion } from '../../../localmodel/chat.js';
import { continuePrompt } from '../../../localmodel/completions.js';
import { generateChoices } from '../../../localmodel/generate.js';
import { HINT_BONUS, parseHint, trackHint } from '../../../localmodel/hint.js';
import type { ModelRegistry } from '../../../localmodel/models.js';
import { createBasePolicy, rollout, rolloutText } from '../../../localmodel/policy.js';

const base = createBasePolicy();
const hinted = (problem: CountdownProblem, expression: string) =>
  `${formatPrompt(problem)}\n\nHint: one solution is ${expression}. Write the steps that reach it.`;

/** The steps (as "a op b") that get the bonus from `numbers`, after `taken` steps from the problem's numbers. */
function bonusedSteps(expression: string, numbers: number[], taken: string[] = []): string[] {
  const tracker = trackHint(parseHint(`Hint: ${expression}`)!, numbers);
  let left = numbers;
  for (const line of taken) {
    const step = parseStepLine(line)!;
    tracker.advance(left, step);
    left = applyStep(left, step)!;
  }
  const moves = legalMoves(left);
  const bonus = tracker.bonus(moves);
  if (!bonus) return [];
  expect(bonus.every((b) => b === 0 || b === HINT_BONUS)).toBe(true);
  return moves.filter((_, i) => bonus[i]! > 0).map((m) => `${m.step.a} ${m.step.op} ${m.step.b}`);
}

describe('parseHint', () => {
  test('reads the last expression on the first Hint line, without the prose, period or "= target"', () => {
    const p = { numbers: [53, 98, 63, 1], target: 89 };
    expect(parseHint(hinted(p, '(53 + (98 - 63)) + 1'))?.expression).toBe('(53 + (98 - 63)) + 1');
    expect(parseHint('Hint: use 4 numbers; one solution is 98 - 63 + 53 + 1 = 89.')?.expression).toBe('98 - 63 + 53 + 1');
    expect(parseHint('x\nHint: 3 × (4 + 5)\nHint: 1 + 2')?.expression).toBe('3 × (4 + 5)');
    expect(parseHint('Hint: a step-by-step answer: (7 - 2) * 3 (that is all)')?.expression).toBe('(7 - 2) * 3');
  });

  test('no Hint line, or one without a readable expression, is no hint (not an error)', () => {
    expect(parseHint(formatPrompt({ numbers: [1, 2], target: 3 }))).toBeNull();
    for (const line of ['Hint: think about multiplication.', 'Hint: the answer is 89', 'Hint: ((3 + 4', 'Hint: 3 +', 'Hint:', 'Hint: 2 ** 3']) {
      expect(parseHint(`prompt\n${line}`)).toBeNull();
    }
    expect(parseHint('The Hint: 3 + 4 is not at the start of a line')).toBeNull();
  });

  test('the prompt parsers still find the problem and the steps when a hint follows the prompt', () => {
    const p = { numbers: [53, 98, 63, 1], target: 89 };
    const prompt = `${hinted(p, '(53 + (98 - 63)) + 1')}\n98 - 63 = 35\n`;
    expect(parsePrompt(prompt)).toEqual(p);
    expect(parseTrace(p, prompt)).toMatchObject({ steps: [{ a: 98, op: '-', b: 63, result: 35 }], illegal: false, answer: null });
  });
});

describe('trackHint', () => {
  test('bonuses only the sub-expressions whose operands are available, in order', () => {
    expect(bonusedSteps('(53 + (98 - 63)) + 1', [53, 98, 63, 1])).toEqual(['98 - 63']);
    expect(bonusedSteps('(53 + (98 - 63)) + 1', [53, 98, 63, 1], ['98 - 63 = 35'])).toEqual(['53 + 35']);
    expect(bonusedSteps('(53 + (98 - 63)) + 1', [53, 98, 63, 1], ['98 - 63 = 35', '53 + 35 = 88'])).toEqual(['88 + 1']);
    expect(bonusedSteps('(8 * 3) - (7 - 5)', [8, 3, 7, 5])).toEqual(['8 * 3', '7 - 5']);
  });

  test('+ and * commute; - and / keep their order', () => {
    expect(bonusedSteps('(3 + 53) * 2', [53, 3, 2])).toEqual(['53 + 3']);
    expect(bonusedSteps('2 * (53 + 3)', [53, 3, 2])).toEqual(['53 + 3']);
    expect(bonusedSteps('(12 / 4) + 9', [12, 4, 9])).toEqual(['12 / 4']);
    // "4 - 12" builds nothing a legal step can: no bonus, and no error.
    expect(bonusedSteps('(4 - 12) + 9', [12, 4, 9])).toEqual([]);
  });

  test('a number that a hinted leaf needs is not the partner of a sub-expression of the same value', () => {
    // The hinted 4 * 3 multiplies 4 by the result of 6 - 3, not by the starting 3.
    expect(bonusedSteps('((6 - 3) * 4) + 2', [6, 4, 3, 2])).toEqual(['6 - 3']);
    expect(bonusedSteps('((6 - 3) * 4) + 2', [6, 4, 3, 2], ['6 - 3 = 3'])).toEqual(['4 * 3']);
  });

  test('duplicates: equal numbers are interchangeable, also after a step off the hint', () => {
    expect(bonusedSteps('(5 + 3) * (5 - 2)', [5, 5, 3, 2])).toEqual(['5 + 3', '5 - 2']);
    expect(bonusedSteps('(5 + 5) * 2', [5, 5, 2])).toEqual(['5 + 5']);
    expect(bonusedSteps('(5 + 5) * 2', [5, 2, 9])).toEqual([]); // one 5 only
    // Off the hint: 5 + 2 used one of the 5s; the other can still pair with the 3.
    expect(bonusedSteps('(5 + 3) * (5 - 2)', [5, 5, 3, 2], ['5 + 2 = 7'])).toEqual(['5 + 3']);
    // Off the hint: 5 * 3 used the 3, so nothing hinted can be built from what is left.
    expect(bonusedSteps('(5 + 3) * (5 - 2)', [5, 5, 3, 2], ['5 * 3 = 15'])).toEqual(['5 - 2']);
    expect(bonusedSteps('(5 + 3) * (5 - 2)', [5, 5, 3, 2], ['5 * 3 = 15', '5 - 2 = 3'])).toEqual([]);
  });

  test('a hint for other numbers bonuses only what these numbers can build', () => {
    expect(bonusedSteps('(10 - 4) * (9 + 1)', [10, 4, 7, 2])).toEqual(['10 - 4']);
  });
});

describe('hinted decoding', () => {
  const problems = generateCountdown({ seed: 11, train: 0, test: 100 });
  const solved = (problem: CountdownProblem, text: string) => verifyCountdown(problem, text).correct;
  const sample = (problem: CountdownProblem & { solution: string }, k: number, temperature: number, withHint: boolean) =>
    rolloutText(
      rollout(base, problem, {
        temperature,
        rng: createRng(hashSeed(11, k)),
        hint: withHint ? parseHint(hinted(problem, problem.solution)) : null,
      }),
    );

  test('the base model mostly, but not always, follows the hint at temperature 1, and always greedily', () => {
    const hintT1 = problems.filter((p, k) => solved(p, sample(p, k, 1, true))).length;
    const hintGreedy = problems.filter((p, k) => solved(p, sample(p, k, 0, true))).length;
    const plainT1 = problems.filter((p, k) => solved(p, sample(p, k, 1, false))).length;
    const plainGreedy = problems.filter((p, k) => solved(p, sample(p, k, 0, false))).length;
    // Measured: 91, 100, 2 and 0 of 100.
    expect(hintT1).toBeGreaterThan(60);
    expect(hintT1).toBeLessThan(100);
    expect(hintGreedy).toBeGreaterThanOrEqual(98);
    expect(plainT1).toBeLessThanOrEqual(10);
    expect(plainGreedy).toBeLessThanOrEqual(5);
  });

  test('hinted logprobs are those of the shifted distribution', () => {
    const p = { numbers: [53, 98, 63, 1], target: 89 };
    const c = generateChoices(base, p, [], { n: 1, temperature: 0, stop: [], topLogprobs: 2, hint: parseHint(hinted(p, '(53 + (98 - 63)) + 1')) })[0]!;
    expect(c.text).toBe('98 - 63 = 35\n53 + 35 = 88\n88 + 1 = 89\nAnswer: (53 + (98 - 63)) + 1');
    const moves = legalMoves(p.numbers).length;
    expect(c.tokens[0]!.logprob).toBeCloseTo(HINT_BONUS - Math.log(Math.exp(HINT_BONUS) + moves - 1), 12);
    expect(c.tokens[0]!.top.map((t) => t.text)[0]).toBe('98 - 63 = 35\n');
  });

  test('completions read the hint and follow it from the steps already taken', () => {
    const p = { numbers: [53, 98, 63, 1], target: 89 };
    const prompt = `${hinted(p, '(53 + (98 - 63)) + 1')}\n98 - 63 = 35\n`;
    const c = continuePrompt(base, prompt, { n: 1, temperature: 0, stop: [], topLogprobs: 0 })[0]!;
    expect(c.text).toBe('53 + 35 = 88\n88 + 1 = 89\nAnswer: (53 + (98 - 63)) + 1');
  });

  test('chat reads the hint from the last user message', () => {
    const p = { numbers: [53, 98, 63, 1], target: 89 };
    const models = { policy: () => base, tokens: () => 'steps' } as unknown as ModelRegistry;
    const reply = (content: string) =>
      createChatCompletion({ model: 'countdown-mlp', messages: [{ role: 'user', content }], temperature: 0 }, models).choices[0]!.message.content;
    expect(reply(hinted(p, '(53 + (98 - 63)) + 1'))).toBe('98 - 63 = 35\n53 + 35 = 88\n88 + 1 = 89\nAnswer: (53 + (98 - 63)) + 1');
    expect(verifyCountdown(p, reply(formatPrompt(p)) ?? '').correct).toBe(false);
  });

  test('without a readable hint nothing changes: same outputs for the same seed', () => {
    const options = { n: 4, temperature: 1, seed: 9, stop: [] as string[], topLogprobs: 3 };
    for (const p of problems.slice(0, 20)) {
      const plain = continuePrompt(base, `${formatPrompt(p)}\n`, options);
      expect(generateChoices(base, p, [], options)).toEqual(plain);
      for (const hint of ['Hint: think about multiplication.', 'Hint: ((3 + 4', 'Hint: 3 +']) {
        expect(continuePrompt(base, `${formatPrompt(p)}\n\n${hint}\n`, options)).toEqual(plain);
      }
    }
  });

  test('unhinted samples are pinned: the same texts as before hints existed', () => {
    const p = { numbers: [53, 98, 63, 1], target: 89 };
    const texts = continuePrompt(base, `${formatPrompt(p)}\n`, { n: 3, temperature: 1, seed: 9, stop: [], topLogprobs: 0 }).map((c) => c.text);
    expect(texts).toEqual([
      '98 * 53 = 5194\n5194 / 1 = 5194\n5194 * 63 = 327222\nAnswer: ((98 * 53) / 1) * 63',
      '63 - 1 = 62\n98 * 53 = 5194\n5194 * 62 = 322028\nAnswer: (98 * 53) * (63 - 1)',
      '98 * 1 = 98\n98 * 53 = 5194\n5194 + 63 = 5257\nAnswer: ((98 * 1) * 53) + 63',
    ]);
  });
});

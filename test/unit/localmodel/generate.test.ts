import { describe, expect, test } from 'vitest';
import { formatPrompt, parseTrace } from '../../../lib/tasks/countdown.js';
import { continuePrompt } from '../../../localmodel/completions.js';
import { applyStop, countTokens, generateChoices } from '../../../localmodel/generate.js';
import type { Token } from '../../../localmodel/generate.js';
import { createBasePolicy } from '../../../localmodel/policy.js';

const problem = { numbers: [75, 3, 8, 5], target: 24 };
const base = createBasePolicy();
const tok = (text: string): Token => ({ text, logprob: -1, top: [] });

describe('applyStop', () => {
  test('cuts before the first stop sequence, keeping the token that completed it', () => {
    const c = applyStop([tok('75 - 3 = 72\n'), tok('8 * 2 = 16\n')], ['\n'], true);
    expect(c).toEqual({ text: '75 - 3 = 72', tokens: [tok('75 - 3 = 72\n')], finishReason: 'stop', stopMatched: '\n' });
  });

  test('finds a stop sequence that spans tokens', () => {
    const c = applyStop([tok('75 - 3 = 72\n'), tok('8 * 2 = 16\n')], ['72\n8'], true);
    expect(c.text).toBe('75 - 3 = ');
    expect(c.tokens).toHaveLength(2);
  });

  test('without a stop: stop when finished, length when cut short', () => {
    expect(applyStop([tok('a\n')], [], true).finishReason).toBe('stop');
    expect(applyStop([tok('a\n')], [], false).finishReason).toBe('length');
  });
});

describe('generateChoices', () => {
  const opts = { n: 3, temperature: 1, seed: 5, stop: [] as string[], topLogprobs: 2 };

  test('choice i is reproducible from (seed, i) and choices differ from each other', () => {
    const a = generateChoices(base, problem, [], opts);
    const b = generateChoices(base, problem, [], { ...opts, n: 5 });
    expect(b.slice(0, 3).map((c) => c.text)).toEqual(a.map((c) => c.text));
    expect(new Set(b.map((c) => c.text)).size).toBeGreaterThan(1);
  });

  test('step tokens end with a newline and the text is their concatenation', () => {
    const c = generateChoices(base, problem, [], opts)[0]!;
    expect(c.tokens.map((t) => t.text).join('')).toBe(c.text);
    expect(c.tokens.slice(0, -1).every((t) => t.text.endsWith('\n'))).toBe(true);
    expect(c.tokens.at(-1)!.text).toMatch(/^Answer: /);
    expect(c.tokens[0]!.top).toHaveLength(2);
  });

  test('max tokens counts steps', () => {
    const c = generateChoices(base, problem, [], { ...opts, n: 1, maxTokens: 1 })[0]!;
    expect(c.tokens).toHaveLength(1);
    expect(c.finishReason).toBe('length');
  });
});

describe('continuePrompt', () => {
  const prompt = `${formatPrompt(problem)}\n`;

  test('with stop "\\n" returns exactly one legal next step', () => {
    const c = continuePrompt(base, prompt, { n: 1, temperature: 0, stop: ['\n'], topLogprobs: 0 })[0]!;
    expect(parseTrace(problem, c.text).steps).toHaveLength(1);
    expect(c.text).not.toContain('\n');
  });

  test('continues from the steps already in the prompt, and ends with the answer line', () => {
    const c = continuePrompt(base, `${prompt}75 - 3 = 72\n8 * 5 = 40\n72 + 40 = 112\n`, { n: 1, temperature: 0, stop: ['\n'], topLogprobs: 0 })[0]!;
    expect(c.text).toBe('Answer: (75 - 3) + (8 * 5)');
    const d = continuePrompt(base, `${prompt}75 - 3 = 72\n8 * 5 = 40\n`, { n: 1, temperature: 0, stop: ['\n'], topLogprobs: 0 })[0]!;
    expect(parseTrace({ numbers: [72, 40], target: 24 }, d.text).steps).toHaveLength(1);
  });

  test('replies in plain text to a prompt that is not countdown', () => {
    const c = continuePrompt(base, 'Tell me a joke', { n: 1, temperature: 1, stop: [], topLogprobs: 0 })[0]!;
    expect(c.text).toMatch(/countdown/);
  });
});

test('countTokens splits numbers, words and symbols', () => {
  expect(countTokens('75 - 3 = 72\nAnswer: 75 - 3')).toBe(10);
});

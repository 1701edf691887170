import { describe, expect, test } from 'vitest';
import { formatPrompt, parseTrace } from '../../../lib/tasks/countdown.js';
import { createRng } from '../../../lib/rng.js';
import { continuePrompt } from '../../../localmodel/completions.js';
import { generateChoices, unreadableChoices, UNREADABLE_REPLY } from '../../../localmodel/generate.js';
import { createBasePolicy, stepDistribution } from '../../../localmodel/policy.js';
import type { Policy } from '../../../localmodel/policy.js';
import { PrefixCache } from '../../../localmodel/prefix-cache.js';
import { subwordRollout } from '../../../localmodel/subword.js';
import { IMPOSSIBLE_LOGPROB, padAlternatives, subwordTokens } from '../../../localmodel/tokenizer.js';

const problem = { numbers: [75, 3, 8, 5], target: 24 };

/** A policy that is not uniform: its skip weights favour some features, so moves differ in probability. */
function skewedPolicy(): Policy {
  const p = createBasePolicy();
  p.skip.forEach((_, i) => (p.skip[i] = ((i * 7) % 5) - 2));
  return p;
}

describe('subwordTokens', () => {
  test('numbers, operators, spaces and newlines are separate tokens; long numbers split in 3-digit chunks', () => {
    expect(subwordTokens('75 - 3 = 72\n')).toEqual(['75', ' ', '-', ' ', '3', ' ', '=', ' ', '72', '\n']);
    expect(subwordTokens('99 * 98 = 9702')).toEqual(['99', ' ', '*', ' ', '98', ' ', '=', ' ', '970', '2']);
    expect(subwordTokens('Answer: (75 - 3) / 8')).toEqual(['Answer', ':', ' ', '(', '75', ' ', '-', ' ', '3', ')', ' ', '/', ' ', '8']);
  });

  test('the tokens of any text join back to it', () => {
    for (const text of ['Using the numbers [25, 5, 3, 2], make 31.\n\n', 'tabs\tand  spaces\r\n', 'ünïcødé × ÷ 😀 ٣']) {
      expect(subwordTokens(text).join('')).toBe(text);
    }
  });
});

describe('padAlternatives', () => {
  test('pads with impossible tokens to exactly k, never repeating a listed token', () => {
    const top = padAlternatives([{ text: ' ', logprob: 0 }], 5, 'subword');
    expect(top).toHaveLength(5);
    expect(new Set(top.map((t) => t.text)).size).toBe(5);
    expect(top.slice(1).every((t) => t.logprob === IMPOSSIBLE_LOGPROB)).toBe(true);
    expect(padAlternatives([{ text: 'a\n', logprob: -1 }], 20, 'steps').map((t) => t.text.endsWith('\n'))).toEqual(Array(20).fill(true));
  });
});

describe('subwordRollout', () => {
  const policy = skewedPolicy();

  test('writes a legal trace token by token; its tokens join to the text and each step is several tokens', () => {
    const run = subwordRollout(policy, problem, { temperature: 1, rng: createRng(3), topK: 4 });
    const text = run.tokens.map((t) => t.text).join('');
    expect(run.finished).toBe(true);
    const parsed = parseTrace(problem, text);
    expect(parsed).toMatchObject({ illegal: false });
    expect(parsed.steps).toHaveLength(3);
    expect(parsed.answer).not.toBeNull();
    expect(run.tokens.length).toBeGreaterThan(30);
    expect(run.tokens.every((t) => t.top.length === 4)).toBe(true);
  });

  test("a line's token logprobs sum to the policy's logprob of the step, and each position's marginals sum to 1", () => {
    const dist = stepDistribution(policy, problem.numbers, problem.target);
    for (let seed = 0; seed < 20; seed++) {
      const run = subwordRollout(policy, problem, { temperature: 1, rng: createRng(seed), topK: 20, maxTokens: 10 });
      const line = run.tokens.map((t) => t.text).join('');
      expect(line.endsWith('\n')).toBe(true);
      const i = dist.moves.findIndex((m) => `${m.text}\n` === line);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(run.tokens.reduce((s, t) => s + t.logprob, 0)).toBeCloseTo(dist.logprobs[i]!, 9);
      for (const t of run.tokens) {
        const mass = t.top.filter((a) => a.logprob > IMPOSSIBLE_LOGPROB).reduce((s, a) => s + Math.exp(a.logprob), 0);
        expect(mass).toBeCloseTo(1, 9); // a position has at most 20 distinct next tokens here
        expect(t.top.find((a) => a.text === t.text)!.logprob).toBe(t.logprob);
      }
    }
  });

  test('at temperature 1 it draws whole steps with the policy’s probabilities', () => {
    const dist = stepDistribution(policy, problem.numbers, problem.target);
    const counts = new Map<string, number>();
    const draws = 4000;
    for (let seed = 0; seed < draws; seed++) {
      const run = subwordRollout(policy, problem, { temperature: 1, rng: createRng(seed), maxTokens: 10 });
      const line = run.tokens.map((t) => t.text).join('').trimEnd();
      counts.set(line, (counts.get(line) ?? 0) + 1);
    }
    dist.moves.forEach((m, i) => {
      const p = Math.exp(dist.logprobs[i]!);
      const sd = Math.sqrt((p * (1 - p)) / draws);
      expect(Math.abs((counts.get(m.text) ?? 0) / draws - p)).toBeLessThan(4 * sd + 1e-9);
    });
  });

  test('greedy decoding picks the most likely token at each position, and is deterministic', () => {
    const a = subwordRollout(policy, problem, { temperature: 0, rng: createRng(1), maxTokens: 10 });
    const b = subwordRollout(policy, problem, { temperature: 0, rng: createRng(99), maxTokens: 10 });
    expect(a.tokens.map((t) => t.text)).toEqual(b.tokens.map((t) => t.text));
    const withTop = subwordRollout(policy, problem, { temperature: 0, rng: createRng(1), maxTokens: 10, topK: 5 });
    for (const t of withTop.tokens) expect(t.logprob).toBe(t.top[0]!.logprob);
  });

  test('max tokens counts subword tokens and cuts mid-step', () => {
    const run = subwordRollout(policy, problem, { temperature: 1, rng: createRng(2), maxTokens: 3 });
    expect(run.tokens).toHaveLength(3);
    expect(run.finished).toBe(false);
  });
});

describe('generateChoices in subword mode', () => {
  const base = createBasePolicy();
  const opts = { n: 4, temperature: 1, seed: 5, stop: [] as string[], topLogprobs: 3, tokens: 'subword' as const };

  test('stop "\\n" cuts after exactly one step; the newline token is the last token', () => {
    const c = generateChoices(base, problem, [], { ...opts, stop: ['\n'] })[0]!;
    expect(c.finishReason).toBe('stop');
    expect(c.stopMatched).toBe('\n');
    expect(parseTrace(problem, c.text).steps).toHaveLength(1);
    expect(c.tokens.at(-1)!.text).toBe('\n');
    expect(c.tokens.length).toBeGreaterThanOrEqual(10);
  });

  test('continuing a partial trace through the completions path', () => {
    const prompt = `${formatPrompt(problem)}\n\n75 - 3 = 72\n`;
    const c = continuePrompt(base, prompt, { n: 1, temperature: 0, stop: [], topLogprobs: 2, tokens: 'subword' })[0]!;
    const parsed = parseTrace(problem, `75 - 3 = 72\n${c.text}`);
    expect(parsed.steps).toHaveLength(3);
    expect(parsed.answer).not.toBeNull();
    expect(c.tokens.every((t) => t.top.length === 2)).toBe(true);
  });

  test('an unreadable prompt gets the fixed reply in subword tokens', () => {
    const c = unreadableChoices(1, 3, 'subword')[0]!;
    expect(c.text).toBe(UNREADABLE_REPLY);
    expect(c.tokens.length).toBeGreaterThan(10);
    expect(c.tokens.every((t) => t.logprob === 0 && t.top.length === 3)).toBe(true);
  });

  test('steps mode lists exactly as many alternatives as asked, also where fewer moves are legal', () => {
    const c = generateChoices(base, problem, [], { ...opts, tokens: 'steps', topLogprobs: 20 })[0]!;
    expect(c.tokens.every((t) => t.top.length === 20)).toBe(true);
    const answer = c.tokens.at(-1)!;
    expect(answer.top[0]).toEqual({ text: answer.text, logprob: 0 });
    expect(answer.top.slice(1).every((t) => t.logprob === IMPOSSIBLE_LOGPROB)).toBe(true);
  });
});

describe('PrefixCache', () => {
  const tokens = (n: number, tag = 'a') => Array.from({ length: n }, (_, i) => `${tag}${i}`);

  test('counts the leading full 16-token blocks seen before for the same model, never the last token', () => {
    const cache = new PrefixCache();
    expect(cache.admit('m', tokens(40))).toBe(0);
    expect(cache.admit('m', tokens(40))).toBe(32);
    expect(cache.admit('m', [...tokens(35), 'x', 'y', 'z', 'w', 'v', 'u'])).toBe(32);
    expect(cache.admit('m', tokens(32))).toBe(31);
    expect(cache.admit('other', tokens(40))).toBe(0);
    expect(cache.admit('m', ['z', ...tokens(40)])).toBe(0);
  });

  test('evicts the least recently used blocks past its capacity', () => {
    const cache = new PrefixCache(2);
    cache.admit('m', tokens(32, 'a'));
    cache.admit('m', tokens(32, 'b'));
    expect(cache.admit('m', tokens(33, 'a'))).toBe(0);
  });
});

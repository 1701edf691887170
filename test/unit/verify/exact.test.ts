import { describe, expect, it } from 'vitest';
import { createExactVerifier, createRegexVerifier, extractAnswerText, lastAnswerLine } from '../../../lib/verify/index.js';

const input = (reference: unknown, text: string) => ({ prompt: 'q', reference, text });

describe('answer extraction', () => {
  it('reads the last Answer: line, in markdown too', () => {
    expect(lastAnswerLine('Answer: no\nthinking\nAnswer: Paris')).toBe('Paris');
    expect(lastAnswerLine('**Answer:** Paris')).toBe('Paris');
    expect(lastAnswerLine('Final answer: 12')).toBe('12');
    expect(lastAnswerLine('no such line')).toBeNull();
  });

  it('falls back to the whole text only in auto mode', () => {
    expect(extractAnswerText('  Paris \n', 'auto')).toBe('Paris');
    expect(extractAnswerText('Thinking\nAnswer: Paris', 'auto')).toBe('Paris');
    expect(extractAnswerText('Paris', 'answer-line')).toBeNull();
    expect(extractAnswerText('Thinking\nAnswer: Paris', 'whole')).toBe('Thinking\nAnswer: Paris');
  });
});

describe('exact verifier', () => {
  it('compares trimmed text, with runs of whitespace as one space by default', async () => {
    const v = createExactVerifier();
    expect(await v.verify(input({ answer: 'New York' }, 'Answer:   New   York  '))).toEqual({
      score: 1, correct: true, answer: 'New York', detail: 'matches the reference',
    });
    expect((await v.verify(input('new york', 'Answer: New York'))).correct).toBe(false);
    expect((await v.verify(input('New York.', 'Answer: New York'))).correct).toBe(false);
  });

  it('is case-insensitive and whitespace-strict on request, and keys votes the same way', async () => {
    const ci = createExactVerifier({ caseSensitive: false });
    const verdict = await ci.verify(input('new york', 'Answer: New YORK'));
    expect(verdict).toMatchObject({ correct: true, answer: 'new york' });
    const strict = createExactVerifier({ normalizeWhitespace: false });
    expect((await strict.verify(input('New York', 'Answer: New  York'))).correct).toBe(false);
  });

  it('accepts any of several answers, and numbers', async () => {
    const v = createExactVerifier();
    expect((await v.verify(input({ answer: ['NYC', 'New York'] }, 'Answer: NYC'))).correct).toBe(true);
    expect((await v.verify(input({ answer: 42 }, '42'))).correct).toBe(true);
  });

  it('can insist on an Answer: line', async () => {
    const v = createExactVerifier({ extract: 'answer-line' });
    expect(await v.verify(input('Paris', 'Paris'))).toMatchObject({ score: 0, answer: null, detail: 'no answer found' });
  });

  it('versions its options, and throws on a reference without an answer', async () => {
    expect(createExactVerifier().version).toBe('1');
    expect(createExactVerifier({ caseSensitive: false }).version).not.toBe('1');
    expect(createExactVerifier({ caseSensitive: false }).version).toBe(createExactVerifier({ caseSensitive: false }).version);
    await expect(createExactVerifier().verify(input({ tests: [] }, 'x'))).rejects.toThrow(/exact verifier: the reference needs an answer/);
  });
});

describe('regex verifier', () => {
  it('searches the answer for the reference pattern', async () => {
    const v = createRegexVerifier();
    expect((await v.verify(input({ pattern: '\\b42\\b' }, 'Answer: it is 42 units'))).correct).toBe(true);
    expect((await v.verify(input('^4\\d$', 'Answer: 43'))).correct).toBe(true);
    expect((await v.verify(input('^4\\d$', 'Answer: 143'))).correct).toBe(false);
  });

  it('takes flags from the reference, else from the spec, and can anchor the whole answer', async () => {
    expect((await createRegexVerifier().verify(input({ pattern: 'paris', flags: 'i' }, 'Answer: PARIS'))).correct).toBe(true);
    expect((await createRegexVerifier({ flags: 'i' }).verify(input('paris', 'Answer: PARIS'))).correct).toBe(true);
    expect((await createRegexVerifier().verify(input('paris', 'Answer: PARIS'))).correct).toBe(false);
    const full = createRegexVerifier({ fullMatch: true });
    expect((await full.verify(input('4|5', 'Answer: 45'))).correct).toBe(false);
    expect((await full.verify(input('4|5', 'Answer: 5'))).correct).toBe(true);
    // g is ignored: a stateful lastIndex would make the same answer pass, then fail.
    const g = createRegexVerifier({ flags: 'g' });
    expect((await g.verify(input('a', 'Answer: a'))).correct).toBe(true);
    expect((await g.verify(input('a', 'Answer: a'))).correct).toBe(true);
  });

  it('throws on an invalid pattern, naming it', async () => {
    await expect(createRegexVerifier().verify(input('(unclosed', 'x'))).rejects.toThrow(/pattern "\(unclosed" .* not a valid regular expression/);
  });
});

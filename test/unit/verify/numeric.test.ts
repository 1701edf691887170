import { describe, expect, it } from 'vitest';
import { extractNumericAnswer, numericVerifier } from '../../../lib/verify/index.js';
import { rationalKey } from '../../../lib/verify/rational.js';

const verify = (reference: unknown, text: string) => numericVerifier.verify({ prompt: 'q', reference, text });
const key = (text: string) => {
  const r = extractNumericAnswer(text);
  return r && rationalKey(r);
};

describe('numeric verifier: extraction', () => {
  it('prefers the #### marker, then \\boxed{}, then the last number', () => {
    expect(key('First 3 apples, then 4.\n#### 72\n(3 steps)')).toBe('72');
    expect(key('so \\boxed{18}. Check: 2 + 2 = 4')).toBe('18');
    expect(key('She has 3 apples and buys 4 more, so 7.')).toBe('7');
  });

  it('reads separators, currency, percent, signs, decimals and fractions', () => {
    expect(key('The total is $1,234,567.50.')).toBe('1234567.5');
    expect(key('It rose by 50%.')).toBe('50');
    expect(key('The temperature is -7 degrees')).toBe('-7');
    expect(key('The temperature is −7 degrees')).toBe('-7');
    expect(key('It costs -$5')).toBe('-5');
    expect(key('10 - 3 = 7')).toBe('7');
    expect(key('x = .5')).toBe('0.5');
    expect(key('She ate 3/4 of it')).toBe('0.75');
    expect(key('one third: 1/3')).toBe('1/3');
    expect(key('\\frac{3}{4}')).toBe('0.75');
    expect(key('1{,}000 people')).toBe('1000');
    expect(key('no digits here')).toBeNull();
  });
});

describe('numeric verifier: verdicts', () => {
  it('accepts equal numbers in other forms', async () => {
    expect((await verify({ answer: '3.5' }, 'It is 3.50.')).correct).toBe(true);
    expect((await verify({ answer: 0.75 }, 'answer: 3/4')).correct).toBe(true);
    expect((await verify(1234, 'I think $1,234')).correct).toBe(true);
    expect((await verify({ answer: 'Natalia sold 48/2 = 24 clips in May.\n#### 72' }, 'so 72 clips')).correct).toBe(true);
    expect((await verify({ answer: '-5' }, 'The change is −5.')).correct).toBe(true);
    expect((await verify({ answer: '50' }, 'That is 50%.')).correct).toBe(true);
  });

  it('rejects near misses', async () => {
    expect((await verify({ answer: '1/3' }, 'about 0.33')).correct).toBe(false);
    expect((await verify({ answer: '1,235' }, 'It is 1234')).correct).toBe(false);
    expect((await verify({ answer: '5' }, 'It is -5')).correct).toBe(false);
    expect((await verify({ answer: '72' }, '#### 71\nThough 72 is close')).correct).toBe(false);
  });

  it('gives score 1/0, a voting key, and a detail', async () => {
    expect(await verify({ answer: '18' }, 'The answer is 18.')).toEqual({ score: 1, correct: true, answer: '18', detail: '18 equals the reference' });
    const wrong = await verify({ answer: '18' }, 'The answer is 3/4.');
    expect(wrong).toMatchObject({ score: 0, correct: false, answer: '0.75' });
    expect(wrong.detail).toContain('reference is 18');
    expect(await verify({ answer: '18' }, 'I do not know.')).toEqual({ score: 0, correct: false, answer: null, detail: 'no number found in the answer' });
  });

  it('throws on a reference without a number', async () => {
    await expect(verify({ answer: 'many' }, '3')).rejects.toThrow(/numeric verifier: the reference answer "many" holds no number/);
    await expect(verify(null, '3')).rejects.toThrow(/holds no number/);
  });
});

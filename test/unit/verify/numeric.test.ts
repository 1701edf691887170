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

describe('numeric verifier 2: numbers as people and LaTeX write them', () => {
  it('reads thousands separated by commas, spaces, {,} (however spaced) and thin spaces', () => {
    expect(key('about 3 500 000 people')).toBe('3500000');
    expect(key('so $2 {, }048$')).toBe('2048');
    expect(key('so $2\\,048$ grams')).toBe('2048');
    expect(key('so $2{,}048.5$')).toBe('2048.5');
  });

  it('reads a decimal comma only where it cannot separate thousands or list items', () => {
    expect(key('Il reste 2,74 €.')).toBe('2.74');
    expect(key('so 1000,99')).toBe('1000.99');
    expect(key('so 0,125')).toBe('0.125');
    expect(key('so 1,250')).toBe('1250');
    expect(key('the values 1,5,9')).toBe('9');
  });

  it('reads currency before or after, units after, and keeps percent as the number', () => {
    expect(key('It costs $1,000.99.')).toBe('1000.99');
    expect(key('It costs 1,000.99$ in all')).toBe('1000.99');
    expect(key('It costs 1,000.99€')).toBe('1000.99');
    expect(key('It costs \\$12.50')).toBe('12.5');
    expect(key('the room is 12m² wide')).toBe('12');
    expect(key('$\\boxed{45\\%}$')).toBe('45');
    expect(key('$12\\text{ cm}^2$')).toBe('12');
  });

  it('reads mixed numbers as one value, and an improper one as no number', () => {
    expect(key('she used 2 3/4 cups')).toBe('2.75');
    expect(key('a change of -1 1/2 degrees')).toBe('-1.5');
    expect(key('so 7 5/5')).toBeNull();
    expect(key('7\n3/4')).toBe('0.75');
  });

  it('reads numbers inside LaTeX: fractions, integer powers; subscripts and other powers are no answer', () => {
    expect(key('so $\\dfrac{9}{4}$')).toBe('2.25');
    expect(key('so $\\frac34$')).toBe('0.75');
    expect(key('there are $2^{10}$ subsets')).toBe('1024');
    expect(key('there are $3^4$ ways')).toBe('81');
    expect(key('we get 6, so $a_{12}$')).toBe('6');
    expect(key('we get 6, so $x^{12}$')).toBe('6');
    expect(key('about 1.5e3 grams')).toBe('1500');
  });

  it('stays exact: no tolerance, no symbolic algebra', async () => {
    expect((await verify({ answer: '1024' }, 'it is $2^{10}$')).correct).toBe(true);
    expect((await verify({ answer: '10' }, 'it is $2^{10}$')).correct).toBe(false);
    expect((await verify({ answer: '2.75' }, 'she used 2 3/4 cups')).correct).toBe(true);
    expect((await verify({ answer: '0.75' }, 'she used 2 3/4 cups')).correct).toBe(false);
    expect((await verify({ answer: '12' }, 'Dozens: $a_{12} = 11$')).correct).toBe(false);
    expect((await verify({ answer: '2.74' }, 'about 2.7399')).correct).toBe(false);
  });

  it('is version 2', () => {
    expect(numericVerifier.version).toBe('2');
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

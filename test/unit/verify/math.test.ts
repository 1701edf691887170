import { describe, expect, it } from 'vitest';
import { extractMathAnswer, mathAnswerKey, mathEquivalent, mathVerifier, normalizeMathAnswer } from '../../../lib/verify/index.js';

describe('math verifier: extraction', () => {
  it('takes the last \\boxed{} with nested braces, or \\fbox, or "the answer is"', () => {
    expect(extractMathAnswer('First \\boxed{1}, then \\boxed{\\frac{1}{\\sqrt{2}}}.')).toBe('\\frac{1}{\\sqrt{2}}');
    expect(extractMathAnswer('so \\boxed{\\{1, 2\\}} ok')).toBe('\\{1, 2\\}');
    expect(extractMathAnswer('\\fbox{3}')).toBe('3');
    expect(extractMathAnswer('Thus $\\boxed 5$.')).toBe('5');
    expect(extractMathAnswer('The answer is $\\frac{1}{2}$.')).toBe('\\frac{1}{2}');
    expect(extractMathAnswer('Therefore, the final answer is 42.')).toBe('42');
    expect(extractMathAnswer('**Answer:** 7')).toBe('7');
    expect(extractMathAnswer('Working... no conclusion')).toBeNull();
  });
});

describe('math verifier: equivalence', () => {
  const equivalent: Array<[string, string]> = [
    ['\\frac{1}{2}', '0.5'],
    ['\\dfrac12', '1/2'],
    ['\\tfrac{1}{2}', '.5'],
    ['\\frac12', '\\frac{1}{2}'],
    ['-\\frac{1}{2}', '\\frac{-1}{2}'],
    ['3.50', '3.5'],
    ['1,000', '1000'],
    ['1{,}000', '1000'],
    ['1\\,000', '1000'],
    ['3\\frac{1}{2}', '7/2'],
    ['50\\%', '50'],
    ['\\$5.00', '5'],
    ['90^\\circ', '90'],
    ['90^{\\circ}', '90'],
    ['5\\text{ cm}', '5'],
    ['5 \\text{cm}^2', '5'],
    ['12 inches', '12'],
    ['x = 5', '5'],
    ['y = 2x + 3', '3+2x'],
    ['\\left( 1, 2 \\right)', '(1,2)'],
    ['(3, -1)', '(3,-1)'],
    ['(-\\infty, 3]', '\\left(-\\infty,3\\right]'],
    ['\\{1,2\\}', '\\{2,1\\}'],
    ['1, 2', '2,1'],
    ['\\sqrt{2}', '\\sqrt2'],
    ['2\\sqrt{3}', '\\sqrt{12}'],
    ['\\frac{\\sqrt{2}}{2}', '1/\\sqrt{2}'],
    ['\\frac{1}{\\sqrt{3}}', '\\frac{\\sqrt3}{3}'],
    ['\\sqrt[3]{8}', '2'],
    ['2^{10}', '1024'],
    ['10!', '3628800'],
    ['\\pi', '3.14159265359'],
    ['\\frac{\\pi}{4}', '0.25\\pi'],
    ['\\frac{x}{2}', '0.5x'],
    ['x^2-1', '(x-1)(x+1)'],
    ['\\sin^2 x + \\cos^2 x', '1'],
    ['\\text{(A)}', 'A'],
    ['\\textbf{(C)}', '(C)'],
    ['\\text{Monday}', 'monday'],
    ['\\begin{pmatrix}1 & 2\\\\ 3 & 4\\end{pmatrix}', '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}'],
    ['\\begin{pmatrix}\\frac12 \\\\ 2\\end{pmatrix}', '\\begin{pmatrix}0.5\\\\2\\end{pmatrix}'],
    ['[2, 5) \\cup (6, 7]', '(6,7] \\cup [2,5)'],
    ['3 \\text{ and } 5', '\\{5, 3\\}'],
    ['x \\in (-\\infty, 2)', '(-\\infty,2)'],
    ['1.2 \\times 10^{3}', '1200'],
    ['2^{100}', '1267650600228229401496703205376'],
    ['\\frac{3}{2}\\pi', '\\frac{3\\pi}{2}'],
    ['12.5\\%', '12.5'],
    ['\\$18.90', '18.9'],
  ];
  it.each(equivalent)('%s == %s', (a, b) => {
    expect(mathEquivalent(a, b)).toBe(true);
    expect(mathEquivalent(b, a)).toBe(true);
  });

  const nearMisses: Array<[string, string]> = [
    ['1/3', '0.33'],
    ['\\frac13', '0.333333'], // rationals compare exactly: a rounded decimal is not the fraction
    ['\\sqrt{2}', '2'],
    ['\\sqrt{2}', '1.414'],
    ['\\pi', '3.14'],
    ['(1,2)', '[1,2]'], // brackets decide what an interval holds
    ['[2,5)', '[2,5]'],
    ['(1,2)', '(2,1)'],
    ['(1,2)', '1,2'],
    ['\\{1,2\\}', '\\{1,2,3\\}'],
    ['50\\%', '0.5'], // % is dropped like a unit, so 50% reads as 50
    ['2x', 'x^2'],
    ['x+1', 'x+2'],
    ['2\\sqrt{3}', '3\\sqrt{2}'],
    ['1', '-1'],
    ['10', '100'],
    ['A', 'B'],
    ['\\text{Monday}', 'Tuesday'],
    ['3 4', '12'],
    ['3 4', '34'],
    ['\\frac{\\sqrt{3}}{2}', '0.866'],
  ];
  it.each(nearMisses)('%s != %s', (a, b) => {
    expect(mathEquivalent(a, b)).toBe(false);
    expect(mathEquivalent(b, a)).toBe(false);
  });

  it('normalises typesetting away', () => {
    expect(normalizeMathAnswer('\\left( \\dfrac12, 3 \\right)')).toBe('(\\frac{1}{2},3)');
    expect(normalizeMathAnswer('x = 5\\text{ cm}')).toBe('5');
    expect(normalizeMathAnswer('\\displaystyle 2 \\pi r')).toBe('2\\pi r');
  });

  it('gives equal voting keys to equal rationals, normalised text otherwise', () => {
    expect(mathAnswerKey('\\frac{3}{4}')).toBe('0.75');
    expect(mathAnswerKey('0.75')).toBe('0.75');
    expect(mathAnswerKey('\\dfrac{6}{8}')).toBe('0.75');
    expect(mathAnswerKey('\\frac{1}{3}')).toBe('1/3');
    expect(mathAnswerKey('x = 5')).toBe('5');
    expect(mathAnswerKey('2\\sqrt3')).toBe('2\\sqrt{3}');
    expect(mathAnswerKey('\\left(1, 2\\right)')).toBe('(1,2)');
  });
});

describe('math verifier: verdicts', () => {
  const verify = (reference: unknown, text: string) => mathVerifier.verify({ prompt: 'q', reference, text });

  it('scores an equivalent boxed answer 1, a different one 0', async () => {
    expect(await verify({ answer: '\\frac{\\sqrt{3}}{2}' }, 'Hence $\\boxed{\\dfrac{\\sqrt3}{2}}$.')).toMatchObject({ score: 1, correct: true });
    const wrong = await verify({ answer: '\\frac{1}{2}' }, '\\boxed{\\frac{1}{3}}');
    expect(wrong).toMatchObject({ score: 0, correct: false, answer: '1/3' });
    expect(wrong.detail).toContain('not equivalent');
  });

  it('reads the gold from a full solution and from numbers', async () => {
    expect((await verify({ answer: 'We get $\\boxed{7}$.' }, 'The answer is 7')).correct).toBe(true);
    expect((await verify({ answer: 7 }, '\\boxed{7.0}')).correct).toBe(true);
    expect((await verify('(1,2)', '\\boxed{(1, 2)}')).correct).toBe(true);
  });

  it('gives no answer a verdict, and a missing reference an error', async () => {
    expect(await verify({ answer: '1' }, 'I give up')).toMatchObject({ score: 0, correct: false, answer: null });
    await expect(verify({}, '\\boxed{1}')).rejects.toThrow(/math verifier: the reference has no answer/);
  });
});

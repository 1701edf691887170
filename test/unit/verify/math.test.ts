import { describe, expect, it } from 'vitest';
import { createVerifier, extractAnswer, extractMathAnswer, mathAnswerKey, mathEquivalent, mathVerifier, normalizeMathAnswer, verifyMath } from '../../../lib/verify/index.js';

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
    ['\\sqrt{2}', '2'],
    ['\\sqrt{2}', '1.414'],
    ['\\pi', '3.14'],
    ['(1,2)', '[1,2]'], // brackets decide what an interval holds
    ['[2,5)', '[2,5]'],
    ['(1,2)', '(2,1)'],
    ['(2,1)', '1,2'], // a bare list against a tuple compares in order
    ['\\{1,2\\}', '\\{1,2,3\\}'],
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
    expect(normalizeMathAnswer('x = 5\\text{ cm}')).toBe('x=5');
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

describe('math verifier 2: extraction tiers', () => {
  it('takes boxed or "final answer" answers, whichever comes last', () => {
    expect(extractMathAnswer('\\boxed{200} then \\boxed{255}. Final Answer: The final answer is $10,455$.')).toBe('10,455');
    expect(extractMathAnswer('The final answer is $7$. Checking again: \\boxed{8}')).toBe('8');
    expect(extractMathAnswer('Roots: \\boxed{-2} and \\boxed{1}.')).toBe('-2, 1');
    expect(extractMathAnswer('Final Answer: The area of $ABC$ is 42.')).toBe('42');
    expect(extractMathAnswer('Final Answer: She waited 5 minutes.')).toBe('5');
  });

  it('reads every LaTeX delimiter, inline spans only on one line', () => {
    expect(extractMathAnswer('so \\( 3x \\) here')).toBe('3x');
    expect(extractMathAnswer('so \\[\n 7 \n\\] here')).toBe('7');
    expect(extractMathAnswer('so $$\n 7 \n$$')).toBe('7');
    expect(extractAnswer('so $\n 7 \n$', [['boxed', 'final-answer'], ['latex']])).toBeNull();
    expect(extractMathAnswer('it costs \\$3 and $x = 4$')).toBe('x = 4');
    expect(extractMathAnswer('$1$ or $5$')).toBe('1, 5');
    expect(extractMathAnswer('\\dfrac{7}{2}')).toBe('\\dfrac{7}{2}');
  });

  it('falls back to the last plain number outside math, as people write numbers', () => {
    const plain = (t: string) => extractAnswer(t, [['expression']])?.answer;
    expect(plain('Total: 7,425,000 people')).toBe('7425000');
    expect(plain('It is 3,50 €')).toBe('3.50');
    expect(plain('About 0,25')).toBe('0.25');
    expect(plain('1 000 grams')).toBe('1000');
    expect(plain('he paid $12.30 for 2 pens, so 6.15 each')).toBe('6.15');
    expect(plain('code XJ7B')).toBeUndefined();
    expect(plain('she ran 3/4 of a mile')).toBe('3/4');
    expect(extractMathAnswer('$x$ is 2 so the area is 12 square units')).toBe('12');
  });
});

describe('math verifier 2: what counts as equivalent', () => {
  const same = (gold: string, pred: string, o = {}) => verifyMath(gold, pred, o).correct;

  it('relations: a predicted x = v is v, a named reference too, equations up to a factor', () => {
    expect(same('$4$', '$y = 4$')).toBe(true);
    expect(same('$y = 4$', '$4$')).toBe(true);
    expect(same('$3 = 2a+b$', '$2a+b$')).toBe(false);
    expect(same('$x + y = 2$', '$2$')).toBe(false);
    expect(same('$3x - 6y = 3$', '$x = 2y + 1$')).toBe(true);
    expect(same('$x = 3+4 = 7$', '$x = 7$')).toBe(true);
    expect(same('$5$', '$t \\approx 5$')).toBe(true);
  });

  it('inequalities by direction and strictness, ranges as intervals', () => {
    expect(same('$y > 2$', '$2 < y$')).toBe(true);
    expect(same('$y > 2$', '$-y < -2$')).toBe(true);
    expect(same('$y > 2$', '$y \\geq 2$')).toBe(false);
    expect(same('$y > 2$', '$y < 2$')).toBe(false);
    expect(same('$1 < t \\leq 4$', '$(1, 4]$')).toBe(true);
    expect(same('$(1, 4]$', '$1 < t \\leq 4$')).toBe(false);
    expect(same('$(1, 4]$', '$1 < t \\leq 4$', { setRelations: true })).toBe(true);
  });

  it('percent, units, thousands and currency are typesetting', () => {
    expect(same('$35\\%$', 'It is 35 percent')).toBe(true);
    expect(same('$35\\%$', '\\boxed{35 pct}')).toBe(true);
    expect(same('$0.35$', '35')).toBe(false);
    expect(same('$2{,}048$', '\\boxed{2,\\! 048}')).toBe(true);
    expect(same('$2048$', '\\boxed{2, 048}')).toBe(false);
    expect(same('$12$', '\\boxed{12\\text{ meters}}')).toBe(true);
  });

  it('decimals compare at the configured precision', () => {
    expect(same('$\\frac{2}{3}$', '$0.666667$')).toBe(true);
    expect(same('$\\frac{2}{3}$', '$0.67$')).toBe(false);
    expect(same('$\\frac{2}{3}$', '$0.67$', { precision: 2 })).toBe(true);
    expect(same('$\\sqrt{5}$', '2.2360679775')).toBe(true);
    expect(same('$3\\sqrt{5}$', '$3$')).toBe(false);
  });

  it('symbolic expressions by simplification or probing, matrices after evaluation', () => {
    expect(same('$\\cot^2 t + 1$', '$\\csc^2 t$')).toBe(true);
    expect(same('$\\frac{a+3}{5}$', '$\\frac{a}{5}+\\frac35$')).toBe(true);
    expect(same('$(a+1)^2$', '$a^2+1$')).toBe(false);
    expect(same('$\\begin{pmatrix}2 & 0 \\\\ 0 & 2\\end{pmatrix}$', '$\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix} + \\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}$')).toBe(true);
    expect(same('$\\begin{bmatrix}1 & 2\\end{bmatrix}$', '$\\left[\\begin{array}{cc}1 & 2\\end{array}\\right]$')).toBe(true);
    expect(same('$\\begin{pmatrix}1 & 2\\end{pmatrix}$', '$\\begin{pmatrix}2 & 1\\end{pmatrix}$')).toBe(false);
  });

  it('sets ignore order and repeats, lists of named values are their values', () => {
    expect(same('$(1,2),(3,4)$', '\\boxed{(3,4), (1,2), (3,4)}')).toBe(true);
    expect(same('$(1,2),(3,4)$', '\\boxed{(3,4), (1,2), (5,6)}')).toBe(false);
    expect(same('$a=2, b=-3$', '\\boxed{2, -3}')).toBe(true);
    expect(same('$2;3;5$', '\\boxed{\\{5, 3, 2\\}}')).toBe(true);
  });
});

describe('math verifier 3: numbers as written, percent, signs, solutions', () => {
  const same = (gold: string, pred: string, o = {}) => verifyMath(gold, pred, o).correct;
  const plain = (t: string) => extractAnswer(t, [['expression']])?.answer;
  const expr = { extract: [['expression']] as Array<Array<'expression'>> };

  it('reads a mixed number as one value, and an improper or undefined one as no value', () => {
    expect(plain('she needs 3 1/4 cups')).toBe('13/4');
    expect(plain('so -2 3/8')).toBe('-19/8');
    expect(plain('about 2 000 1/2 tons')).toBe('4001/2');
    expect(plain('it is 7 0/5')).toBe('35/5');
    expect(same('13/4', 'The answer is 3 1/4.', expr)).toBe(true);
    expect(same('3', 'The answer is 3 1/4.', expr)).toBe(false);
    for (const finite of ['5', '1', '6', '4']) expect(same(finite, 'so 5 5/5', expr)).toBe(false);
    for (const finite of ['2', '0']) expect(same(finite, 'so 2 3/0', expr)).toBe(false);
  });

  it('forms no mixed number across a line, after a decimal, a fraction or a bracket', () => {
    expect(plain('7\n1/3')).toBe('1/3');
    expect(plain('7.0 1/3')).toBe('1/3');
    expect(plain('7/2 1/3')).toBe('1/3');
    expect(plain('(7) 1/3')).toBe('1/3');
    expect(plain('3 1/4 8')).toBe('8');
  });

  it('reads arithmetic of numbers on one line, with a minus between terms as an operation', () => {
    expect(same('23/3', '7 + 2/3', expr)).toBe(true);
    expect(same('19/3', '7 - 2/3', expr)).toBe(true);
    expect(same('7 + 2/3', '7 - 2/3', expr)).toBe(false);
    expect(plain('she owes x = -12')).toBe('-12');
    expect(plain('we get 6 × 7')).toBe('6*7');
    expect(plain('there were 3 cats and 2/5 left')).toBe('2/5');
  });

  it('a percent written in prose is a fraction; a reference percent accepts its value and its fraction', () => {
    expect(same('3/20', '15%', expr)).toBe(true);
    expect(same('15', '15%', expr)).toBe(false);
    for (const suffix of ['%', ' %', ' percent', 'percentage', ' pct']) {
      expect(same('13/400', `3 1/4${suffix}`, expr)).toBe(true);
      expect(same('13/4', `3 1/4${suffix}`, expr)).toBe(false);
    }
    expect(same('$15\\%$', 'so 15')).toBe(true);
    expect(same('$15\\%$', 'so 0.15')).toBe(true);
    expect(same('$15\\%$', 'so 15 percent')).toBe(true);
    expect(same('$0.15$', 'so 15')).toBe(false);
    expect(same('$15$', '$\\boxed{15\\%}$')).toBe(true); // a LaTeX \% is typesetting
  });

  it('\\pm is both signs', () => {
    expect(same('$\\pm 7$', '$7$')).toBe(false);
    expect(same('$\\pm 7$', '$-7, 7$')).toBe(true);
    expect(same('$1 \\pm \\sqrt{2}$', '$1-\\sqrt2, 1+\\sqrt2$')).toBe(true);
    expect(same('$x = 2 \\pm 1$', '$\\{1, 3\\}$')).toBe(true);
    expect(same('$x = 2 \\pm 1$', '$\\{1, 2\\}$')).toBe(false);
  });

  it('solutions written as assignments are tuples; |x| between bounds is two intervals', () => {
    expect(same('$a=1,b=4;a=3,b=0$', '$(3,0),(1,4)$')).toBe(true);
    expect(same('$a=1,b=4;a=3,b=0$', '$(4,1),(0,3)$')).toBe(false);
    expect(same('$a = 1, b = 4$ and $a = 3, b = 0$', '$(1,4),(3,0)$')).toBe(true);
    expect(same('$2 < |y| \\leq 5$', '$y \\in [-5, -2) \\cup (2, 5]$')).toBe(true);
    expect(same('$2 < |y| \\leq 5$', '$[-5, -2] \\cup [2, 5]$')).toBe(false);
    expect(same('$2 < |y| \\leq 5$', '$(2, 5]$')).toBe(false);
  });

  it('a thousands separator however spaced, a reference whose box never closes, math written bare', () => {
    expect(same('$27{,}514$', 'Final Answer: The final answer is $27 {, }514$.')).toBe(true);
    expect(same('$27{,}514$', 'Final Answer: The final answer is $27 {, }515$.')).toBe(false);
    expect(same('\\\\boxed{g(t) = 2 \\\\text{ or } g(t) = 5', 'g(s)=5org(s)=3')).toBe(false);
    expect(same('\\\\boxed{g(t) = 2 \\\\text{ or } g(t) = 5', 'g(s)=5org(s)=2')).toBe(true);
    expect(same('\\boxed{y = 4', '$y=4$')).toBe(true);
  });
});

describe('math verifier 3: versions and time limits', () => {
  it('is version 3, with the options in the version', () => {
    expect(mathVerifier.version).toBe('3');
    expect(createVerifier({ name: 'math', precision: 3 }).version).toMatch(/^3\+[0-9a-f]{8}$/);
    expect(createVerifier({ name: 'math', precision: 3 }).version).not.toBe(createVerifier({ name: 'math', precision: 4 }).version);
  });

  it('gives an error verdict past the time limit or the size limit, and keeps serving', async () => {
    const tight = createVerifier({ name: 'math', timeoutMs: 10 });
    const heavy = '\\boxed{' + Array.from({ length: 1500 }, (_, i) => `\\sin(x_{${i}})^{${i}}`).join('+') + '}';
    const slow = await tight.verify({ prompt: '', reference: { answer: '\\sin(x)' }, text: heavy });
    expect(slow).toMatchObject({ correct: false, answer: null });
    expect(slow.detail).toMatch(/^error: /);
    const huge = await mathVerifier.verify({ prompt: '', reference: { answer: '1' }, text: `\\boxed{${'1+'.repeat(30_000)}1}` });
    expect(huge.detail).toMatch(/^error: an answer of \d+ characters/);
    expect((await mathVerifier.verify({ prompt: '', reference: { answer: '2' }, text: '\\boxed{2}' })).correct).toBe(true);
  }, 60_000);
});

/**
 * Numeric verifier, GSM8K style: the model's final number equals the reference number exactly (as rationals, so
 * `3.50` = `3.5` and `3/4` = `0.75`, but `0.33` ≠ `1/3`). The final number is the one after the last `####`, else
 * the content of the last `\boxed{}`, else the last number in the text. Numbers are read as people write them, by
 * the reader the math verifier's plain-number extraction uses (plain-numbers.ts): thousands separators (`1,000`,
 * `1 000`, `1{,}000`, `1\,000`), a decimal comma where it cannot be a separator (`2,74`), currency before or after,
 * units after, mixed numbers (`3 1/2`). Percent is ignored: `50%` reads as 50. In LaTeX, `\frac{3}{4}` is 3/4,
 * `\text{}` is its text, an integer power `2^{10}` is its value, and subscripts (`a_{12}`) are no numbers.
 */
import { parseDecimal, ratDiv, ratMul, ratPow, rational, rationalKey, ratEquals, type Rational } from './rational.js';
import type { Verdict, Verifier, VerifyInput } from './types.js';
import { lastBoxed } from './math/extract.js';
import { readNumbers } from './plain-numbers.js';

/** 1: a regex for the last number. 2: the shared reader (spaced thousands, decimal commas, mixed numbers, LaTeX powers). */
export const NUMERIC_VERSION = '2';

/** A number in the reader's standard form (`-40/9`, `1000.99`) as a rational, or null. */
function rationalOf(value: string): Rational | null {
  const [num, den] = value.split('/');
  const r = parseDecimal(num!);
  if (!r || den === undefined) return r;
  return ratDiv(r, rational(BigInt(den)));
}

/** `2^{10}` as 1024 when it is a modest exact integer, else null (then base and exponent are no answer). */
function powerText(base: string, exponent: string): string | null {
  const b = parseDecimal(base);
  const value = b ? ratPow(b, BigInt(exponent)) : null;
  return value && value.den === 1n && value.num.toString().length <= 40 ? value.num.toString() : null;
}

/** `1.5e3` as 1500, `2e-3` as 1/500. */
function scientificText(mantissa: string, exponent: string): string {
  const m = parseDecimal(mantissa);
  const e = BigInt(exponent);
  const scale = ratPow(rational(10n), e < 0n ? -e : e);
  if (!m || !scale) return `${mantissa}e${exponent}`;
  return rationalKey(e < 0n ? ratDiv(m, scale)! : ratMul(m, scale));
}

/** LaTeX that models put around numbers, rewritten so that the reader sees numbers as prose writes them. */
function plainText(text: string): string {
  return text
    .replace(/\\[dtc]?frac\s*\{\s*([-−]?[\d.,]+)\s*\}\s*\{\s*([\d.,]+)\s*\}/g, '$1/$2')
    .replace(/\\[dtc]?frac\s*(\d)\s*(\d)/g, '$1/$2')
    .replace(/(\d)\s*\{\s*,\s*\}\s*(?=\d)/g, '$1,')
    .replace(/(\d)(?:\\[,!;: ]|~)(?=\d{3}(?!\d))/g, '$1')
    .replace(/\\[,!;: ]/g, ' ')
    .replace(/\\(?:text|textrm|mathrm|mbox|textbf|mathbf)\s*\{([^{}]*)\}/g, ' $1 ')
    .replace(/\\\$/g, '$')
    .replace(/\\%/g, '%')
    .replace(/(?<![\w.])(\d+(?:\.\d+)?)[eE]([-+]?\d+)(?![\w.])/g, (_m, mantissa: string, exponent: string) => scientificText(mantissa, exponent))
    .replace(/(?<![\w.])(\d+)\s*\^\s*(?:\{\s*(\d+)\s*\}|(\d))/g, (_m, base: string, braced?: string, bare?: string) => powerText(base, braced ?? bare!) ?? ' \u0001 ')
    .replace(/[\d.,]*\^\s*(?:\{[^{}]*\}|[-−]?[\w.]+)/g, ' \u0001 ')
    .replace(/[\d.,]*_\s*(?:\{[^{}]*\}|\w)/g, ' \u0001 ');
}

/** Every number in the text, in order (a mixed number that is no number, such as `4 0/0`, as null). */
export function findNumbers(text: string): Array<Rational | null> {
  return readNumbers(plainText(text)).map((n) => (n.value === null ? null : rationalOf(n.value)));
}

/**
 * The final numeric answer of a model's output (or of a GSM8K gold answer), or null when there is none.
 *
 * @example
 * extractNumericAnswer('... so she pays $1,234.50.') // 2469/2
 * extractNumericAnswer('#### 72') // 72
 */
export function extractNumericAnswer(text: string): Rational | null {
  const marker = text.lastIndexOf('####');
  if (marker >= 0) {
    const after = findNumbers(text.slice(marker + 4));
    if (after.length) return after[0]!;
  }
  const boxed = lastBoxed(text);
  if (boxed !== null) {
    const inBox = findNumbers(boxed);
    if (inBox.length) return inBox[inBox.length - 1]!;
  }
  const all = findNumbers(text);
  return all.length ? all[all.length - 1]! : null;
}

/** The gold number of a reference: `{answer}` or the value itself, a number or a string (a GSM8K solution too). */
export function numericReference(reference: unknown): Rational {
  const raw = typeof reference === 'object' && reference !== null && 'answer' in reference ? (reference as { answer: unknown }).answer : reference;
  if (typeof raw === 'number' && Number.isFinite(raw)) {
    const r = parseDecimal(String(raw));
    if (r) return r;
  }
  if (typeof raw === 'string') {
    const r = extractNumericAnswer(raw);
    if (r) return r;
  }
  throw new Error(`numeric verifier: the reference answer ${JSON.stringify(raw)?.slice(0, 100)} holds no number; expected {answer: number | string}`);
}

export function verifyNumeric(gold: Rational, text: string): Verdict {
  const predicted = extractNumericAnswer(text);
  if (!predicted) return { score: 0, correct: false, answer: null, detail: 'no number found in the answer' };
  const answer = rationalKey(predicted);
  const expected = rationalKey(gold);
  return ratEquals(predicted, gold)
    ? { score: 1, correct: true, answer, detail: `${answer} equals the reference` }
    : { score: 0, correct: false, answer, detail: `${answer}, reference is ${expected}` };
}

export const numericVerifier: Verifier = {
  name: 'numeric',
  version: NUMERIC_VERSION,
  async verify(input: VerifyInput) {
    return verifyNumeric(numericReference(input.reference), input.text);
  },
};

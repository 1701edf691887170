/**
 * Numeric verifier, GSM8K style: the model's final number equals the reference number exactly (as rationals, so
 * `3.50` = `3.5` and `3/4` = `0.75`, but `0.33` ≠ `1/3`). The final number is the one after the last `####`, else
 * the content of the last `\boxed{}`, else the last number in the text. Thousands separators, `$`, `%` and a
 * trailing period are ignored: `50%` reads as 50.
 */
import { parseDecimal, ratDiv, rational, rationalKey, ratEquals, type Rational } from './rational.js';
import type { Verdict, Verifier, VerifyInput } from './types.js';
import { lastBoxed } from './math/extract.js';

export const NUMERIC_VERSION = '1';

// A sign only where it cannot be a minus between two terms ("5-3" holds 5 and 3, "x = -3" holds -3).
const NUMBER =
  /(?<![\w.])([-−]?)(?:\$\s?)?([-−]?)(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+)(?:\/(\d+))?/g;

function parseMatch(m: RegExpMatchArray): Rational | null {
  const negative = (m[1] !== '') !== (m[2] !== '');
  const value = parseDecimal(m[3].replace(/,/g, ''));
  if (!value) return null;
  let r = negative ? rational(-value.num, value.den) : value;
  if (m[4] !== undefined) {
    const divided = ratDiv(r, rational(BigInt(m[4])));
    if (!divided) return null;
    r = divided;
  }
  return r;
}

/** LaTeX that models put around numbers, rewritten so that the number pattern sees plain numbers. */
function plainNumbers(text: string): string {
  return text
    .replace(/\\[dt]?frac\s*\{\s*([-−]?[\d.,]+)\s*\}\s*\{\s*([\d.,]+)\s*\}/g, '$1/$2')
    .replace(/\{,\}/g, ',')
    .replace(/\\[,!;: ]/g, '')
    .replace(/\\\$/g, '$')
    .replace(/\\%/g, '%');
}

/** Every number in the text, in order. */
export function findNumbers(text: string): Rational[] {
  const found: Rational[] = [];
  for (const m of plainNumbers(text).matchAll(NUMBER)) {
    const r = parseMatch(m);
    if (r) found.push(r);
  }
  return found;
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
    const first = findNumbers(text.slice(marker + 4))[0];
    if (first) return first;
  }
  const boxed = lastBoxed(text);
  if (boxed !== null) {
    const inBox = findNumbers(boxed);
    if (inBox.length) return inBox[inBox.length - 1];
  }
  const all = findNumbers(text);
  return all.length ? all[all.length - 1] : null;
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

/**
 * Math verifier (MATH / competition style): the final answer is the last `\boxed{}` (else "the answer is X"),
 * correct when it is equivalent to the reference answer (see equivalent.ts for what counts as equivalent).
 */
import type { Verdict, Verifier, VerifyInput } from '../types.js';
import { mathAnswerKey, mathEquivalent } from './equivalent.js';
import { extractMathAnswer, lastBoxed } from './extract.js';

export const MATH_VERSION = '1';

/** The gold answer: `{answer}` or the value itself; a full solution with a `\boxed{}` gives its boxed part. */
export function mathReference(reference: unknown): string {
  const raw = typeof reference === 'object' && reference !== null && 'answer' in reference ? (reference as { answer: unknown }).answer : reference;
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (typeof raw === 'string' && raw.trim()) return lastBoxed(raw) ?? raw.trim();
  throw new Error(`math verifier: the reference has no answer (got ${JSON.stringify(raw)?.slice(0, 100)}); expected {answer: string | number}`);
}

export function verifyMath(gold: string, text: string): Verdict {
  const extracted = extractMathAnswer(text);
  if (extracted === null || extracted === '') {
    return { score: 0, correct: false, answer: null, detail: 'no final answer: neither \\boxed{} nor "the answer is"' };
  }
  const answer = mathAnswerKey(extracted);
  return mathEquivalent(extracted, gold)
    ? { score: 1, correct: true, answer, detail: `${answer} is equivalent to the reference ${gold}` }
    : { score: 0, correct: false, answer, detail: `${answer} is not equivalent to the reference ${gold}` };
}

export const mathVerifier: Verifier = {
  name: 'math',
  version: MATH_VERSION,
  async verify(input: VerifyInput) {
    return verifyMath(mathReference(input.reference), input.text);
  },
};

export { extractMathAnswer, lastBoxed } from './extract.js';
export { mathAnswerKey, mathEquivalent } from './equivalent.js';
export { normalizeMathAnswer } from './normalize.js';

/**
 * One math verdict, synchronously: extract the reference's and the model's final answers, then compare them.
 * Pure and bounded only by its input; the verifier (index.ts) runs it in worker threads with a time limit.
 */
import type { Verdict } from '../types.js';
import { mathAnswerKey, mathEquivalent } from './equivalent.js';
import { extractAnswer, latexSpans, lastBoxed, plainNumber, unclosedBoxed } from './extract.js';
import { resolveMathOptions, type MathOptions } from './options.js';

/** Answers longer than this are not parsed at all: a verdict of "error" instead of a stalled shard. */
export const MAX_ANSWER_LENGTH = 20_000;

/** The gold answer: `{answer}` or the value itself, a number or a string (a full solution with math in it too). */
export function mathReference(reference: unknown): string {
  const raw = typeof reference === 'object' && reference !== null && 'answer' in reference ? (reference as { answer: unknown }).answer : reference;
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (typeof raw === 'string' && raw.trim()) return raw.trim();
  throw new Error(`math verifier: the reference has no answer (got ${JSON.stringify(raw)?.slice(0, 100)}); expected {answer: string | number}`);
}

/**
 * The reference's answer: a plain answer (`\frac12`, `x^2+1`) is taken whole; one in math delimiters or a solution
 * with `\boxed{}` goes through the same extraction as the model's output.
 */
export function goldAnswer(gold: string, options: MathOptions = {}): string {
  const { extract } = resolveMathOptions(options);
  const modes = extract.flat();
  // A reference is trusted: one whose last box never closes means what is in it.
  const unclosed = lastBoxed(gold) === null ? unclosedBoxed(gold) : null;
  if (unclosed !== null) return unclosed;
  if (lastBoxed(gold) !== null || latexSpans(gold).length > 0) return extractAnswer(gold, extract)?.answer ?? gold;
  // Expression-only configs (GSM8K style) read a plain reference as a number the way people write it.
  if (!modes.includes('latex') && !modes.includes('boxed')) return plainNumber(gold) ?? extractAnswer(gold, extract)?.answer ?? gold;
  return gold;
}

export function verifyMath(gold: string, text: string, options: MathOptions = {}): Verdict {
  const resolved = resolveMathOptions(options);
  const extracted = extractAnswer(text, resolved.extract);
  if (extracted === null || extracted.answer === '') {
    return { score: 0, correct: false, answer: null, detail: `no final answer found (extraction: ${JSON.stringify(resolved.extract)})` };
  }
  const reference = goldAnswer(gold, resolved);
  if (extracted.answer.length > MAX_ANSWER_LENGTH || reference.length > MAX_ANSWER_LENGTH) {
    return { score: 0, correct: false, answer: null, detail: `error: an answer of ${extracted.answer.length} characters is longer than ${MAX_ANSWER_LENGTH}` };
  }
  const answer = mathAnswerKey(extracted.answer);
  const same = mathEquivalent(reference, extracted.answer, { precision: resolved.precision, setRelations: resolved.setRelations });
  return same
    ? { score: 1, correct: true, answer, detail: `${answer} (${extracted.mode}) is equivalent to the reference ${reference}` }
    : { score: 0, correct: false, answer, detail: `${answer} (${extracted.mode}) is not equivalent to the reference ${reference}` };
}

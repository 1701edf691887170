/**
 * Text verifiers. `exact`: the answer equals a reference string (trimmed; optionally case-insensitive and with
 * runs of whitespace as one space). `regex`: the answer matches the reference's pattern. Both read the answer from
 * the last `Answer:` line, or the whole text, or (default) the line when there is one and the whole text otherwise.
 */
import type { Verdict, Verifier, VerifyInput } from './types.js';
import { versionWithOptions } from './version.js';

export const EXACT_VERSION = '1';
export const REGEX_VERSION = '1';

/** Where the answer is: the last `Answer:` line, the whole text, or `auto` (the line if any, else the text). */
export type AnswerSource = 'auto' | 'answer-line' | 'whole';

/** The text of the last `Answer: ...` line (also `**Answer:** ...`, `Final answer: ...`), or null. */
export function lastAnswerLine(text: string): string | null {
  const lines = [...text.matchAll(/^[ \t>*_#-]*(?:final\s+)?answer[ \t*_]*:[ \t*_]*(.*)$/gim)];
  if (!lines.length) return null;
  return lines[lines.length - 1]![1]!.replace(/[ \t*_]+$/, '').trim();
}

export function extractAnswerText(text: string, source: AnswerSource): string | null {
  if (source === 'whole') return text.trim();
  const line = lastAnswerLine(text);
  if (source === 'answer-line') return line;
  return line ?? text.trim();
}

export interface ExactOptions {
  /** Default true. */
  caseSensitive?: boolean;
  /** Runs of whitespace compare as one space. Default true. */
  normalizeWhitespace?: boolean;
  /** Default `auto`. */
  extract?: AnswerSource;
}

/** Accepted answers: `{answer}` (a string, a number, or a list of accepted strings) or the value itself. */
function acceptedAnswers(reference: unknown, verifier: string): string[] {
  const raw = typeof reference === 'object' && reference !== null && !Array.isArray(reference) && 'answer' in reference
    ? (reference as { answer: unknown }).answer
    : reference;
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length && list.every((a) => typeof a === 'string' || (typeof a === 'number' && Number.isFinite(a)))) return list.map(String);
  throw new Error(`${verifier} verifier: the reference needs an answer (a string, a number or a list of strings), got ${JSON.stringify(raw)?.slice(0, 100)}`);
}

export function createExactVerifier(options: ExactOptions = {}): Verifier {
  const caseSensitive = options.caseSensitive ?? true;
  const whitespace = options.normalizeWhitespace ?? true;
  const source = options.extract ?? 'auto';
  const normalise = (s: string) => {
    let out = s.trim();
    if (whitespace) out = out.replace(/\s+/g, ' ');
    return caseSensitive ? out : out.toLowerCase();
  };
  return {
    name: 'exact',
    version: versionWithOptions(EXACT_VERSION, { caseSensitive: options.caseSensitive, normalizeWhitespace: options.normalizeWhitespace, extract: options.extract }),
    async verify(input: VerifyInput): Promise<Verdict> {
      const accepted = acceptedAnswers(input.reference, 'exact').map(normalise);
      const extracted = extractAnswerText(input.text, source);
      if (extracted === null || extracted.trim() === '') return { score: 0, correct: false, answer: null, detail: 'no answer found' };
      const answer = normalise(extracted);
      return accepted.includes(answer)
        ? { score: 1, correct: true, answer, detail: 'matches the reference' }
        : { score: 0, correct: false, answer, detail: `${JSON.stringify(answer.slice(0, 200))} is not ${accepted.map((a) => JSON.stringify(a.slice(0, 100))).join(' or ')}` };
    },
  };
}

export interface RegexOptions {
  /** Flags for patterns whose reference gives none (`i`, `m`, `s`, `u`; `g` and `y` are ignored). */
  flags?: string;
  /** The whole answer must match (the pattern is anchored), not just a part of it. Default false. */
  fullMatch?: boolean;
  /** Default `auto`. */
  extract?: AnswerSource;
}

/** The reference's pattern: `{pattern, flags?}`, `{answer}` or the string itself. */
function referencePattern(reference: unknown): { pattern: string; flags?: string } {
  if (typeof reference === 'string') return { pattern: reference };
  if (typeof reference === 'object' && reference !== null) {
    const ref = reference as { pattern?: unknown; answer?: unknown; flags?: unknown };
    const pattern = ref.pattern ?? ref.answer;
    if (typeof pattern === 'string') return { pattern, flags: typeof ref.flags === 'string' ? ref.flags : undefined };
  }
  throw new Error(`regex verifier: the reference needs a pattern ({pattern: string, flags?: string}), got ${JSON.stringify(reference)?.slice(0, 100)}`);
}

export function createRegexVerifier(options: RegexOptions = {}): Verifier {
  const source = options.extract ?? 'auto';
  const compiled = new Map<string, RegExp>();
  function compile(pattern: string, flags: string): RegExp {
    const key = `${flags}/${pattern}`;
    let re = compiled.get(key);
    if (!re) {
      try {
        re = new RegExp(options.fullMatch ? `^(?:${pattern})$` : pattern, flags.replace(/[gy]/g, ''));
      } catch (err) {
        throw new Error(`regex verifier: the reference pattern ${JSON.stringify(pattern)} with flags "${flags}" is not a valid regular expression: ${(err as Error).message}`);
      }
      if (compiled.size >= 1000) compiled.clear();
      compiled.set(key, re);
    }
    return re;
  }
  return {
    name: 'regex',
    version: versionWithOptions(REGEX_VERSION, { flags: options.flags, fullMatch: options.fullMatch, extract: options.extract }),
    async verify(input: VerifyInput): Promise<Verdict> {
      const { pattern, flags } = referencePattern(input.reference);
      const re = compile(pattern, flags ?? options.flags ?? '');
      const extracted = extractAnswerText(input.text, source);
      if (extracted === null || extracted.trim() === '') return { score: 0, correct: false, answer: null, detail: 'no answer found' };
      const answer = extracted.trim().replace(/\s+/g, ' ');
      return re.test(extracted.trim())
        ? { score: 1, correct: true, answer, detail: `matches /${pattern}/` }
        : { score: 0, correct: false, answer, detail: `${JSON.stringify(answer.slice(0, 200))} does not match /${pattern}/` };
    },
  };
}

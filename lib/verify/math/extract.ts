/**
 * Finding the final answer in a model's output, in the order Math-Verify looks: a tier of extraction modes is
 * tried at a time, and within a tier the candidate that appears last in the text wins.
 * - `boxed`: `\boxed{...}` / `\fbox{...}` (braces nest); boxed answers side by side (`\boxed{1}, \boxed{2}`) are one list;
 * - `final-answer`: "the final answer is X", "the answer is X", "Answer: X";
 * - `latex`: the math of `$...$`, `$$...$$`, `\(...\)`, `\[...\]` (inline spans end at a newline); spans joined by
 *   "and" / "or" / "," are one list;
 * - `expression`: the last plain number outside math (thousands separators, decimal commas, currency, units, percent).
 */

import { percentValue, readNumbers, type PlainNumber } from '../plain-numbers.js';

export { plainNumber } from '../plain-numbers.js';

export type ExtractMode = 'boxed' | 'final-answer' | 'latex' | 'expression';
/** One mode, or several that compete on position (the last in the text wins). */
export type ExtractTier = ExtractMode | ExtractMode[];

export const DEFAULT_EXTRACTION: ExtractTier[] = [['boxed', 'final-answer'], ['latex', 'expression']];

export interface Extracted {
  /** The answer as written (LaTeX, not normalised); a plain number from `expression` is already plain. */
  answer: string;
  mode: ExtractMode;
}

interface Candidate extends Extracted {
  at: number;
}

/** The content of the braces opening at `open` (which must be `{`), or null when they never close. */
export function braceGroup(text: string, open: number): { content: string; end: number } | null {
  if (text[open] !== '{') return null;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      i++; // an escaped character, e.g. \{ or \}, never opens or closes a group
      continue;
    }
    if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return { content: text.slice(open + 1, i), end: i + 1 };
  }
  return null;
}

interface Span {
  content: string;
  start: number;
  end: number;
}

function boxedSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(/\\(?:boxed|fbox)(?![a-zA-Z])/g)) {
    let i = m.index + m[0].length;
    while (text[i] === ' ') i++;
    if (text[i] === '{') {
      const group = braceGroup(text, i);
      if (group) spans.push({ content: group.content, start: m.index, end: group.end });
    } else {
      const bare = text.slice(i).match(/^[^\s$]+/);
      if (bare) spans.push({ content: bare[0], start: m.index, end: i + bare[0].length });
    }
  }
  return spans;
}

/**
 * The content of the last `\boxed{...}` / `\fbox{...}` (also `\boxed 5`), or null.
 *
 * @example
 * lastBoxed('so \\boxed{\\frac{1}{2}}.') === '\\frac{1}{2}'
 */
export function lastBoxed(text: string): string | null {
  const spans = boxedSpans(text);
  return spans.length ? spans[spans.length - 1]!.content : null;
}

/**
 * The rest of the text after a last `\boxed{` that never closes (a malformed reference such as `\boxed{x = 1`),
 * or null.
 */
export function unclosedBoxed(text: string): string | null {
  const opens = [...text.matchAll(/\\(?:boxed|fbox)\s*\{/g)];
  const last = opens[opens.length - 1];
  if (!last || braceGroup(text, last.index + last[0].length - 1)) return null;
  const rest = text.slice(last.index + last[0].length).trim();
  return rest === '' ? null : rest;
}

// What may stand between two answers that form one list: commas, "and"/"or", spacing, math delimiters.
const CONNECTOR = /^(?:\s|,|;|\\[,;:! ]|\\q?quad|\\text\{\s*(?:and|or)\s*\}|\band\b|\bor\b|\\\(|\\\)|\\\[|\\\]|\$|\\(?=\\|$)|\.)*$/;

/** The last span, with the spans before it that only connectors separate from it, as one comma-separated answer. */
function lastGroup(text: string, spans: Span[]): Span | null {
  if (spans.length === 0) return null;
  let k = spans.length - 1;
  while (k > 0) {
    const between = text.slice(spans[k - 1]!.end, spans[k]!.start);
    if (between.length > 40 || !CONNECTOR.test(between)) break;
    k--;
  }
  const group = spans.slice(k);
  return { content: group.map((s) => s.content).join(', '), start: group[group.length - 1]!.start, end: group[group.length - 1]!.end };
}

/** `$...$`, `$$...$$`, `\(...\)`, `\[...\]`, in order; `\$` is a dollar sign, not a delimiter. */
export function latexSpans(text: string): Span[] {
  const spans: Span[] = [];
  const re = /\$\$([\s\S]+?)\$\$|(?<!\\)\$((?:\\\$|[^$\n])+?)(?<!\\)\$|\\\(([^\n]+?)\\\)|\\\[([\s\S]+?)\\\]/g;
  for (const m of text.matchAll(re)) {
    const content = (m[1] ?? m[2] ?? m[3] ?? m[4])!;
    if (content.trim()) spans.push({ content, start: m.index, end: m.index + m[0].length });
  }
  return spans;
}

function boxedCandidate(text: string): Candidate | null {
  const group = lastGroup(text, boxedSpans(text));
  return group ? { answer: group.content.trim(), mode: 'boxed', at: group.start } : null;
}

function latexCandidate(text: string): Candidate | null {
  const group = lastGroup(text, latexSpans(text));
  if (group) return { answer: group.content.trim(), mode: 'latex', at: group.start };
  // Math written without delimiters (`\frac{10}{9}`): the whole text, when it has commands and no prose.
  const bare = text.trim();
  if (/\\[a-zA-Z]|=/.test(bare) && !/(?<![\\a-zA-Z])[a-zA-Z]{4,}/.test(bare.replace(/\\[a-zA-Z]+/g, '')) && boxedSpans(text).length === 0) {
    return { answer: bare, mode: 'latex', at: text.length };
  }
  return null;
}

// Between two numbers of one expression: an operator on the same line (`11 + 4/9`, `3 × 4`).
const OPERATOR = /^[ \t]*([-+*×÷^/−])[ \t]*$/;

/** One expression of numbers and operators as the engine reads it; a percent applies to the whole of it. */
function expressionText(numbers: PlainNumber[], ops: string[]): string | null {
  if (numbers.some((n) => n.value === null)) {
    // `4 0/0`, `11 6/6`: no number, kept as written so that it equals no finite value.
    return numbers.map((n) => n.written.replace(/\s*(?:\\?%|percentage|percent|pct)$/, '')).join(' ');
  }
  const last = numbers[numbers.length - 1]!;
  if (numbers.length === 1) return last.percent ? percentValue(last.value!) : last.value;
  const op = (o: string) => (o === '×' ? '*' : o === '÷' ? '/' : o === '−' ? '-' : o);
  const joined = numbers.map((n, i) => (i ? op(ops[i - 1]!) : '') + (n.value!.includes('/') ? `(${n.value})` : n.value)).join('');
  return last.percent ? `(${joined})/100` : joined;
}

/** The last plain number or arithmetic of numbers outside math spans (those are masked), or null. */
function expressionCandidate(text: string): Candidate | null {
  let masked = text;
  for (const span of [...latexSpans(text), ...boxedSpans(text)]) {
    masked = masked.slice(0, span.start) + ' '.repeat(span.end - span.start) + masked.slice(span.end);
  }
  const numbers = readNumbers(masked);
  let last: Candidate | null = null;
  for (let i = 0; i < numbers.length; ) {
    const group = [numbers[i]!];
    const ops: string[] = [];
    let j = i + 1;
    for (; j < numbers.length && !group[group.length - 1]!.percent; j++) {
      const op = masked.slice(numbers[j - 1]!.end, numbers[j]!.start).match(OPERATOR);
      if (!op || numbers[j]!.value === null || /^[-−+]/.test(numbers[j]!.written)) break;
      group.push(numbers[j]!);
      ops.push(op[1]!);
    }
    const answer = expressionText(group, ops);
    if (answer !== null) last = { answer, mode: 'expression', at: group[0]!.start };
    i = j;
  }
  return last;
}

/** The text with math spans blanked out (same length), so that sentence and word searches skip them. */
function maskSpans(text: string, spans: Span[]): string {
  let masked = text;
  for (const span of spans) masked = masked.slice(0, span.start) + '\u0001'.repeat(span.end - span.start) + masked.slice(span.end);
  return masked;
}

/** The answer in the sentence after a "final answer" phrase: what follows its last "is", as math or a number. */
function phraseAnswer(rest: string): string | null {
  const masked = maskSpans(rest, latexSpans(rest));
  const sentenceEnd = masked.match(/^(?:[^\n.]|\.(?=\d))*/)?.[0].length ?? rest.length;
  const isAt = [...masked.slice(0, sentenceEnd).matchAll(/\bis\b/g)].pop();
  const from = isAt ? isAt.index + isAt[0].length : 0;
  const chunk = rest.slice(from, sentenceEnd);
  const spans = latexSpans(chunk);
  if (spans.length) return lastGroup(chunk, spans)?.content.trim() ?? null;
  const plain = chunk.replace(/\*+/g, '').replace(/^[\s:"']+|[\s"'.!]+$/g, '');
  if (!plain) return null;
  // One number as written (`4 4/9`, `$1,000.99`, `28 percent`) is read as the expression mode reads it.
  if (/^[-−+]?\s?[$€£]?\s?\d[\d .,/]*\s?(?:%|percentage|percent|pct)?$/.test(plain) && !/,\s/.test(plain)) {
    const number = expressionCandidate(plain);
    if (number) return number.answer;
  }
  if (!/[a-zA-Z]{3,}/.test(plain)) return plain;
  return expressionCandidate(chunk)?.answer ?? null;
}

function finalAnswerCandidate(text: string): Candidate | null {
  const phrases = [...text.matchAll(/\b(?:final\s+answer(?:\s*\**\s*:)?(?:\s*the\s+final\s+answer)?\s*(?:is\b)?|answer\s+is\b|answer\s*\**\s*:)\s*\**\s*:?/gi)];
  for (let k = phrases.length - 1; k >= 0; k--) {
    const at = phrases[k]!.index + phrases[k]![0].length;
    const found = phraseAnswer(text.slice(at));
    if (found) return { answer: found, mode: 'final-answer', at };
  }
  return null;
}

const FINDERS: Record<ExtractMode, (text: string) => Candidate | null> = {
  boxed: boxedCandidate,
  'final-answer': finalAnswerCandidate,
  latex: latexCandidate,
  expression: expressionCandidate,
};

/**
 * The final answer of a text under these extraction tiers, or null when no mode finds one.
 *
 * @example
 * extractAnswer('so $x = 3$.')  // { answer: 'x = 3', mode: 'latex' }
 * extractAnswer('It costs $1,000.99.', [['expression']])  // { answer: '1000.99', mode: 'expression' }
 */
export function extractAnswer(text: string, tiers: ExtractTier[] = DEFAULT_EXTRACTION): Extracted | null {
  for (const tier of tiers) {
    const modes = Array.isArray(tier) ? tier : [tier];
    let best: Candidate | null = null;
    for (const mode of modes) {
      const found = FINDERS[mode](text);
      if (found && (!best || found.at > best.at)) best = found;
    }
    if (best) return { answer: best.answer, mode: best.mode };
  }
  return null;
}

/** The final answer as written, or null (the default tiers). */
export function extractMathAnswer(text: string, tiers?: ExtractTier[]): string | null {
  return extractAnswer(text, tiers)?.answer ?? null;
}

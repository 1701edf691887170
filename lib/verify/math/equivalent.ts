/**
 * When two final answers are the same mathematical object. Both are normalised first (normalize.ts), then:
 * - structures compare part by part: tuples and intervals in order, with their brackets (`(1,2)` != `[1,2]`, since
 *   brackets decide what an interval holds); sets `\{...\}` and bare lists `1, 2` in any order (a set equals a
 *   list of the same elements); unions `A \cup B` in any order; matrices cell by cell;
 * - scalars that are rational all the way down compare exactly (`0.75` == `\frac34`, `0.33` != `\frac13`);
 * - other numeric scalars (roots, π, functions) compare as floats within a relative 1e-6
 *   (`2\sqrt{3}` == `\sqrt{12}`, `\pi` != `3.14`);
 * - expressions with variables compare at six seeded random points (`\frac{x}{2}` == `0.5x`);
 * - anything the parser does not read compares as text, case-insensitively.
 */
import { createRng, hashSeed } from '../../rng.js';
import { rationalKey, ratEquals } from '../rational.js';
import { evalExact, evalFloat, freeVariables, parseExpr, type Expr } from './expr.js';
import { normalizeMathAnswer } from './normalize.js';

type Structure =
  | { kind: 'scalar'; text: string }
  | { kind: 'tuple'; open: string; close: string; items: string[] }
  | { kind: 'set'; items: string[] }
  | { kind: 'union'; items: string[] }
  | { kind: 'matrix'; rows: string[][] };

const RELATIVE_TOLERANCE = 1e-6;

/** Splits at `separator` where no bracket is open. */
export function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && (text[i + 1] === '{' || text[i + 1] === '}')) {
      depth += text[i + 1] === '{' ? 1 : -1;
      i++;
    } else if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(text.slice(from, i));
      from = i + separator.length;
      i += separator.length - 1;
    }
  }
  parts.push(text.slice(from));
  return parts;
}

/** Whether the bracket opening at 0 closes at the very end (so `(1,2)` is one group, `(1)+(2)` is not). */
function wholeGroup(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if ('([{'.includes(text[i])) depth++;
    else if (')]}'.includes(text[i]) && --depth === 0) return i === text.length - 1;
  }
  return false;
}

function structure(text: string): Structure {
  const matrix = text.match(/^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}$/);
  if (matrix) {
    const rows = matrix[2].split(/\\\\/).filter((row) => row.length > 0);
    return { kind: 'matrix', rows: rows.map((row) => row.split('&')) };
  }
  const union = splitTopLevel(text, '\\cup');
  if (union.length > 1) return { kind: 'union', items: union };
  if (text.startsWith('\\{') && text.endsWith('\\}')) {
    const inner = text.slice(2, -2);
    return { kind: 'set', items: inner === '' ? [] : splitTopLevel(inner, ',') };
  }
  if ('(['.includes(text[0]) && ')]'.includes(text[text.length - 1]) && wholeGroup(text)) {
    const items = splitTopLevel(text.slice(1, -1), ',');
    if (items.length > 1) return { kind: 'tuple', open: text[0], close: text[text.length - 1], items };
  }
  const list = splitTopLevel(text, ',');
  if (list.length > 1) return { kind: 'set', items: list };
  return { kind: 'scalar', text };
}

function close(x: number, y: number): boolean {
  if (Number.isNaN(x) || Number.isNaN(y)) return false;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  return Math.abs(x - y) <= RELATIVE_TOLERANCE * Math.max(Math.abs(x), Math.abs(y)) || Math.abs(x - y) < 1e-12;
}

/** Equal as functions of their variables, tested at seeded random points (deterministic per variable set). */
function sameFunction(a: Expr, b: Expr, variables: string[]): boolean {
  const rng = createRng(hashSeed('math-equivalence', ...variables));
  let agreed = 0;
  for (let trial = 0; trial < 6; trial++) {
    // Positive values away from 0 and 1 keep roots and logarithms in their domains.
    const env = Object.fromEntries(variables.map((v) => [v, 0.3 + rng() * 2.4 + (rng() < 0.5 ? 0 : 1.1)]));
    const x = evalFloat(a, env);
    const y = evalFloat(b, env);
    if (!Number.isFinite(x) && !Number.isFinite(y)) continue;
    if (!close(x, y)) return false;
    agreed++;
  }
  return agreed >= 3;
}

function scalarsEquivalent(a: string, b: string): boolean {
  if (a === b) return true;
  // Words (`Monday`, an unwrapped `\text{odd}`) are text, not products of one-letter variables; so are
  // numbers side by side (`3 4`).
  const textual = (x: string) => /(?<![\\a-zA-Z])[a-zA-Z]{3,}/.test(x) || /\d \d/.test(x);
  if (textual(a) || textual(b)) return a.toLowerCase() === b.toLowerCase();
  const ea = parseExpr(a);
  const eb = parseExpr(b);
  if (!ea || !eb) return a.toLowerCase() === b.toLowerCase();
  const variables = [...new Set([...freeVariables(ea), ...freeVariables(eb)])].sort();
  if (variables.length) return sameFunction(ea, eb, variables);
  const ra = evalExact(ea);
  const rb = evalExact(eb);
  if (ra && rb) return ratEquals(ra, rb);
  return close(evalFloat(ea), evalFloat(eb));
}

/** Every item of `a` pairs with a different, equivalent item of `b` (small lists: a greedy match will do). */
function sameUnordered(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const left = [...b];
  for (const item of a) {
    const at = left.findIndex((other) => normalizedEquivalent(item, other));
    if (at < 0) return false;
    left.splice(at, 1);
  }
  return true;
}

function normalizedEquivalent(a: string, b: string): boolean {
  a = normalizeMathAnswer(a);
  b = normalizeMathAnswer(b);
  if (a === b) return true;
  const sa = structure(a);
  const sb = structure(b);
  if (sa.kind !== sb.kind) return false;
  switch (sa.kind) {
    case 'scalar':
      return scalarsEquivalent(sa.text, (sb as typeof sa).text);
    case 'tuple': {
      const tb = sb as typeof sa;
      return (
        sa.open === tb.open && sa.close === tb.close && sa.items.length === tb.items.length &&
        sa.items.every((item, i) => normalizedEquivalent(item, tb.items[i]))
      );
    }
    case 'set':
    case 'union':
      return sameUnordered(sa.items, (sb as typeof sa).items);
    case 'matrix': {
      const mb = sb as typeof sa;
      return (
        sa.rows.length === mb.rows.length &&
        sa.rows.every((row, i) => row.length === mb.rows[i].length && row.every((cell, j) => normalizedEquivalent(cell, mb.rows[i][j])))
      );
    }
  }
}

/**
 * Whether two answers (as written, e.g. extracted from `\boxed{}`) are the same mathematical object.
 *
 * @example
 * mathEquivalent('\\dfrac{\\sqrt{2}}{2}', '1/\\sqrt2') === true
 * mathEquivalent('(1, 2)', '[1, 2]') === false
 */
export function mathEquivalent(a: string, b: string): boolean {
  return normalizedEquivalent(a, b);
}

/**
 * The majority-voting key of an answer: the canonical number when it is rational (`\frac{3}{4}`, `0.75` → `0.75`),
 * else its normalised text.
 */
export function mathAnswerKey(answer: string): string {
  const normalised = normalizeMathAnswer(answer);
  const parsed = structure(normalised).kind === 'scalar' ? parseExpr(normalised) : null;
  const exact = parsed && freeVariables(parsed).size === 0 ? evalExact(parsed) : null;
  return exact ? rationalKey(exact) : normalised;
}

/**
 * When two final answers are the same mathematical object. Both are normalised first (normalize.ts), then read as
 * a structure and compared part by part:
 * - tuples and intervals in order, with their brackets (`(1,2)` != `[1,2]`); a bare list against a tuple in order;
 * - sets `\{...\}` and bare lists in any order, duplicates aside; unions in any order; matrices cell by cell (also
 *   after evaluating `A + B` or `AB`);
 * - relations: a predicted `x = 3` against `3` is its right-hand side; a reference `k = 3` too when its left side is
 *   a name; equations are equal when their sides' differences are proportional (`2x+4y-3=0` = `y=-x/2+3/4`),
 *   inequalities when they are so with a positive factor and the same strictness (`x<1` = `-x>-1`); a reference
 *   `a < x < b` against an interval reads as that interval (a predicted one only with `setRelations`);
 * - scalars with the compute engine (scalar.ts); words compare as text, case-insensitively.
 */
import { parseDecimal, ratDiv, rationalKey } from '../rational.js';
import { normalizeMathAnswer } from './normalize.js';
import { evaluateMatrix, parseLatex, proportional, sameScalar } from './scalar.js';

export interface CompareOptions {
  /** Decimal places a value written with decimals is rounded to before comparing. */
  precision: number;
  /** Read a predicted `a \le x \le b` as the interval `[a, b]`. */
  setRelations: boolean;
}

export const DEFAULT_COMPARE: CompareOptions = { precision: 6, setRelations: false };

type Node =
  | { kind: 'scalar'; text: string }
  | { kind: 'tuple'; open: string; close: string; items: string[] }
  | { kind: 'set'; items: string[]; braces: boolean }
  | { kind: 'union'; items: string[] }
  | { kind: 'matrix'; rows: string[][] }
  | { kind: 'relation'; parts: string[]; ops: string[] };

/** Splits at `separator` where no bracket is open. */
export function splitTopLevel(text: string, separator: string | RegExp): string[] {
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  const sticky = typeof separator === 'string' ? null : new RegExp(separator.source, 'y');
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && (text[i + 1] === '{' || text[i + 1] === '}')) {
      depth += text[i + 1] === '{' ? 1 : -1;
      i++;
      continue;
    }
    if (text.startsWith('\\begin{', i)) depth++;
    else if (text.startsWith('\\end{', i)) depth--;
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (depth === 0) {
      let length = 0;
      if (sticky) {
        sticky.lastIndex = i;
        const m = sticky.exec(text);
        length = m ? m[0].length : 0;
      } else if (text.startsWith(separator as string, i)) length = (separator as string).length;
      if (length > 0) {
        parts.push(text.slice(from, i));
        from = i + length;
        i += length - 1;
      }
    }
  }
  parts.push(text.slice(from));
  return parts;
}

/** Whether the bracket opening at 0 closes at the very end (so `(1,2)` is one group, `(1)+(2)` is not). */
function wholeGroup(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if ('([{'.includes(text[i]!)) depth++;
    else if (')]}'.includes(text[i]!) && --depth === 0) return i === text.length - 1;
  }
  return false;
}

const RELATION = /\\leq(?![a-zA-Z])|\\geq(?![a-zA-Z])|\\neq(?![a-zA-Z])|\\approx(?![a-zA-Z])|=|<|>/;

function relationOf(text: string): Node | null {
  const pieces: string[] = [];
  const ops: string[] = [];
  let rest = text;
  for (;;) {
    const parts = splitTopLevel(rest, RELATION);
    if (parts.length === 1) break;
    const head = parts[0]!;
    pieces.push(head);
    const op = rest.slice(head.length).match(new RegExp(`^(?:${RELATION.source})`))![0];
    ops.push(op);
    rest = rest.slice(head.length + op.length);
  }
  if (ops.length === 0) return null;
  pieces.push(rest);
  if (pieces.some((p) => p.trim() === '')) return null;
  // `x = 1/3 \approx 0.33`: the approximation is a remark; `x \approx 11` alone reads as `x = 11`.
  const approx = ops.indexOf('\\approx');
  if (approx >= 0) {
    if (ops.some((o) => o !== '\\approx')) return relationOf(pieces.slice(0, approx + 1).reduce((acc, p, i) => acc + (i ? ops[i - 1] : '') + p, ''));
    return { kind: 'relation', parts: pieces, ops: ops.map(() => '=') };
  }
  return { kind: 'relation', parts: pieces, ops };
}

function matrixOf(text: string): Node | null {
  const m = text.match(/^[([]?\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?(.*)\\end\{\1\}[)\]]?$/s);
  if (m && !m[2]!.includes('\\begin{')) {
    const rows = m[2]!.split(/\\\\/).filter((row) => row.trim().length > 0);
    return { kind: 'matrix', rows: rows.map((row) => row.split('&')) };
  }
  if (text.includes('\\begin{')) {
    const evaluated = evaluateMatrix(text);
    if (evaluated) return { kind: 'matrix', rows: evaluated.map((row) => row.map(normalizeMathAnswer)) };
  }
  return null;
}

/** `a \pm b` as the set `{a+b, a-b}` (the first `\pm` or `\mp` outside brackets), or null. */
function plusMinusOf(text: string): Node | null {
  const parts = splitTopLevel(text, /\\(?:pm|mp)(?![a-zA-Z])/);
  if (parts.length !== 2) return null;
  const minusFirst = text.slice(parts[0]!.length).startsWith('\\mp');
  const [plus, minus] = [`${parts[0]}+${parts[1]}`, `${parts[0]}-${parts[1]}`];
  return { kind: 'set', items: minusFirst ? [minus, plus] : [plus, minus], braces: false };
}

/**
 * `p=5, q=2, p=7, q=2` (solutions written as assignments, a name coming back starts the next one) as the set of
 * tuples `(5,2), (7,2)`; null unless every item is `name = value` and every solution names the same variables.
 */
function solutionsOf(list: string[]): Node | null {
  const assignments = list.map((item) => item.match(/^([a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?)=(?!.*[=<>])(.+)$/));
  if (assignments.some((a) => a === null)) return null;
  const names = assignments.map((a) => a![1]);
  const width = names.indexOf(names[0], 1);
  if (width <= 1 || list.length % width !== 0) return null;
  const solutions: string[] = [];
  for (let k = 0; k < list.length; k += width) {
    if (names.slice(k, k + width).some((name, i) => name !== names[i])) return null;
    solutions.push(`(${assignments.slice(k, k + width).map((a) => a![2]).join(',')})`);
  }
  return { kind: 'set', items: solutions, braces: false };
}

function structure(text: string): Node {
  const matrix = matrixOf(text);
  if (matrix) return matrix;
  const list = splitTopLevel(text, ',');
  if (list.length > 1) {
    const solutions = solutionsOf(list);
    if (solutions) return solutions;
  }
  if (list.length === 1) {
    const relation = relationOf(text);
    if (relation) return relation;
  }
  const union = splitTopLevel(text, '\\cup');
  if (union.length > 1) return { kind: 'union', items: union };
  if (text.startsWith('\\{') && text.endsWith('\\}') && splitTopLevel(text, ',').length === 1) {
    const inner = text.slice(2, -2);
    return { kind: 'set', items: inner === '' ? [] : splitTopLevel(inner, ','), braces: true };
  }
  if ('(['.includes(text[0]!) && ')]'.includes(text[text.length - 1]!) && wholeGroup(text)) {
    const items = splitTopLevel(text.slice(1, -1), ',');
    if (items.length > 1) return { kind: 'tuple', open: text[0]!, close: text[text.length - 1]!, items };
  }
  if (list.length > 1) return { kind: 'set', items: list, braces: false };
  return plusMinusOf(text) ?? { kind: 'scalar', text };
}

/** A name rather than a value: `x`, `AB`, `f(x)`, `(p,q)`, `S_{MBCN}:S` (no digits or sums outside subscripts). */
function nameLike(text: string): boolean {
  const bare = text.replace(/_\{[^}]*\}|_[a-zA-Z0-9]/g, '').trim();
  return bare !== '' && !/[\d+\-]/.test(bare.replace(/\\[a-zA-Z]+/g, 'a')) && /[a-zA-Z]/.test(bare);
}

const isEquation = (n: Node): n is Extract<Node, { kind: 'relation' }> => n.kind === 'relation' && n.ops.every((o) => o === '=');

/** A reference `lo < x < hi` (or `x >= 5`) as the interval it describes, or null. */
function relationAsInterval(n: Extract<Node, { kind: 'relation' }>): Node | null {
  const less = (o: string) => o === '<' || o === '\\leq';
  const more = (o: string) => o === '>' || o === '\\geq';
  if (n.ops.length === 2 && nameLike(n.parts[1]!)) {
    const bounds = n.ops.every(less)
      ? { lo: n.parts[0]!, hi: n.parts[2]!, open: n.ops[0] === '<', close: n.ops[1] === '<' }
      : n.ops.every(more)
        ? { lo: n.parts[2]!, hi: n.parts[0]!, open: n.ops[1] === '>', close: n.ops[0] === '>' }
        : null;
    if (!bounds) return null;
    if (/^\|.*\|$/.test(n.parts[1]!.trim())) return absoluteBetween(bounds);
    return { kind: 'tuple', open: bounds.open ? '(' : '[', close: bounds.close ? ')' : ']', items: [bounds.lo, bounds.hi] };
  }
  return null;
}

/** `lo ≤ |x| ≤ hi` with `0 < lo`: the union `[-hi, -lo] ∪ [lo, hi]` (brackets as the relation's strictness). */
function absoluteBetween(b: { lo: string; hi: string; open: boolean; close: boolean }): Node | null {
  const lo = parseLatex(b.lo);
  const value = lo ? Number(lo.N().re) : NaN;
  if (!(value > 0)) return null;
  const [o, c] = [b.open ? '(' : '[', b.close ? ')' : ']'];
  const mirrored = `${b.close ? '(' : '['}-(${b.hi}),-(${b.lo})${b.open ? ')' : ']'}`;
  return { kind: 'union', items: [mirrored, `${o}${b.lo},${b.hi}${c}`] };
}

function textual(x: string): boolean {
  return /(?<![\\a-zA-Z])[a-zA-Z]{3,}/.test(x) || /\d \d/.test(x);
}

function scalarsEquivalent(a: string, b: string, options: CompareOptions): boolean {
  if (a === b) return true;
  if (a.toLowerCase() === b.toLowerCase() && (textual(a) || textual(b) || /^[a-zA-Z]$/.test(a))) return true;
  if (textual(a) || textual(b)) return false;
  const ea = parseLatex(a);
  const eb = parseLatex(b);
  if (!ea || !eb) return false;
  return sameScalar(ea, eb, options.precision);
}

/** Every item of one side has an equivalent item on the other (sets: duplicates and order aside). */
function sameSet(a: string[], b: string[], options: CompareOptions): boolean {
  const covered = (xs: string[], ys: string[]) => xs.every((x) => ys.some((y) => equivalentText(x, y, options)));
  return covered(a, b) && covered(b, a);
}

function difference(n: Extract<Node, { kind: 'relation' }>): string {
  return `(${n.parts[0]})-(${n.parts[n.parts.length - 1]})`;
}

function relationsEquivalent(a: Extract<Node, { kind: 'relation' }>, b: Extract<Node, { kind: 'relation' }>, options: CompareOptions): boolean {
  if (isEquation(a) && isEquation(b)) {
    if (nameLike(a.parts[0]!) && nameLike(b.parts[0]!)) return equivalentText(a.parts[a.parts.length - 1]!, b.parts[b.parts.length - 1]!, options);
    const da = parseLatex(difference(a));
    const db = parseLatex(difference(b));
    return !!da && !!db && proportional(da, db, false);
  }
  if (a.ops.length !== b.ops.length) return false;
  // Orient each inequality as `big - small` (> 0 or ≥ 0), then compare pair by pair.
  const oriented = (n: typeof a) =>
    n.ops.map((op, i) => {
      const [l, r] = [n.parts[i], n.parts[i + 1]];
      if (op === '<' || op === '\\leq') return { f: `(${r})-(${l})`, strict: op === '<', neq: false, order: [l, r] };
      if (op === '>' || op === '\\geq') return { f: `(${l})-(${r})`, strict: op === '>', neq: false, order: [r, l] };
      return { f: `(${l})-(${r})`, strict: false, neq: op === '\\neq', order: [l, r] };
    });
  const oa = oriented(a);
  const ob = oriented(b);
  const samePairs = (xs: typeof oa, ys: typeof oa) =>
    xs.every((x, i) => {
      const y = ys[i]!;
      if (x.strict !== y.strict || x.neq !== y.neq) return false;
      if (x.order.every((part, k) => equivalentText(part!, y.order[k]!, options))) return true;
      const fx = parseLatex(x.f);
      const fy = parseLatex(y.f);
      return !!fx && !!fy && proportional(fx, fy, !x.neq);
    });
  return samePairs(oa, ob) || (oa.length > 1 && samePairs(oa, [...ob].reverse()));
}

function nodesEquivalent(gold: Node, pred: Node, options: CompareOptions): boolean {
  // Relations against values: a predicted `x = 3` is its value; a reference `k = 3` too when `k` is a name.
  if (pred.kind === 'relation' && gold.kind !== 'relation') {
    if (isEquation(pred)) return nodesEquivalent(gold, structure(pred.parts[pred.parts.length - 1]!), options);
    const interval = options.setRelations ? relationAsInterval(pred) : null;
    return interval ? nodesEquivalent(gold, interval, options) : false;
  }
  if (gold.kind === 'relation' && pred.kind !== 'relation') {
    if (isEquation(gold) && nameLike(gold.parts[gold.parts.length - 2]!)) return nodesEquivalent(structure(gold.parts[gold.parts.length - 1]!), pred, options);
    const interval = relationAsInterval(gold);
    return interval ? nodesEquivalent(interval, pred, options) : false;
  }
  if (gold.kind === 'relation' && pred.kind === 'relation') return relationsEquivalent(gold, pred, options);
  // A bare list against a tuple: in order.
  if (gold.kind === 'tuple' && pred.kind === 'set' && !pred.braces && gold.open === '(' && gold.close === ')') {
    return gold.items.length === pred.items.length && gold.items.every((item, i) => equivalentText(item, pred.items[i]!, options));
  }
  if (pred.kind === 'tuple' && gold.kind === 'set' && !gold.braces) return nodesEquivalent(pred, gold, options);
  if (gold.kind !== pred.kind) return false;
  switch (gold.kind) {
    case 'scalar':
      return scalarsEquivalent(gold.text, (pred as typeof gold).text, options);
    case 'tuple': {
      const p = pred as typeof gold;
      return (
        gold.open === p.open && gold.close === p.close && gold.items.length === p.items.length &&
        gold.items.every((item, i) => equivalentText(item, p.items[i]!, options))
      );
    }
    case 'set':
    case 'union':
      return sameSet(gold.items, (pred as typeof gold).items, options);
    case 'matrix': {
      const p = pred as typeof gold;
      return (
        gold.rows.length === p.rows.length &&
        gold.rows.every((row, i) => row.length === p.rows[i]!.length && row.every((cell, j) => equivalentText(cell, p.rows[i]![j]!, options)))
      );
    }
    case 'relation':
      return false;
  }
}

function equivalentText(gold: string, pred: string, options: CompareOptions): boolean {
  const a = normalizeMathAnswer(gold);
  const b = normalizeMathAnswer(pred);
  if (a === b) return true;
  return nodesEquivalent(structure(a), structure(b), options);
}

/**
 * Whether a predicted answer (as written, e.g. extracted from `\boxed{}`) is the reference's mathematical object.
 * The order matters for relations: see the module comment.
 *
 * @example
 * mathEquivalent('\\dfrac{\\sqrt{2}}{2}', '1/\\sqrt2') === true
 * mathEquivalent('(1, 2)', '[1, 2]') === false
 */
export function mathEquivalent(gold: string, pred: string, options: Partial<CompareOptions> = {}): boolean {
  const resolved = { ...DEFAULT_COMPARE, ...options };
  if (equivalentText(gold, pred, resolved)) return true;
  // A reference written as a percent (`28\%`) also accepts its fraction (`0.28`, `28/100`).
  return PERCENT_ANSWER.test(gold.trim()) && equivalentText(`\\frac{${normalizeMathAnswer(gold)}}{100}`, pred, resolved);
}

const PERCENT_ANSWER = /^[^,;]*\d\s*(?:\\?%|\\text\{\s*(?:\\?%|percent)\s*\}|\s(?:percent|pct)\.?)\$?$/;

/**
 * The majority-voting key of an answer: the canonical number when it is a plain rational (`\frac{3}{4}`, `0.75` →
 * `0.75`), else its normalised text.
 */
export function mathAnswerKey(answer: string): string {
  const normalised = normalizeMathAnswer(answer);
  const node = structure(normalised);
  const text = node.kind === 'relation' && isEquation(node) ? normalizeMathAnswer(node.parts[node.parts.length - 1]!) : normalised;
  const json = /^[-\d.\\{}frac/]+$/.test(text) ? parseLatex(text)?.json : undefined;
  const exact = rationalOf(json);
  return exact ?? text;
}

function rationalOf(json: unknown): string | null {
  if (typeof json === 'number' && Number.isFinite(json)) return rationalKeyOf(String(json), '1');
  if (Array.isArray(json) && json[0] === 'Rational' && typeof json[1] === 'number' && typeof json[2] === 'number') return rationalKeyOf(String(json[1]), String(json[2]));
  if (Array.isArray(json) && json[0] === 'Negate') {
    const inner = rationalOf(json[1]);
    return inner === null ? null : inner.startsWith('-') ? inner.slice(1) : `-${inner}`;
  }
  if (json && typeof json === 'object' && 'num' in json) return rationalKeyOf(String((json as { num: string }).num), '1');
  return null;
}

function rationalKeyOf(num: string, den: string): string | null {
  const n = parseDecimal(num);
  const d = parseDecimal(den);
  const r = n && d ? ratDiv(n, d) : null;
  return r ? rationalKey(r) : null;
}

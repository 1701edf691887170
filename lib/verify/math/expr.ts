/**
 * A small, safe parser for the LaTeX of scalar answers (`2\sqrt{3}`, `\frac{\pi}{4}`, `3x^2-1`, `10!`), and two
 * evaluations: exact (rationals; null where an irrational or a variable appears) and floating point (variables
 * from an environment). Nothing is ever executed: unknown commands make the parse fail, and the caller then
 * compares text.
 */
import {
  parseDecimal, ratAdd, ratDiv, ratMul, ratPow, ratSqrt, ratSub, rational, type Rational,
} from '../rational.js';

export type Expr =
  | { k: 'num'; text: string }
  | { k: 'var'; name: string }
  | { k: 'const'; name: 'pi' | 'infty' }
  | { k: 'neg'; a: Expr }
  | { k: 'bin'; op: '+' | '-' | '*' | '/' | '^'; a: Expr; b: Expr }
  | { k: 'fn'; name: string; a: Expr; base?: Expr }
  | { k: 'sqrt'; a: Expr; index?: Expr }
  | { k: 'fact'; a: Expr }
  | { k: 'abs'; a: Expr };

type Token = { t: 'num' | 'id' | 'cmd' | 'sym'; v: string };

const FUNCTIONS = new Set([
  'sin', 'cos', 'tan', 'sec', 'csc', 'cot', 'arcsin', 'arccos', 'arctan', 'sinh', 'cosh', 'tanh', 'ln', 'log', 'exp',
]);
const MUL = new Set(['*', 'cdot', 'times']);
const DIV = new Set(['/', 'div']);

function tokenize(text: string): Token[] | null {
  const tokens: Token[] = [];
  const re = /\s+|(\d+(?:\.\d+)?|\.\d+)|\\([a-zA-Z]+)|([a-zA-Z])|([-+*/^!(){}[\]|_,])|(.)/gy;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1]) tokens.push({ t: 'num', v: m[1] });
    else if (m[2]) tokens.push({ t: 'cmd', v: m[2] });
    else if (m[3]) tokens.push({ t: 'id', v: m[3] });
    else if (m[4]) tokens.push({ t: 'sym', v: m[4] });
    else if (m[5]) return null; // a character no answer expression has
  }
  return tokens;
}

/** Final answers are short; past this, an answer compares as text (and deep trees cannot exhaust the stack). */
const MAX_EXPRESSION_LENGTH = 400;

/** Parses a scalar expression; null when the text is not one this parser understands. */
export function parseExpr(text: string): Expr | null {
  if (text.length > MAX_EXPRESSION_LENGTH) return null;
  const tokenized = tokenize(text);
  if (!tokenized || tokenized.length === 0) return null;
  const tokens: Token[] = tokenized;
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isSym = (v: string) => peek()?.t === 'sym' && peek()?.v === v;
  function expect(v: string): void {
    if (!isSym(v)) throw new Error(`expected ${v}`);
    pos++;
  }

  function expr(): Expr {
    let left = term();
    while (isSym('+') || isSym('-')) {
      const op = tokens[pos++].v as '+' | '-';
      left = { k: 'bin', op, a: left, b: term() };
    }
    return left;
  }
  /** Can the next token begin a factor written right after another, as in `2x`, `3\sqrt{2}`, `(a)(b)`? */
  function startsFactor(): boolean {
    const t = peek();
    if (!t) return false;
    if (t.t === 'num' || t.t === 'id') return true;
    if (t.t === 'sym') return t.v === '(' || t.v === '{';
    return t.v === 'frac' || t.v === 'sqrt' || t.v === 'pi' || t.v === 'infty' || FUNCTIONS.has(t.v);
  }
  function term(): Expr {
    let left = signed();
    for (;;) {
      const t = peek();
      if (t && (MUL.has(t.v) || DIV.has(t.v)) && (t.t === 'sym' || t.t === 'cmd')) {
        pos++;
        left = { k: 'bin', op: DIV.has(t.v) ? '/' : '*', a: left, b: signed() };
      } else if (startsFactor()) {
        left = { k: 'bin', op: '*', a: left, b: power() };
      } else return left;
    }
  }
  function signed(): Expr {
    if (isSym('-')) {
      pos++;
      return { k: 'neg', a: signed() };
    }
    if (isSym('+')) {
      pos++;
      return signed();
    }
    return power();
  }
  function power(): Expr {
    const base = postfix();
    if (!isSym('^')) return base;
    pos++;
    return { k: 'bin', op: '^', a: base, b: exponent() };
  }
  function exponent(): Expr {
    if (isSym('{')) return group();
    if (isSym('-')) {
      pos++;
      return { k: 'neg', a: exponent() };
    }
    return power();
  }
  function postfix(): Expr {
    let a = atom();
    while (isSym('!')) {
      pos++;
      a = { k: 'fact', a };
    }
    return a;
  }
  function group(): Expr {
    expect('{');
    const e = expr();
    expect('}');
    return e;
  }
  /** A command's argument: a braced group, or one token (`\frac12`, `\sqrt2`). */
  function argument(): Expr {
    if (isSym('{')) return group();
    const t = peek();
    if (t?.t === 'num' && /^\d$/.test(t.v)) {
      pos++;
      return { k: 'num', text: t.v };
    }
    return atom();
  }
  function atom(): Expr {
    const t = peek();
    if (!t) throw new Error('unexpected end');
    pos++;
    if (t.t === 'num') return { k: 'num', text: t.v };
    if (t.t === 'id') {
      let name = t.v;
      if (isSym('_')) {
        pos++;
        const sub = peek();
        if (isSym('{')) {
          pos++;
          let inner = '';
          while (peek() && !isSym('}')) inner += tokens[pos++].v;
          expect('}');
          name += `_${inner}`;
        } else if (sub && (sub.t === 'num' || sub.t === 'id')) {
          pos++;
          name += `_${sub.v}`;
        } else throw new Error('bad subscript');
      }
      return { k: 'var', name };
    }
    if (t.t === 'sym') {
      if (t.v === '(') {
        const e = expr();
        expect(')');
        return e;
      }
      if (t.v === '{') {
        const e = expr();
        expect('}');
        return e;
      }
      if (t.v === '|') {
        const e = expr();
        expect('|');
        return { k: 'abs', a: e };
      }
      throw new Error(`unexpected ${t.v}`);
    }
    switch (t.v) {
      case 'pi':
        return { k: 'const', name: 'pi' };
      case 'infty':
        return { k: 'const', name: 'infty' };
      case 'frac':
      case 'over': {
        const a = argument();
        return { k: 'bin', op: '/', a, b: argument() };
      }
      case 'sqrt': {
        let index: Expr | undefined;
        if (isSym('[')) {
          pos++;
          index = expr();
          expect(']');
        }
        return { k: 'sqrt', a: argument(), index };
      }
    }
    if (FUNCTIONS.has(t.v)) {
      let base: Expr | undefined;
      if (t.v === 'log' && isSym('_')) {
        pos++;
        base = argument();
      }
      let exp: Expr | undefined;
      if (isSym('^')) {
        pos++;
        exp = exponent();
      }
      const a: Expr = isSym('(') ? atom() : power();
      const applied: Expr = { k: 'fn', name: t.v, a, base };
      return exp ? { k: 'bin', op: '^', a: applied, b: exp } : applied;
    }
    throw new Error(`unknown command \\${t.v}`);
  }

  try {
    const e = expr();
    return pos === tokens.length ? e : null;
  } catch {
    return null;
  }
}

export function freeVariables(e: Expr, into = new Set<string>()): Set<string> {
  switch (e.k) {
    case 'var':
      into.add(e.name);
      break;
    case 'neg':
    case 'fact':
    case 'abs':
      freeVariables(e.a, into);
      break;
    case 'bin':
      freeVariables(e.a, into);
      freeVariables(e.b, into);
      break;
    case 'fn':
      freeVariables(e.a, into);
      if (e.base) freeVariables(e.base, into);
      break;
    case 'sqrt':
      freeVariables(e.a, into);
      if (e.index) freeVariables(e.index, into);
      break;
  }
  return into;
}

/** The exact value when the expression is rational all the way down (no variables, π, or irrational roots). */
export function evalExact(e: Expr): Rational | null {
  switch (e.k) {
    case 'num':
      return parseDecimal(e.text);
    case 'neg': {
      const a = evalExact(e.a);
      return a && rational(-a.num, a.den);
    }
    case 'abs': {
      const a = evalExact(e.a);
      return a && rational(a.num < 0n ? -a.num : a.num, a.den);
    }
    case 'bin': {
      const a = evalExact(e.a);
      const b = evalExact(e.b);
      if (!a || !b) return null;
      if (e.op === '+') return ratAdd(a, b);
      if (e.op === '-') return ratSub(a, b);
      if (e.op === '*') return ratMul(a, b);
      if (e.op === '/') return ratDiv(a, b);
      return b.den === 1n ? ratPow(a, b.num) : null;
    }
    case 'sqrt': {
      if (e.index) return null;
      const a = evalExact(e.a);
      return a && ratSqrt(a);
    }
    case 'fact': {
      const a = evalExact(e.a);
      if (!a || a.den !== 1n || a.num < 0n || a.num > 100n) return null;
      let r = 1n;
      for (let i = 2n; i <= a.num; i++) r *= i;
      return rational(r);
    }
    default:
      return null;
  }
}

function factorial(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 170) return NaN;
  let r = 1;
  for (let i = 2; i <= n; i++) r *= i;
  return r;
}

/** The floating-point value, with variables taken from `env` (NaN for an unknown variable or outside a domain). */
export function evalFloat(e: Expr, env: Record<string, number> = {}): number {
  switch (e.k) {
    case 'num':
      return Number(e.text);
    case 'var':
      return env[e.name] ?? NaN;
    case 'const':
      return e.name === 'pi' ? Math.PI : Infinity;
    case 'neg':
      return -evalFloat(e.a, env);
    case 'abs':
      return Math.abs(evalFloat(e.a, env));
    case 'fact':
      return factorial(evalFloat(e.a, env));
    case 'sqrt': {
      const a = evalFloat(e.a, env);
      if (!e.index) return Math.sqrt(a);
      const n = evalFloat(e.index, env);
      // An odd root of a negative number is real.
      return a < 0 && Number.isInteger(n) && n % 2 === 1 ? -Math.pow(-a, 1 / n) : Math.pow(a, 1 / n);
    }
    case 'bin': {
      const a = evalFloat(e.a, env);
      const b = evalFloat(e.b, env);
      if (e.op === '+') return a + b;
      if (e.op === '-') return a - b;
      if (e.op === '*') return a * b;
      if (e.op === '/') return a / b;
      return Math.pow(a, b);
    }
    case 'fn': {
      const a = evalFloat(e.a, env);
      switch (e.name) {
        case 'sin': return Math.sin(a);
        case 'cos': return Math.cos(a);
        case 'tan': return Math.tan(a);
        case 'sec': return 1 / Math.cos(a);
        case 'csc': return 1 / Math.sin(a);
        case 'cot': return 1 / Math.tan(a);
        case 'arcsin': return Math.asin(a);
        case 'arccos': return Math.acos(a);
        case 'arctan': return Math.atan(a);
        case 'sinh': return Math.sinh(a);
        case 'cosh': return Math.cosh(a);
        case 'tanh': return Math.tanh(a);
        case 'ln': return Math.log(a);
        case 'exp': return Math.exp(a);
        case 'log': return e.base ? Math.log(a) / Math.log(evalFloat(e.base, env)) : Math.log10(a);
        default: return NaN;
      }
    }
  }
}

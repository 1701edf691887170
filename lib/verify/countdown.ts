/**
 * Countdown verifier: 1 for an answer expression that uses each given number exactly once, divides exactly,
 * and equals the target; 0.1 for a well-formed answer that breaks a rule or misses; 0 for no answer.
 */
import type { CountdownProblem } from '../tasks/countdown.js';
import { parsePrompt } from '../tasks/countdown.js';
import type { Verdict, Verifier, VerifyInput } from './types.js';

export const COUNTDOWN_VERSION = '1';

type Expr = { kind: 'num'; value: number } | { kind: 'bin'; op: string; left: Expr; right: Expr };

/** Parses `+ - * /` expressions with parentheses (also `× ÷ −`). Throws with the position of the first error. */
export function parseExpression(text: string): Expr {
  const tokens = text.replace(/×/g, '*').replace(/÷/g, '/').replace(/−/g, '-').match(/\d+|[-+*/()]|\S/g) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const expect = (t: string) => {
    if (tokens[pos] !== t) throw new Error(`expected "${t}" at token ${pos + 1}, got "${tokens[pos] ?? 'end'}"`);
    pos++;
  };
  function primary(): Expr {
    const t = peek();
    if (t === '(') {
      pos++;
      const e = sum();
      expect(')');
      return e;
    }
    if (t !== undefined && /^\d+$/.test(t)) {
      pos++;
      return { kind: 'num', value: Number(t) };
    }
    throw new Error(`unexpected "${t ?? 'end'}" at token ${pos + 1}`);
  }
  function product(): Expr {
    let left = primary();
    while (peek() === '*' || peek() === '/') {
      const op = tokens[pos++];
      left = { kind: 'bin', op: op!, left, right: primary() };
    }
    return left;
  }
  function sum(): Expr {
    let left = product();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[pos++];
      left = { kind: 'bin', op: op!, left, right: product() };
    }
    return left;
  }
  if (tokens.length === 0) throw new Error('empty expression');
  const e = sum();
  if (pos !== tokens.length) throw new Error(`unexpected "${tokens[pos]}" at token ${pos + 1}`);
  return e;
}

/** Evaluates with exact integer steps; returns null (with the reason) when a division is not exact. */
function evaluate(e: Expr): { value: number } | { error: string } {
  if (e.kind === 'num') return { value: e.value };
  const l = evaluate(e.left);
  if ('error' in l) return l;
  const r = evaluate(e.right);
  if ('error' in r) return r;
  switch (e.op) {
    case '+':
      return { value: l.value + r.value };
    case '-':
      return { value: l.value - r.value };
    case '*':
      return { value: l.value * r.value };
    default:
      if (r.value === 0) return { error: 'divides by zero' };
      if (l.value % r.value !== 0) return { error: `${l.value} / ${r.value} is not a whole number` };
      return { value: l.value / r.value };
  }
}

function leaves(e: Expr): number[] {
  return e.kind === 'num' ? [e.value] : [...leaves(e.left), ...leaves(e.right)];
}

/** A canonical form (commutative operands sorted) so that `3 + 4` and `4 + 3` vote together. */
export function canonical(e: Expr): string {
  if (e.kind === 'num') return String(e.value);
  const l = canonical(e.left);
  const r = canonical(e.right);
  const [a, b] = (e.op === '+' || e.op === '*') && r < l ? [r, l] : [l, r];
  return `(${a}${e.op}${b})`;
}

function countdownReference(input: VerifyInput): CountdownProblem {
  const ref = input.reference as Partial<CountdownProblem> | null;
  if (ref && Array.isArray(ref.numbers) && typeof ref.target === 'number') return { numbers: ref.numbers, target: ref.target };
  const parsed = parsePrompt(input.prompt);
  if (!parsed) throw new Error('countdown verifier: the reference has no numbers/target and the prompt has none either');
  return parsed;
}

/** The last `Answer:` line of a trace, or null. */
export function extractAnswerLine(text: string): string | null {
  const all = [...text.matchAll(/^\s*Answer\s*:\s*(.*)$/gim)];
  return all.length ? all[all.length - 1]![1]!.trim() : null;
}

export function verifyCountdown(problem: CountdownProblem, text: string): Verdict {
  const line = extractAnswerLine(text);
  if (line === null || line === '') return { score: 0, correct: false, answer: null, detail: 'no "Answer:" line' };
  const exprText = line.replace(/\s*=\s*-?\d+\s*$/, ''); // accept "… = 42"
  let expr: Expr;
  try {
    expr = parseExpression(exprText);
  } catch (err) {
    return { score: 0, correct: false, answer: null, detail: `answer is not an expression: ${(err as Error).message}` };
  }
  const answer = canonical(expr);
  const wrong = (detail: string): Verdict => ({ score: 0.1, correct: false, answer, detail });
  const used = leaves(expr).sort((a, b) => a - b);
  const given = [...problem.numbers].sort((a, b) => a - b);
  if (used.join(',') !== given.join(',')) return wrong(`uses [${used.join(', ')}], must use each of [${given.join(', ')}] exactly once`);
  const value = evaluate(expr);
  if ('error' in value) return wrong(value.error);
  if (value.value !== problem.target) return wrong(`equals ${value.value}, target is ${problem.target}`);
  return { score: 1, correct: true, answer, detail: `equals ${problem.target}` };
}

export const countdownVerifier: Verifier = {
  name: 'countdown',
  version: COUNTDOWN_VERSION,
  async verify(input) {
    return verifyCountdown(countdownReference(input), input.text);
  },
};

/**
 * The built-in task: Countdown (as in Stream of Search, Gandhi et al. 2024). Four numbers from 1–99 and a target
 * from 10–100; combine two numbers per step with + − × ÷ so that every intermediate result is a positive whole
 * number, using each number exactly once, until one number is left and it equals the target.
 *
 * This module owns the task's text formats (prompt, step lines, answer line), its state transitions, a complete
 * solver, and the generator of problem sets. The embedded model and the verifier both read text through it.
 */
import { createRng, randInt } from '../rng.js';

export type Op = '+' | '-' | '*' | '/';
export const OPS: readonly Op[] = ['+', '-', '*', '/'];

export interface CountdownProblem {
  numbers: number[];
  target: number;
}

/** One step: `a op b = result`, always written with the larger operand first. */
export interface Step {
  a: number;
  op: Op;
  b: number;
  result: number;
}

/** A step together with the numbers left after it (sorted, descending). */
export interface Move {
  step: Step;
  left: number[];
  text: string;
}

export function sortDesc(numbers: readonly number[]): number[] {
  return [...numbers].sort((x, y) => y - x);
}

export function combine(a: number, op: Op, b: number): number | null {
  switch (op) {
    case '+':
      return a + b;
    case '*':
      return a * b;
    case '-':
      return a > b ? a - b : null;
    case '/':
      return b !== 0 && a % b === 0 ? a / b : null;
  }
}

export function formatStep(step: Step): string {
  return `${step.a} ${step.op} ${step.b} = ${step.result}`;
}

/** Every legal step from a multiset of numbers, deduplicated by its text. */
export function legalMoves(numbers: readonly number[]): Move[] {
  const sorted = sortDesc(numbers);
  const moves: Move[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i]!;
      const b = sorted[j]!;
      for (const op of OPS) {
        const result = combine(a, op, b);
        if (result === null) continue;
        const step: Step = { a, op, b, result };
        const text = formatStep(step);
        if (seen.has(text)) continue;
        seen.add(text);
        const left = sorted.filter((_, k) => k !== i && k !== j);
        left.push(result);
        moves.push({ step, left: sortDesc(left), text });
      }
    }
  }
  return moves;
}

/** Applies a step to a multiset; null when an operand is missing or the arithmetic is wrong. */
export function applyStep(numbers: readonly number[], step: Step): number[] | null {
  if (combine(step.a, step.op, step.b) !== step.result) return null;
  const left = [...numbers];
  const ia = left.indexOf(step.a);
  if (ia < 0) return null;
  left.splice(ia, 1);
  const ib = left.indexOf(step.b);
  if (ib < 0) return null;
  left.splice(ib, 1);
  left.push(step.result);
  return sortDesc(left);
}

const STEP_LINE = /^\s*(?:Step\s*\d+\s*:\s*)?(\d+)\s*([-+*/×÷−])\s*(\d+)\s*=\s*(\d+)\s*$/;

/** Parses one step line (`34 - 12 = 22`); operands are normalised larger-first. */
export function parseStepLine(line: string): Step | null {
  const m = STEP_LINE.exec(line);
  if (!m) return null;
  const op = ({ '×': '*', '÷': '/', '−': '-' } as Record<string, Op>)[m[2]!] ?? (m[2] as Op);
  let a = Number(m[1]);
  let b = Number(m[3]);
  if (b > a && (op === '+' || op === '*')) [a, b] = [b, a];
  return { a, op, b, result: Number(m[4]) };
}

// ---------------------------------------------------------------------------------------------------------------
// Prompt

export function formatPrompt(problem: CountdownProblem): string {
  return (
    `Using the numbers [${problem.numbers.join(', ')}], make ${problem.target}. ` +
    'Combine two numbers per step with +, -, * or /; every result must be a positive whole number, ' +
    'and each number is used exactly once. Write one step per line as "a op b = c", ' +
    'then a last line "Answer: <expression>".'
  );
}

const PROMPT = /numbers \[([\d,\s]+)\],\s*make (\d+)/;

/** Reads a problem back out of a prompt written by {@link formatPrompt}; null for any other text. */
export function parsePrompt(text: string): CountdownProblem | null {
  const m = PROMPT.exec(text);
  if (!m) return null;
  const numbers = m[1]!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (numbers.length < 2 || numbers.some((n) => !Number.isInteger(n) || n <= 0)) return null;
  return { numbers, target: Number(m[2]) };
}

// ---------------------------------------------------------------------------------------------------------------
// Traces

export interface ParsedTrace {
  /** Steps that were legal, in order, up to the first illegal or unparsable line. */
  steps: Step[];
  /** Numbers left after the legal steps. */
  left: number[];
  /** True when a line that looked like a step broke the rules. */
  illegal: boolean;
  /** The text after `Answer:`, if the trace has one. */
  answer: string | null;
}

/** Follows a trace's step lines from the problem's numbers, stopping at the first illegal step. */
export function parseTrace(problem: CountdownProblem, text: string): ParsedTrace {
  let left = sortDesc(problem.numbers);
  const steps: Step[] = [];
  let illegal = false;
  let answer: string | null = null;
  for (const line of text.split('\n')) {
    const answerMatch = /^\s*Answer\s*:\s*(.*)$/i.exec(line);
    if (answerMatch) {
      answer = answerMatch[1]!.trim();
      break;
    }
    if (!line.trim() || illegal) continue;
    const step = parseStepLine(line);
    if (!step) continue;
    const next = applyStep(left, step);
    if (!next) {
      illegal = true;
      continue;
    }
    steps.push(step);
    left = next;
  }
  return { steps, left, illegal, answer };
}

/** The single expression equivalent to a sequence of steps, e.g. `(77 - (34 - 12)) - 5`. */
export function stepsToExpression(numbers: readonly number[], steps: readonly Step[]): string {
  const pool: Array<{ value: number; expr: string }> = numbers.map((n) => ({ value: n, expr: String(n) }));
  const take = (value: number) => {
    const i = pool.findIndex((p) => p.value === value);
    if (i < 0) throw new Error(`step uses ${value}, which is not available`);
    return pool.splice(i, 1)[0]!;
  };
  for (const step of steps) {
    const a = take(step.a);
    const b = take(step.b);
    const wrap = (e: { expr: string; value: number }) => (/[-+*/]/.test(e.expr) ? `(${e.expr})` : e.expr);
    pool.push({ value: step.result, expr: `${wrap(a)} ${step.op} ${wrap(b)}` });
  }
  return pool.map((p) => p.expr).join(', ');
}

/** The full text of a trace: step lines and the answer line. */
export function formatTrace(problem: CountdownProblem, steps: readonly Step[]): string {
  const lines = steps.map(formatStep);
  lines.push(`Answer: ${stepsToExpression(problem.numbers, steps)}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Solver and generator

function key(numbers: readonly number[]): string {
  return sortDesc(numbers).join(',');
}

const reachableMemo = new Map<string, Set<number>>();

/** Every value reachable by using all of the numbers (memoised by multiset). */
export function reachableValues(numbers: readonly number[]): Set<number> {
  if (numbers.length === 1) return new Set(numbers);
  const k = key(numbers);
  const hit = reachableMemo.get(k);
  if (hit) return hit;
  const out = new Set<number>();
  for (const move of legalMoves(numbers)) for (const v of reachableValues(move.left)) out.add(v);
  if (reachableMemo.size > 200_000) reachableMemo.clear();
  reachableMemo.set(k, out);
  return out;
}

/** True when the numbers can still reach the target using all of them. */
export function canReach(numbers: readonly number[], target: number): boolean {
  return reachableValues(numbers).has(target);
}

/** One solution (a list of steps), or null when there is none. */
export function solve(problem: CountdownProblem): Step[] | null {
  const walk = (numbers: number[]): Step[] | null => {
    if (numbers.length === 1) return numbers[0] === problem.target ? [] : null;
    for (const move of legalMoves(numbers)) {
      if (!canReach(move.left, problem.target)) continue;
      const rest = walk(move.left);
      if (rest) return [move.step, ...rest];
    }
    return null;
  };
  return walk(sortDesc(problem.numbers));
}

export interface GeneratedProblem extends CountdownProblem {
  split: 'train' | 'test';
  externalId: string;
  /** One known solution, as an expression. */
  solution: string;
}

export interface CountdownSetOptions {
  seed: number;
  train: number;
  test: number;
  /** Inclusive range of the four numbers (default 1–99). */
  numberRange?: [number, number];
  /** Inclusive range of targets (default 10–100). */
  targetRange?: [number, number];
  count?: number;
}

/**
 * A deterministic problem set: the same seed gives the same problems, in the same order, on any machine.
 * Train and test never share a (numbers, target) pair.
 *
 * @example generateCountdown({ seed: 7, train: 500, test: 200 })
 */
export function generateCountdown(options: CountdownSetOptions): GeneratedProblem[] {
  const [nLo, nHi] = options.numberRange ?? [1, 99];
  const [tLo, tHi] = options.targetRange ?? [10, 100];
  const count = options.count ?? 4;
  const rng = createRng(options.seed);
  const seen = new Set<string>();
  const out: GeneratedProblem[] = [];
  const want = options.train + options.test;
  while (out.length < want) {
    const numbers = Array.from({ length: count }, () => randInt(rng, nLo, nHi));
    const targets = [...reachableValues(numbers)].filter((v) => v >= tLo && v <= tHi).sort((x, y) => x - y);
    if (targets.length === 0) continue;
    const target = targets[Math.floor(rng() * targets.length)]!;
    const id = `${numbers.join('-')}_${target}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const problem = { numbers, target };
    const steps = solve(problem);
    if (!steps) throw new Error(`countdown generator: ${id} has a reachable target but no solution`);
    const split = out.length < options.train ? 'train' : 'test';
    out.push({ ...problem, split, externalId: id, solution: stepsToExpression(numbers, steps) });
  }
  return out;
}

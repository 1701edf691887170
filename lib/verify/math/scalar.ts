/**
 * Scalars compared with the Cortex compute engine (LaTeX → MathJSON, then numeric evaluation): exact values
 * compare closely (`2\sqrt{3}` = `\sqrt{12}`), a value written with decimals compares rounded to `precision`
 * decimal places (`0.333` = `\frac13` at precision 3, not at 4), and expressions with variables compare at
 * seeded random points (`\tan^2 y + 1` = `\sec^2 y`).
 */
import { ComputeEngine } from '@cortex-js/compute-engine';
import { createRng, hashSeed } from '../../rng.js';

type Boxed = NonNullable<ReturnType<ComputeEngine['parse']>>;

let engine: ComputeEngine | null = null;
function ce(): ComputeEngine {
  engine ??= new ComputeEngine();
  return engine;
}

/** Past this, an answer is compared as text only (a parse that long is a cost, not an answer). */
export const MAX_PARSED_LENGTH = 2000;

/** The parsed expression, or null when the engine does not read it as valid math. */
export function parseLatex(latex: string): Boxed | null {
  if (latex.length > MAX_PARSED_LENGTH) return null;
  try {
    const parsed = ce().parse(latex);
    return parsed.isValid ? parsed : null;
  } catch {
    return null;
  }
}

/** Whether the MathJSON holds a number written with decimals (those compare at the configured precision). */
function hasDecimal(json: unknown): boolean {
  if (typeof json === 'number') return !Number.isInteger(json);
  if (typeof json === 'string') return /^-?\d*\.\d+$/.test(json);
  if (Array.isArray(json)) return json.some(hasDecimal);
  if (json && typeof json === 'object' && 'num' in json) return String((json as { num: string }).num).includes('.');
  return false;
}

function numericValue(e: Boxed): number | null {
  try {
    const n = e.N();
    const re = n.re;
    const im = n.im;
    if (typeof re !== 'number' || Number.isNaN(re)) return null;
    if (typeof im === 'number' && Math.abs(im) > 1e-12 * Math.max(1, Math.abs(re))) return null;
    return re;
  } catch {
    return null;
  }
}

function roundTo(x: number, places: number): number {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e15) return x;
  return Number(x.toFixed(places));
}

function close(x: number, y: number, relative = 1e-9): boolean {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  return Math.abs(x - y) <= relative * Math.max(Math.abs(x), Math.abs(y)) || Math.abs(x - y) < 1e-12;
}

function sameNumber(a: number, b: number, decimals: boolean, precision: number): boolean {
  if (close(a, b)) return true;
  if (!decimals) return false;
  return roundTo(a, precision) === roundTo(b, precision) || close(a, b, 10 ** -(precision + 1));
}

function unknowns(e: Boxed): string[] {
  try {
    return [...(e.unknowns ?? [])].map(String);
  } catch {
    return [];
  }
}

function valueAt(e: Boxed, point: Record<string, number>): number | null {
  try {
    return numericValue(e.subs(point));
  } catch {
    return null;
  }
}

/** Values of both at seeded points (positive, away from 0 and 1, so roots and logarithms stay defined). */
export function probe(a: Boxed, b: Boxed, variables: string[], points = 6): Array<[number, number]> {
  const rng = createRng(hashSeed('math-equivalence', ...variables));
  const pairs: Array<[number, number]> = [];
  for (let trial = 0; trial < points; trial++) {
    const point = Object.fromEntries(variables.map((v) => [v, 0.3 + rng() * 2.4 + (rng() < 0.5 ? 0 : 1.1)]));
    const x = valueAt(a, point);
    const y = valueAt(b, point);
    if (x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)) continue;
    pairs.push([x, y]);
  }
  return pairs;
}

export function variablesOf(...es: Boxed[]): string[] {
  return [...new Set(es.flatMap(unknowns))].sort();
}

/** Whether two parsed scalars are the same value (or the same function of their variables). */
export function sameScalar(a: Boxed, b: Boxed, precision: number): boolean {
  try {
    if (a.isSame(b)) return true;
  } catch {
    // compare by value below
  }
  const variables = variablesOf(a, b);
  const decimals = hasDecimal(a.json) || hasDecimal(b.json);
  if (variables.length === 0) {
    const x = numericValue(a);
    const y = numericValue(b);
    return x !== null && y !== null && sameNumber(x, y, decimals, precision);
  }
  const pairs = probe(a, b, variables);
  return pairs.length >= 3 && pairs.every(([x, y]) => sameNumber(x, y, decimals, Math.min(precision, 6)) || close(x, y, 1e-6));
}

/** Whether `a` = k·`b` for one constant k (positive when `positiveOnly`): the test for equations and inequalities. */
export function proportional(a: Boxed, b: Boxed, positiveOnly: boolean): boolean {
  const variables = variablesOf(a, b);
  if (variables.length === 0) return false;
  const pairs = probe(a, b, variables, 8).filter(([x, y]) => Math.abs(y) > 1e-9 && Math.abs(x) > 1e-9);
  if (pairs.length < 3) return false;
  const k = pairs[0]![0] / pairs[0]![1];
  if (positiveOnly && k <= 0) return false;
  return pairs.every(([x, y]) => close(x / y, k, 1e-6));
}

/** The engine's evaluation of an expression as rows of LaTeX cells when it is a matrix (`A + B`, `AB`), else null. */
export function evaluateMatrix(latex: string): string[][] | null {
  const parsed = parseLatex(latex);
  if (!parsed) return null;
  try {
    const json = parsed.evaluate().json as unknown;
    const rows = Array.isArray(json) && json[0] === 'Matrix' ? json[1] : json;
    if (!Array.isArray(rows) || rows[0] !== 'List') return null;
    const out = rows.slice(1).map((row: unknown) => (Array.isArray(row) && row[0] === 'List' ? row.slice(1).map((cell: unknown) => ce().box(cell as never).latex) : null));
    return out.every((row): row is string[] => row !== null) ? out : null;
  } catch {
    return null;
  }
}

export type { Boxed };

/**
 * Hinted decoding, for STaR rationalization (Zelikman et al. 2022): the flywheel re-asks an unsolved problem with
 * its reference answer appended, `Hint: one solution is (53 + (98 - 63)) + 1. Write the steps that reach it.` A
 * real LLM conditions on such a hint by copying from its context, imperfectly; the step policy does the same by
 * adding {@link HINT_BONUS} to the logits of moves that build one of the hinted expression's sub-expressions.
 */
import type { Move, Op, Step } from '../lib/tasks/countdown.js';
import { combine } from '../lib/tasks/countdown.js';
import { parseExpression } from '../lib/verify/countdown.js';

/**
 * Nats added to the logit of every move consistent with the hint. On the uniform base model a 4-number problem
 * with one hinted move among ~18 legal ones follows the hint with p ≈ 0.9 at the first step and 0.95–0.98 later,
 * so a hinted sample at temperature 1 solves ~85% of problems and greedy decoding all of them: mostly, not always,
 * like an LLM copying from its context. A trained policy can overrule it where its logits differ by more: on the
 * train problems a round-1 or round-2 policy left unsolved in 16 samples, hinted samples solve ~75% (3 nats: ~42%;
 * 8 nats: ~95%).
 */
export const HINT_BONUS = 5;

/** One node of the hinted expression; leaves have no op. `value` is null when no legal step can build it. */
interface HintNode {
  value: number | null;
  op: Op | null;
  /** Indices of the children in {@link Hint.nodes}; -1 for leaves. */
  left: number;
  right: number;
}

export interface Hint {
  /** The hinted expression as it was read from the prompt. */
  expression: string;
  /** The expression's nodes, children before parents. */
  nodes: HintNode[];
}

const HINT_LINE = /^[ \t]*Hint[ \t]*:(.*)$/im;
const EXPRESSION_RUN = /[\d\s()+\-*/×÷−]+/g;

/**
 * The hint of a prompt: the last arithmetic expression on its first line that starts with `Hint:`. Null when there
 * is no such line or it holds no expression this parser reads (an unreadable hint is ignored, never an error).
 *
 * @example parseHint('…\n\nHint: one solution is (53 + (98 - 63)) + 1. Write the steps.')?.expression // '(53 + (98 - 63)) + 1'
 */
export function parseHint(prompt: string): Hint | null {
  const line = HINT_LINE.exec(prompt)?.[1];
  if (line === undefined) return null;
  // Runs of expression characters between words, each trimmed to start at a number or "(" and end at one or ")".
  const runs = (line.match(EXPRESSION_RUN) ?? []).map((run) => run.replace(/^[^\d(]+/, '').replace(/[^\d)]+$/, ''));
  for (const run of runs.reverse()) {
    if (!/\d/.test(run) || !/[-+*/×÷−]/.test(run)) continue; // a bare number (e.g. "= 89") is not a solution
    let expr: ReturnType<typeof parseExpression>;
    try {
      expr = parseExpression(run);
    } catch {
      continue;
    }
    const nodes: HintNode[] = [];
    flatten(expr, nodes);
    return { expression: run, nodes };
  }
  return null;
}

function flatten(e: ReturnType<typeof parseExpression>, nodes: HintNode[]): number {
  if (e.kind === 'num') {
    nodes.push({ value: e.value > 0 ? e.value : null, op: null, left: -1, right: -1 });
  } else {
    const left = flatten(e.left, nodes);
    const right = flatten(e.right, nodes);
    const [l, r] = [nodes[left]!.value, nodes[right]!.value];
    const op = e.op as Op;
    nodes.push({ value: l === null || r === null ? null : combine(l, op, r), op, left, right });
  }
  return nodes.length - 1;
}

/** A step as the task writes it (larger operand first), without its result. */
function stepKey(a: number, op: Op, b: number): string {
  return `${a} ${op} ${b}`;
}

/** The step that builds a node from its children; null for leaves and nodes no legal step builds. */
function nodeKey(hint: Hint, node: HintNode): string | null {
  if (node.op === null || node.value === null) return null;
  const l = hint.nodes[node.left]!.value!;
  const r = hint.nodes[node.right]!.value!;
  // + and * commute (steps are written larger first); - and / must already be larger first to be legal at all.
  return node.op === '+' || node.op === '*' ? stepKey(Math.max(l, r), node.op, Math.min(l, r)) : stepKey(l, node.op, r);
}

/**
 * Which hinted sub-expressions a trace has built, as the policy reads them off its context. A reading is a set of
 * node indices whose values are among the numbers left, each standing for one of them; a move is consistent when
 * some reading holds both children of a node the move builds. Several readings arise only from duplicates (two
 * leaves of equal value and one number, or a step off the hint that used one of two equal numbers); a copying
 * model gets the benefit of the doubt, so the bonus goes to moves consistent with any reading.
 */
export interface HintTracker {
  /** HINT_BONUS for each consistent move, 0 for the others; null when no move is consistent. */
  bonus(moves: readonly Move[]): Float64Array | null;
  /** Records a legal step taken from `numbers` (the numbers before it). */
  advance(numbers: readonly number[], step: Step): void;
}

/** Readings are few (four numbers give at most a handful); the cap only guards odd hints with many duplicates. */
const MAX_READINGS = 64;

/**
 * Tracks a hint from a problem's starting numbers: each number stands for a hinted leaf of its value.
 *
 * @example const tracker = trackHint(parseHint(prompt)!, problem.numbers)
 */
export function trackHint(hint: Hint, numbers: readonly number[]): HintTracker {
  const keys = hint.nodes.map((node) => nodeKey(hint, node));
  let readings = startingReadings(hint, numbers);

  /** Readings after building node `i` from its children, where both are held. */
  const built = (reading: number[], key: string): number[][] =>
    hint.nodes.flatMap((node, i) =>
      keys[i] === key && reading.includes(node.left) && reading.includes(node.right)
        ? [[...reading.filter((j) => j !== node.left && j !== node.right), i]]
        : [],
    );

  /** Readings after one number of `value` leaves `pool`: it was either a number no node stands for, or a node. */
  const consumed = (reading: number[], value: number, pool: readonly number[]): number[][] => {
    const held = reading.filter((i) => hint.nodes[i]!.value === value);
    const out = held.map((i) => reading.filter((j) => j !== i));
    if (count(pool, value) > held.length) out.push(reading);
    return out;
  };

  return {
    bonus(moves) {
      const consistent = new Set<string>();
      for (const reading of readings) {
        hint.nodes.forEach((node, i) => {
          if (keys[i] !== null && reading.includes(node.left) && reading.includes(node.right)) consistent.add(keys[i]!);
        });
      }
      if (consistent.size === 0) return null;
      const bonus = new Float64Array(moves.length);
      moves.forEach((move, m) => {
        if (consistent.has(stepKey(move.step.a, move.step.op, move.step.b))) bonus[m] = HINT_BONUS;
      });
      return bonus;
    },
    advance(before, step) {
      const key = stepKey(step.a, step.op, step.b);
      const followed = readings.flatMap((reading) => built(reading, key));
      if (followed.length > 0) {
        readings = distinct(followed);
        return;
      }
      // Off the hint: the step used up whatever its operands stood for, and its result stands for nothing.
      const rest = [...before];
      rest.splice(rest.indexOf(step.a), 1);
      readings = distinct(
        readings.flatMap((reading) => consumed(reading, step.a, before)).flatMap((reading) => consumed(reading, step.b, rest)),
      );
    },
  };
}

/** Each hinted leaf stands for a starting number of its value; with more such leaves than numbers, any subset. */
function startingReadings(hint: Hint, numbers: readonly number[]): number[][] {
  const leaves = new Map<number, number[]>();
  hint.nodes.forEach((node, i) => {
    if (node.op === null && node.value !== null) leaves.set(node.value, [...(leaves.get(node.value) ?? []), i]);
  });
  let readings: number[][] = [[]];
  for (const [value, indices] of leaves) {
    const picks = subsets(indices, Math.min(indices.length, count(numbers, value)));
    readings = readings.flatMap((reading) => picks.map((pick) => [...reading, ...pick]));
  }
  return distinct(readings);
}

function subsets(items: readonly number[], k: number): number[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [first!, ...s]), ...subsets(rest, k)];
}

function count(values: readonly number[], value: number): number {
  return values.reduce((n, v) => n + (v === value ? 1 : 0), 0);
}

function distinct(readings: number[][]): number[][] {
  const byKey = new Map<string, number[]>();
  for (const reading of readings) {
    const sorted = [...reading].sort((x, y) => x - y);
    byKey.set(sorted.join(','), sorted);
  }
  return [...byKey.values()].slice(0, MAX_READINGS);
}

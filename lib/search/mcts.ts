/**
 * Monte Carlo tree search over steps (PUCT, as in AlphaZero), with the model's step log-probabilities as priors and
 * the value of a leaf from one rollout of the model, judged by the verifier (during search), a reward model, or
 * self-consistency.
 *
 * Each simulation that reaches an unexpanded leaf spends one model call: a rollout from the leaf, asked with
 * logprobs. The rollout is the leaf's value, and its lines grow the tree along its path: every position's sampled
 * line and whole-line alternatives become that node's children, exactly what a step request from there would
 * return. Where a server lists no whole-line alternatives (an LLM), a node knows only its sampled children and
 * stays open: progressive widening lets it draw another sample once it has been visited often enough.
 *
 * Terminal nodes cost nothing more to judge; a subtree whose terminals are all judged is exhausted and never
 * selected again. The search stops at the first verified-correct trace (when verifying), when the budget is spent,
 * or when the tree is exhausted. Deterministic given `seed` on a server that honours request seeds.
 */
import { priorsOf, lineOptions } from './children.js';
import { TraceJudge } from './judge.js';
import { CallMeter } from './meter.js';
import type { RewardModelClient } from './reward-model.js';
import type { StepStat } from './step-stats.js';
import type { CommonSearchOptions, SearchOutcome, SearchProblem, StepLine, StepModel } from './types.js';

export interface MctsOptions extends CommonSearchOptions {
  model: StepModel;
  /** Exploration constant of PUCT; default 1. */
  cPuct?: number;
  /**
   * Value assumed for a child never visited (first-play urgency); default 1, optimistic for values in [0, 1]
   * (verifier scores, agreement): every child of a node gets one rollout before any is revisited, in prior order.
   * That matters when values are flat (every wrong answer scores the same): the alternative, the parent's mean,
   * sends visits in proportion to the priors and keeps digging under a confident wrong first step. Scale it to
   * the reward model's range when values come from one.
   */
  fpu?: number;
  /** Temperature of the rollout from a new leaf; default 0 (the model's best continuation). */
  rolloutTemperature?: number;
  /** Temperature of the extra sample that widens an open node; default 1. */
  widenTemperature?: number;
  /** Progressive widening of open nodes: at most ceil(c · visits^alpha) children; default { c: 1, alpha: 0.5 }. */
  widening?: { c: number; alpha: number };
  /** Most children an open node may grow; default 16. */
  maxChildren?: number;
  /**
   * An open node stops widening once its known children hold this much probability (their lines'
   * log-probabilities, exact on any server that reports token logprobs); default 0.99. Above 1: never.
   */
  closeAtMass?: number;
  /** Stop at the first trace the verifier accepts (with verifyDuringSearch); default true. */
  stopWhenCorrect?: boolean;
  /** Outcome reward model for values when not verifying during search. */
  rewardModel?: RewardModelClient;
  /**
   * What a new leaf is worth (AlphaGo's leaf evaluation): `rollout` (default) the judged end of the rollout from
   * it; `prm` the process reward model's score of the leaf (the first step the rollout added); `mix`
   * `valueMix · prm + (1 − valueMix) · rollout`. The rollout still runs in every mode: it grows the tree's children
   * and priors. Where the verifier does not steer the search, the PRM also picks the answer: the finished trace
   * it scores highest (ties: the one more traces agree with, then the earliest), unless an outcome reward model
   * (`rewardModel`) is given to judge them. PRM requests are counted as
   * `scorerCalls`.
   */
  value?: 'rollout' | 'prm' | 'mix';
  /** The process reward model for `value: prm | mix`. */
  prm?: RewardModelClient;
  /** The PRM's weight λ in `mix`; default 0.5. */
  valueMix?: number;
  answerOf?: (text: string) => string | null;
}

interface Node {
  /** Trace text up to and including this node's line; ends with "\n" unless the line is final. */
  partial: string;
  line: string | null;
  prior: number;
  final: boolean;
  /** Null until expanded. */
  children: Node[] | null;
  /** Lines known at this position: log-probability and times sampled (the priors are renormalised over them). */
  known: Map<string, { logprob: number | null; count: number; final: boolean }>;
  /** More children may exist than known (only sampled lines seen here). */
  open: boolean;
  visits: number;
  valueSum: number;
  /** The judged score of a terminal node. */
  value: number | null;
  /** The PRM's score of the node's partial trace, once asked. */
  prmScore: number | null;
  /** The verifier's verdict on a terminal node's trace (null until judged, or when not verifying). */
  correct: boolean | null;
  /** Simulations through the node whose trace the verifier accepted. */
  verified: number;
  exhausted: boolean;
  depth: number;
}

function newNode(partial: string, line: string | null, prior: number, final: boolean, depth: number): Node {
  return { partial, line, prior, final, children: null, known: new Map(), open: true, visits: 0, valueSum: 0, value: null, prmScore: null, correct: null, verified: 0, exhausted: false, depth };
}

/** Adds what one position of a generation showed (its line and alternatives) to the node's children. */
function learnChildren(node: Node, line: StepLine, closeAtMass: number): void {
  for (const o of lineOptions(line)) {
    const k = node.known.get(o.text);
    if (!k) node.known.set(o.text, { logprob: o.logprob, count: o.sampled ? 1 : 0, final: o.final });
    else {
      if (o.sampled) k.count++;
      k.final ||= o.sampled && o.final;
      if (k.logprob === null) k.logprob = o.logprob;
    }
  }
  if (line.alternatives.length > 0) node.open = false;
  else if (node.open) {
    let mass = 0;
    for (const k of node.known.values()) mass += k.logprob === null ? 0 : Math.exp(k.logprob);
    if (mass >= closeAtMass) node.open = false; // the unseen lines are too unlikely to sample
  }
  const priors = priorsOf([...node.known].map(([text, k]) => ({ text, logprob: k.logprob, sampled: k.count > 0, count: k.count, final: k.final })));
  node.children ??= [];
  for (const p of priors) {
    let child = node.children.find((c) => c.line === p.text);
    if (!child) {
      child = newNode(`${node.partial}${p.text}\n`, p.text, 0, false, node.depth + 1);
      node.children.push(child);
    }
    if (p.final && !child.final && child.children === null) {
      // A line first listed as an alternative turned out, when written, to end the trace.
      child.final = true;
      child.partial = node.partial + p.text;
    }
    child.prior = p.prior;
  }
}

/**
 * @example
 * const outcome = await mctsSearch({ prompt, reference }, {
 *   model: createCompletionsStepModel(client, { model: 'countdown-mlp' }),
 *   verifier: countdownVerifier, verifyDuringSearch: true, budget: 64, seed: 1,
 * });
 */
export async function mctsSearch(problem: SearchProblem, options: MctsOptions): Promise<SearchOutcome> {
  const meter = new CallMeter(options.budget, options.seed, options.signal, options.budgetUnit);
  const judge = new TraceJudge(problem, options, meter);
  const cPuct = options.cPuct ?? 1;
  const fpu = options.fpu ?? 1;
  const widening = options.widening ?? { c: 1, alpha: 0.5 };
  const maxChildren = options.maxChildren ?? 16;
  const closeAtMass = options.closeAtMass ?? 0.99;
  const stopWhenCorrect = (options.stopWhenCorrect ?? true) && judge.source === 'verifier';
  const valueSource = options.value ?? 'rollout';
  const valueMix = options.valueMix ?? 0.5;
  if (valueSource !== 'rollout' && !options.prm) throw new Error(`MCTS: value "${valueSource}" needs \`prm\` (createRewardModelClient({ url }))`);
  const root = newNode('', null, 1, false, 0);
  let simulations = 0;
  let nodes = 1;
  let widened = 0;
  let maxDepth = 0;

  const canWiden = (node: Node) =>
    node.open && node.children !== null && node.children.length < Math.min(maxChildren, Math.ceil(widening.c * Math.max(1, node.visits) ** widening.alpha));

  function select(): Node[] | null {
    const path = [root];
    let node = root;
    for (;;) {
      if (node.final || node.children === null || canWiden(node)) return path;
      const live = node.children.filter((c) => !c.exhausted);
      if (live.length === 0) {
        if (node.open && node.children.length < maxChildren) return path;
        node.exhausted = true;
        return null;
      }
      const explore = cPuct * Math.sqrt(node.visits);
      let best = live[0]!;
      let bestScore = -Infinity;
      for (const c of live) {
        const q = c.visits ? c.valueSum / c.visits : fpu;
        const score = q + (explore * c.prior) / (1 + c.visits);
        if (score > bestScore || (score === bestScore && c.prior > best.prior)) [best, bestScore] = [c, score];
      }
      node = best;
      path.push(node);
    }
  }

  async function judgeTerminal(node: Node): Promise<number> {
    const [trace] = await judge.judge([node.partial]);
    node.value = trace!.score;
    node.correct = trace!.verdict ? trace!.verdict.correct : null;
    node.exhausted = true;
    return trace!.score;
  }

  /** The leaf's value from the rollout's value `z` and, for `prm` / `mix`, the PRM's score of `leaf`. */
  async function leafValue(leaf: Node, z: number): Promise<number> {
    if (valueSource === 'rollout') return z;
    if (leaf.prmScore === null) {
      const scored = await options.prm!.score(problem.prompt, [leaf.partial]);
      meter.scorerCalls += scored.requests;
      leaf.prmScore = scored.scores[0] ?? 0;
    }
    return valueSource === 'prm' ? leaf.prmScore : valueMix * leaf.prmScore + (1 - valueMix) * z;
  }

  /** One call from the path's last node; grows the tree along the rollout and returns its value. */
  async function expand(path: Node[]): Promise<number> {
    const start = path.length;
    const z = await rolloutValue(path);
    // The leaf a value network would evaluate: the first node the rollout added (none: the rollout added nothing).
    const added = path[start];
    return added ? leafValue(added, z) : z;
  }

  /** The rollout from the path's last node: grows the tree along it and returns its judged value. */
  async function rolloutValue(path: Node[]): Promise<number> {
    const leaf = path[path.length - 1]!;
    const widen = leaf.children !== null;
    if (widen) widened++;
    const temperature = widen ? (options.widenTemperature ?? 1) : (options.rolloutTemperature ?? 0);
    const generation = await meter.rollout(options.model, problem.prompt, leaf.partial, 1, temperature);
    const sequence = generation.sequences[0]!;
    if (sequence.lines.length === 0) {
      if (!sequence.finished) return 0; // cut by max_tokens (a token budget's last share) before a whole line
      // Nothing left to write: the trace so far is finished as it is.
      leaf.final = true;
      leaf.children = [];
      return judgeTerminal(leaf);
    }
    let node = leaf;
    for (const line of sequence.lines) {
      const before = node.children?.length ?? 0;
      learnChildren(node, line, closeAtMass);
      nodes += node.children!.length - before;
      node = node.children!.find((c) => c.line === line.text)!;
      path.push(node);
      maxDepth = Math.max(maxDepth, node.depth);
      if (node.final) break;
    }
    if (!node.final) return 0; // cut by max_tokens: no answer
    return node.value ?? judgeTerminal(node);
  }

  while (meter.remaining > 0 && !root.exhausted) {
    const path = select();
    if (!path) continue;
    simulations++;
    const leaf = path[path.length - 1]!;
    const value = leaf.final ? (leaf.value ?? (await judgeTerminal(leaf))) : await expand(path);
    const end = path[path.length - 1]!;
    const verified = end.final && end.correct === true ? 1 : 0;
    for (const node of path) {
      node.visits++;
      node.valueSum += value;
      node.verified += verified;
    }
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i]!;
      if (!node.final && node.children !== null && !node.open && node.children.every((c) => c.exhausted)) node.exhausted = true;
    }
    if (stopWhenCorrect && judge.firstCorrect()) break;
  }

  const pickByPrm = (judge.source === 'self-consistency' || judge.source === 'logprob') && (valueSource === 'prm' || (valueSource === 'mix' && valueMix > 0));
  const chosen = judge.firstCorrect() ?? (pickByPrm ? await judge.bestByPrm(options.prm!) : judge.best());
  const outcome = await judge.outcome('mcts', chosen, { simulations, nodes, maxDepth, widened, exhausted: root.exhausted, leafValue: valueSource, pickedBy: pickByPrm ? 'prm' : judge.source });
  return { ...outcome, steps: treeStepStats(root, judge.source === 'verifier') };
}

/**
 * Every visited step of the tree, depth first in child order: visits, rollouts through it (every simulation is one
 * rollout or one look at a judged terminal), verified ones (when the verifier valued the tree), and the mean value.
 */
function treeStepStats(root: Node, verifying: boolean): StepStat[] {
  const out: StepStat[] = [];
  const walk = (node: Node) => {
    for (const child of node.children ?? []) {
      if (child.visits === 0 || child.line === null) continue;
      out.push({
        prefix: node.partial,
        step: child.line,
        depth: child.depth,
        visits: child.visits,
        rollouts: child.visits,
        verifiedRollouts: verifying ? child.verified : null,
        value: child.valueSum / child.visits,
        verdict: child.final ? child.correct : null,
      });
      walk(child);
    }
  };
  walk(root);
  return out;
}

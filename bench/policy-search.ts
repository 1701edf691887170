/**
 * How good the step policy's log-probs are as search priors: train it with 5 rounds of expert iteration (as in
 * policy-flywheel.ts, from base each round), then run a best-first search on held-out problems with a budget of
 * model calls. One call = one state's distribution over next steps, cut to the top 20 as over HTTP
 * (`/v1/completions` with `logprobs: 20`); checking whether a final step hits the target costs no call.
 *
 * Usage: npx tsx bench/policy-search.ts [--seed 7]
 */
import { parseArgs } from 'node:util';
import { generateCountdown, sortDesc } from '../lib/tasks/countdown.js';
import type { CountdownProblem } from '../lib/tasks/countdown.js';
import { examplesFromKept, greedyPassAt1, sampleCorrectTraces } from '../localmodel/evaluate.js';
import type { Policy } from '../localmodel/policy.js';
import { createBasePolicy, stepDistribution } from '../localmodel/policy.js';
import { DEFAULT_TRAIN, trainPolicy } from '../localmodel/train.js';

const { values: args } = parseArgs({ options: { seed: { type: 'string', default: '7' } } });
const SEED = Number(args.seed);
const TOP = 20;

const set = generateCountdown({ seed: SEED, train: 500, test: 200 });
const train = set.filter((p) => p.split === 'train');
const test = set.filter((p) => p.split === 'test');

/** Calls used to find a solution, or null when the budget ran out. */
function bestFirst(policy: Policy, problem: CountdownProblem, budget: number): number | null {
  const frontier: Array<{ numbers: number[]; logprob: number }> = [{ numbers: sortDesc(problem.numbers), logprob: 0 }];
  let calls = 0;
  while (frontier.length > 0 && calls < budget) {
    frontier.sort((a, b) => b.logprob - a.logprob);
    const node = frontier.shift()!;
    const dist = stepDistribution(policy, node.numbers, problem.target);
    calls++;
    const order = dist.moves.map((_, i) => i).sort((a, b) => dist.logprobs[b] - dist.logprobs[a]).slice(0, TOP);
    for (const i of order) {
      const move = dist.moves[i];
      if (move.left.length === 1) {
        if (move.left[0] === problem.target) return calls;
        continue;
      }
      frontier.push({ numbers: move.left, logprob: node.logprob + dist.logprobs[i] });
    }
  }
  return null;
}

const models: Array<{ name: string; policy: Policy }> = [{ name: 'base (round 0)', policy: createBasePolicy() }];
let policy = createBasePolicy();
for (let round = 1; round <= 5; round++) {
  const sampled = sampleCorrectTraces(policy, train, { samples: 16, temperature: 1, seed: SEED * 1000 + round, keepPerProblem: 4 });
  policy = trainPolicy(examplesFromKept(sampled.kept), { ...DEFAULT_TRAIN, seed: SEED + round }).policy;
}
models.push({ name: 'round 5', policy });

const budgets = [3, 8, 16, 32, 64]; // 3 = the fewest a 4-number problem needs
console.log(`best-first search over the policy's top-${TOP} step log-probs, ${test.length} held-out problems (seed ${SEED})`);
console.log(`| model | greedy pass@1 | ${budgets.map((b) => `solved, ≤${b} calls`).join(' | ')} | mean calls when solved (≤64) |`);
console.log(`|---|---:|${budgets.map(() => '---:').join('|')}|---:|`);
for (const { name, policy: p } of models) {
  const used = test.map((problem) => bestFirst(p, problem, 64));
  const cells = budgets.map((b) => `${((100 * used.filter((c) => c !== null && c <= b).length) / test.length).toFixed(1)}%`);
  const solved = used.filter((c): c is number => c !== null);
  const mean = solved.reduce((a, b) => a + b, 0) / Math.max(1, solved.length);
  console.log(`| ${name} | ${(100 * greedyPassAt1(p, test)).toFixed(1)}% | ${cells.join(' | ')} | ${mean.toFixed(1)} |`);
}

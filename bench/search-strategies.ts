/**
 * Search strategies at equal budgets of model calls: train the step policy in process (5 rounds of expert
 * iteration from base, as in bench/policy-flywheel.ts) or load one, serve it with the embedded OpenAI-compatible
 * server, and run best-of-N (verifier scorer), majority vote, beam search and MCTS through lib/search over HTTP on
 * the held-out Countdown problems, at budgets of 4 to 256 calls per problem.
 *
 * A model call is one generated sequence (a request with n = 4 is 4 calls), counted by lib/search's meter. Search
 * verifies during search: the Countdown verifier reads only the numbers and target in the prompt, so that is
 * legitimate on held-out problems. Accuracy is the verifier's verdict on the chosen trace.
 *
 * Usage: npx tsx bench/search-strategies.ts [--seed 7] [--rounds 5] [--policy file.json] [--save-policy file.json]
 *          [--budgets 4,8,16,32,64,128,256] [--strategies best-of-n,majority,beam,mcts] [--large-subset 200]
 */
import { parseArgs } from 'node:util';
import { beamSearch } from '../lib/search/beam.js';
import { bestOfNSearch } from '../lib/search/best-of-n.js';
import { createCompletionsStepModel } from '../lib/search/completions-model.js';
import { majoritySearch } from '../lib/search/majority.js';
import { mctsSearch } from '../lib/search/mcts.js';
import { samplerFromStepModel } from '../lib/search/samplers.js';
import type { SearchOutcome, SearchProblem, StepModel } from '../lib/search/types.js';
import { formatPrompt, generateCountdown } from '../lib/tasks/countdown.js';
import { countdownVerifier } from '../lib/verify/countdown.js';
import { greedyPassAt1 } from '../localmodel/evaluate.js';
import { loadOrTrain, mapLimit, servePolicy } from './search-setup.js';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '7' },
    rounds: { type: 'string', default: '5' },
    policy: { type: 'string' },
    'save-policy': { type: 'string' },
    budgets: { type: 'string', default: '4,8,16,32,64,128,256' },
    strategies: { type: 'string', default: 'best-of-n,majority,beam,mcts' },
    'large-subset': { type: 'string', default: '200' },
  },
});
const SEED = Number(args.seed);
const BUDGETS = args.budgets.split(',').map(Number);
const STRATEGIES = args.strategies.split(',') as Strategy[];
const LARGE_SUBSET = Number(args['large-subset']);

type Strategy = 'best-of-n' | 'majority' | 'beam' | 'mcts';

const set = generateCountdown({ seed: SEED, train: 500, test: 200 });
const train = set.filter((p) => p.split === 'train');
const test = set.filter((p) => p.split === 'test');

const started = performance.now();
const policy = loadOrTrain({ file: args.policy, save: args['save-policy'], train, rounds: Number(args.rounds), seed: SEED });
const trainS = (performance.now() - started) / 1000;
const served = await servePolicy(policy, `r${args.rounds}-seed${SEED}`);
const model = createCompletionsStepModel(served.client, { model: served.model });
const sampler = samplerFromStepModel(model);
const common = { verifier: countdownVerifier, verifyDuringSearch: true };

/** Beam width grows with the budget; each depth values the 4 × width most likely children by one rollout each. */
function beamWidth(budget: number): number {
  return budget >= 16 ? 4 : 2;
}

function run(strategy: Strategy, problem: SearchProblem, budget: number, seed: number, m: StepModel): Promise<SearchOutcome> {
  switch (strategy) {
    case 'best-of-n':
      return bestOfNSearch(problem, { ...common, sampler, scorer: 'verifier', budget, batch: 4, seed });
    case 'majority':
      return majoritySearch(problem, { verifier: countdownVerifier, sampler, budget, batch: 4, seed });
    case 'beam':
      return beamSearch(problem, { ...common, model: m, budget, width: beamWidth(budget), seed });
    case 'mcts':
      return mctsSearch(problem, { ...common, model: m, budget, seed });
  }
}

interface Cell {
  solved: number;
  problems: number;
  meanCalls: number;
  seconds: number;
}

const cells = new Map<string, Cell>();
for (const budget of BUDGETS) {
  const problems = budget >= 128 ? test.slice(0, LARGE_SUBSET) : test;
  for (const strategy of STRATEGIES) {
    const t0 = performance.now();
    const outcomes = await mapLimit(problems, 4, (p, i) =>
      run(strategy, { prompt: formatPrompt(p), reference: { numbers: p.numbers, target: p.target } }, budget, SEED * 100_003 + i, model),
    );
    for (const o of outcomes) if (o.calls > budget) throw new Error(`${strategy} spent ${o.calls} calls with a budget of ${budget}`);
    cells.set(`${strategy}@${budget}`, {
      solved: outcomes.filter((o) => o.correct).length,
      problems: problems.length,
      meanCalls: outcomes.reduce((s, o) => s + o.calls, 0) / outcomes.length,
      seconds: (performance.now() - t0) / 1000,
    });
  }
}
await served.close();

const names: Record<Strategy, string> = { 'best-of-n': 'best-of-N (verifier)', majority: 'majority vote', beam: 'beam (verified rollouts)', mcts: 'MCTS' };
console.log(`\n\`npx tsx bench/search-strategies.ts ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'));
console.log(
  `\npolicy: ${args.policy ? `loaded from ${args.policy}` : `${args.rounds} rounds of expert iteration from base (seed ${SEED}, ${train.length} train problems, ${trainS.toFixed(1)} s)`}; ` +
    `held-out greedy pass@1 ${(100 * greedyPassAt1(policy, test)).toFixed(1)}%; served over HTTP by the embedded server; ${test.length} held-out problems` +
    (LARGE_SUBSET < test.length ? ` (the first ${LARGE_SUBSET} for budgets ≥ 128)` : ''),
);
console.log('\nEach cell: held-out accuracy (mean model calls actually spent per problem). One call = one generated sequence.\n');
console.log(`| budget (calls) | ${STRATEGIES.map((s) => names[s]).join(' | ')} |`);
console.log(`|---:|${STRATEGIES.map(() => '---:').join('|')}|`);
for (const budget of BUDGETS) {
  const row = STRATEGIES.map((s) => {
    const c = cells.get(`${s}@${budget}`)!;
    return `${((100 * c.solved) / c.problems).toFixed(1)}% (${c.meanCalls.toFixed(1)})`;
  });
  console.log(`| ${budget} | ${row.join(' | ')} |`);
}
const total = [...cells.values()].reduce((s, c) => s + c.seconds, 0);
console.log(`\nsearch wall time ${total.toFixed(0)} s; training ${trainS.toFixed(0)} s`);

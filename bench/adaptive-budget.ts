/**
 * Difficulty-adaptive budgets (lib/search/budget.ts) against a uniform split, at equal total compute, on
 * Countdown: a mid-training policy (1 round of expert iteration from base, so difficulty varies), served by the
 * embedded server. A first sampling pass (4 samples per held-out problem at T=1, verified) is the history the
 * adaptive split reads, as a previous round's traces would be; it is not counted in either arm.
 *
 * Arms, each with the same total budget of calls (`avg` per problem × problems):
 * - uniform best-of-N: every problem gets `avg` calls of best-of-N (verifier scorer).
 * - uniform MCTS: every problem gets `avg` calls of MCTS.
 * - adaptive: allocateBudget's calls, with its default strategy per bin (best-of-N when solved or easy, MCTS when
 *   medium or hard).
 * - adaptive, MCTS only: allocateBudget's calls, MCTS everywhere (the split alone).
 * Strategies verify during search (legitimate on Countdown: the verifier reads only the prompt) and stop early.
 *
 * Usage: npx tsx bench/adaptive-budget.ts [--seed 7] [--rounds 1] [--policy file.json] [--avg 2,4,8] [--history 4]
 */
import { parseArgs } from 'node:util';
import { bestOfNSearch } from '../lib/search/best-of-n.js';
import { allocateBudget, type Allocation, type ProblemHistory } from '../lib/search/budget.js';
import { createCompletionsStepModel } from '../lib/search/completions-model.js';
import { runStrategy } from '../lib/search/run.js';
import { samplerFromStepModel } from '../lib/search/samplers.js';
import type { SearchOutcome, SearchProblem, StrategyName } from '../lib/search/types.js';
import { formatPrompt, generateCountdown } from '../lib/tasks/countdown.js';
import { countdownVerifier } from '../lib/verify/countdown.js';
import { greedyPassAt1 } from '../localmodel/evaluate.js';
import { loadOrTrain, mapLimit, servePolicy } from './search-setup.js';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '7' },
    rounds: { type: 'string', default: '1' },
    policy: { type: 'string' },
    avg: { type: 'string', default: '2,4,8' },
    history: { type: 'string', default: '4' },
  },
});
const SEED = Number(args.seed);
const HISTORY_SAMPLES = Number(args.history);

const set = generateCountdown({ seed: SEED, train: 500, test: 200 });
const train = set.filter((p) => p.split === 'train');
const test = set.filter((p) => p.split === 'test');
const problems: SearchProblem[] = test.map((p) => ({ prompt: formatPrompt(p), reference: { numbers: p.numbers, target: p.target } }));

const policy = loadOrTrain({ file: args.policy, train, rounds: Number(args.rounds), seed: SEED });
const served = await servePolicy(policy, `r${args.rounds}-seed${SEED}`);
const model = createCompletionsStepModel(served.client, { model: served.model });
const sampler = samplerFromStepModel(model);
const verify = { verifier: countdownVerifier, verifyDuringSearch: true };

function run(strategy: StrategyName, problem: SearchProblem, budget: number, seed: number): Promise<SearchOutcome> {
  return runStrategy(strategy, problem, budget, { ...verify, model, sampler, seed, bestOfN: { batch: 1 } });
}

// The history: one earlier pass of plain verified sampling, all samples drawn (no early stop).
const first = await mapLimit(problems, 4, (p, i) =>
  bestOfNSearch(p, { ...verify, sampler, scorer: 'verifier', budget: HISTORY_SAMPLES, stopWhenCorrect: false, seed: 1_000_000 + i }),
);
const history: ProblemHistory[] = first.map((o, i) => ({
  problemId: i,
  rounds: [{ n: o.traces.length, correct: o.traces.filter((t) => t.verdict?.correct).length }],
}));

interface Arm {
  name: string;
  solved: number;
  spent: number;
  allocated: number;
}

async function runArm(name: string, plan: Array<{ strategy: StrategyName; calls: number }>, seedBase: number): Promise<Arm> {
  const outcomes = await mapLimit(problems, 4, async (p, i) =>
    plan[i]!.calls > 0 ? run(plan[i]!.strategy, p, plan[i]!.calls, seedBase + i) : null,
  );
  return {
    name,
    solved: outcomes.filter((o) => o?.correct).length,
    spent: outcomes.reduce((s, o) => s + (o?.calls ?? 0), 0),
    allocated: plan.reduce((s, p) => s + p.calls, 0),
  };
}

const bins = (alloc: Allocation[]) => {
  const count = new Map<string, { problems: number; calls: number }>();
  for (const a of alloc) {
    const c = count.get(a.bin) ?? { problems: 0, calls: 0 };
    c.problems++;
    c.calls += a.calls;
    count.set(a.bin, c);
  }
  return [...count].map(([bin, c]) => `${bin} ${c.problems} (${(c.calls / c.problems).toFixed(1)} calls each)`).join(', ');
};

const rows: string[] = [];
const binLines: string[] = [];
for (const avg of args.avg.split(',').map(Number)) {
  const total = avg * problems.length;
  const alloc = allocateBudget(history, { totalCalls: total });
  const seedBase = SEED * 7919 + avg * 100_003;
  const arms = [
    await runArm('uniform best-of-N', problems.map(() => ({ strategy: 'best-of-n' as const, calls: avg })), seedBase),
    await runArm('uniform MCTS', problems.map(() => ({ strategy: 'mcts' as const, calls: avg })), seedBase),
    await runArm('adaptive (strategy per bin)', alloc, seedBase),
    await runArm('adaptive, MCTS only', alloc.map((a) => ({ strategy: 'mcts' as const, calls: a.calls })), seedBase),
  ];
  for (const arm of arms) {
    rows.push(
      `| ${total} | ${arm.name} | ${arm.solved} (${((100 * arm.solved) / problems.length).toFixed(1)}%) | ${((1000 * arm.solved) / total).toFixed(1)} | ${arm.spent} | ${((1000 * arm.solved) / Math.max(1, arm.spent)).toFixed(1)} |`,
    );
  }
  binLines.push(`- ${total} calls: ${bins(alloc)}`);
}
await served.close();

const historySolved = history.filter((h) => h.rounds[0]!.correct > 0).length;
console.log(`\n\`npx tsx bench/adaptive-budget.ts ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'));
console.log(
  `\npolicy: ${args.policy ? `loaded from ${args.policy}` : `${args.rounds} round(s) of expert iteration from base (seed ${SEED})`}, held-out greedy pass@1 ` +
    `${(100 * greedyPassAt1(policy, test)).toFixed(1)}%; history: ${HISTORY_SAMPLES} verified samples per problem at T=1 ` +
    `(${historySolved}/${problems.length} problems solved at least once), not counted below; ${problems.length} held-out problems.\n`,
);
console.log('| total budget (calls) | arm | problems solved | solved per 1,000 calls of budget | calls spent | solved per 1,000 calls spent |');
console.log('|---:|---|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
console.log('\nadaptive split by bin:');
for (const l of binLines) console.log(l);

/**
 * Search strategies at equal budgets: train the step policy in process (rounds of expert iteration from base, as
 * in bench/policy-flywheel.ts; 0 rounds is the untrained round-0 model) or load one, serve it with the embedded
 * OpenAI-compatible server, and run best-of-N (verifier scorer), majority vote, beam search and MCTS through
 * lib/search over HTTP on held-out Countdown problems, at budgets of 4 to 256 calls (or generated tokens) each.
 *
 * `--tokens steps` serves the model with whole steps as tokens (one request with logprobs shows a whole next-step
 * distribution); `--tokens subword` serves the same weights with LLM-like subword tokens, where top_logprobs see
 * only the next token and children must be sampled. Every cell reports accuracy, mean calls and mean generated
 * tokens actually spent; a second table reports prompt tokens and the share the server's prefix cache served.
 *
 * Held-out problems come from `--eval-seed`, a seed nothing was tuned on (the strategies' defaults were chosen on
 * seed 7); problems that also occur in the training set are dropped. Search verifies during search: the Countdown
 * verifier reads only the numbers and target in the prompt, so that is legitimate on held-out problems.
 *
 * Usage: npx tsx bench/search-strategies.ts [--tokens steps|subword] [--rounds 0,5] [--seed 7] [--eval-seed 21]
 *          [--problems 200] [--unit calls|tokens] [--budgets 4,8,16,32,64,128,256]
 *          [--strategies best-of-n,majority,beam,mcts] [--large-subset 200] [--logprobs 20] [--policy file.json]
 *          [--save-policy file.json]
 *
 * `--logprobs` is what step and rollout requests ask for. With subword tokens no listed alternative is ever a whole
 * line, so `--logprobs 1` searches exactly as 20 does (same token logprobs, same samples) with far less JSON.
 */
import { parseArgs } from 'node:util';
import { beamSearch } from '../lib/search/beam.js';
import { bestOfNSearch } from '../lib/search/best-of-n.js';
import { createCompletionsStepModel } from '../lib/search/completions-model.js';
import { majoritySearch } from '../lib/search/majority.js';
import { mctsSearch } from '../lib/search/mcts.js';
import { samplerFromStepModel } from '../lib/search/samplers.js';
import type { BudgetUnit, SearchOutcome, SearchProblem, StepModel, TraceSampler } from '../lib/search/types.js';
import { formatPrompt, generateCountdown } from '../lib/tasks/countdown.js';
import { countdownVerifier } from '../lib/verify/countdown.js';
import { greedyPassAt1 } from '../localmodel/evaluate.js';
import type { TokenMode } from '../localmodel/tokenizer.js';
import { loadOrTrain, mapLimit, servePolicy } from './search-setup.js';

const { values: args } = parseArgs({
  options: {
    tokens: { type: 'string', default: 'steps' },
    seed: { type: 'string', default: '7' },
    'eval-seed': { type: 'string', default: '21' },
    problems: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    policy: { type: 'string' },
    'save-policy': { type: 'string' },
    unit: { type: 'string', default: 'calls' },
    budgets: { type: 'string', default: '4,8,16,32,64,128,256' },
    strategies: { type: 'string', default: 'best-of-n,majority,beam,mcts' },
    'large-subset': { type: 'string', default: '200' },
    logprobs: { type: 'string', default: '20' },
  },
});

type Strategy = 'best-of-n' | 'majority' | 'beam' | 'mcts';

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const TOKENS = args.tokens as TokenMode;
if (TOKENS !== 'steps' && TOKENS !== 'subword') fail(`--tokens must be steps or subword, got '${args.tokens}'`);
const UNIT = args.unit as BudgetUnit;
if (UNIT !== 'calls' && UNIT !== 'tokens') fail(`--unit must be calls or tokens, got '${args.unit}'`);
const SEED = Number(args.seed);
const EVAL_SEED = Number(args['eval-seed']);
const BUDGETS = args.budgets.split(',').map(Number);
const STRATEGIES = args.strategies.split(',') as Strategy[];
const ROUNDS = args.rounds.split(',').map(Number);
const LARGE_SUBSET = Number(args['large-subset']);
for (const s of STRATEGIES) if (!['best-of-n', 'majority', 'beam', 'mcts'].includes(s)) fail(`unknown strategy '${s}'`);
if ([SEED, EVAL_SEED, LARGE_SUBSET, ...BUDGETS, ...ROUNDS].some((v) => !Number.isInteger(v) || v < 0)) fail('seeds, budgets, rounds and sizes must be whole numbers');
if (args.policy && ROUNDS.length > 1) fail('--policy loads one model: give one --rounds value (used as its label)');

const train = generateCountdown({ seed: SEED, train: 500, test: 200 }).filter((p) => p.split === 'train');
const seen = new Set(train.map((p) => formatPrompt(p)));
const test = generateCountdown({ seed: EVAL_SEED, train: 1, test: Number(args.problems) + 20 })
  .filter((p) => p.split === 'test' && !seen.has(formatPrompt(p)))
  .slice(0, Number(args.problems));

/** Beam width grows with the budget; each depth values the 4 × width most likely children by one rollout each. */
function beamWidth(budget: number): number {
  const calls = UNIT === 'tokens' ? budget / 50 : budget;
  return calls >= 16 ? 4 : 2;
}

const pct = (c: Cell) => `${((100 * c.solved) / c.problems).toFixed(1)}%`;

interface Cell {
  solved: number;
  problems: number;
  calls: number;
  tokens: number;
  promptTokens: number;
  cachedPromptTokens: number;
  seconds: number;
}

async function measure(rounds: number) {
  const started = performance.now();
  const policy = loadOrTrain({ file: args.policy, save: args['save-policy'], train, rounds, seed: SEED });
  const trainS = (performance.now() - started) / 1000;
  const served = await servePolicy(policy, `r${rounds}-seed${SEED}`, TOKENS);
  const model = createCompletionsStepModel(served.client, { model: served.model, logprobs: Number(args.logprobs) });
  // Whole-trace samples are judged by the verifier alone: no logprobs needed.
  const sampler: TraceSampler = samplerFromStepModel(createCompletionsStepModel(served.client, { model: served.model, logprobs: 0 }));
  const common = { verifier: countdownVerifier, verifyDuringSearch: true, budgetUnit: UNIT };

  function run(strategy: Strategy, problem: SearchProblem, budget: number, seed: number, m: StepModel): Promise<SearchOutcome> {
    switch (strategy) {
      case 'best-of-n':
        return bestOfNSearch(problem, { ...common, sampler, scorer: 'verifier', budget, batch: 4, seed });
      case 'majority':
        return majoritySearch(problem, { verifier: countdownVerifier, budgetUnit: UNIT, sampler, budget, batch: 4, seed });
      case 'beam':
        return beamSearch(problem, { ...common, model: m, budget, width: beamWidth(budget), seed });
      case 'mcts':
        return mctsSearch(problem, { ...common, model: m, budget, seed });
    }
  }

  const cells = new Map<string, Cell>();
  for (const budget of BUDGETS) {
    const problems = budget >= (UNIT === 'tokens' ? 128 * 50 : 128) ? test.slice(0, LARGE_SUBSET) : test;
    for (const strategy of STRATEGIES) {
      const t0 = performance.now();
      // Fresh search seeds per evaluation seed: nothing here was tuned on them.
      const outcomes = await mapLimit(problems, 4, (p, i) =>
        run(strategy, { prompt: formatPrompt(p), reference: { numbers: p.numbers, target: p.target } }, budget, EVAL_SEED * 100_003 + i, model),
      );
      for (const o of outcomes) {
        const spent = UNIT === 'tokens' ? o.tokens : o.calls;
        if (spent > budget) throw new Error(`${strategy} spent ${spent} ${UNIT} with a budget of ${budget}`);
      }
      const mean = (f: (o: SearchOutcome) => number) => outcomes.reduce((s, o) => s + f(o), 0) / outcomes.length;
      cells.set(`${strategy}@${budget}`, {
        solved: outcomes.filter((o) => o.correct).length,
        problems: problems.length,
        calls: mean((o) => o.calls),
        tokens: mean((o) => o.tokens),
        promptTokens: mean((o) => o.promptTokens),
        cachedPromptTokens: mean((o) => o.cachedPromptTokens ?? 0),
        seconds: (performance.now() - t0) / 1000,
      });
      const c = cells.get(`${strategy}@${budget}`)!;
      console.error(`rounds ${rounds} · ${strategy}@${budget}: ${pct(c)} in ${c.seconds.toFixed(0)} s`);
    }
  }
  await served.close();
  return { policy, trainS, cells };
}

const names: Record<Strategy, string> = { 'best-of-n': 'best-of-N (verifier)', majority: 'majority vote', beam: 'beam (verified rollouts)', mcts: 'MCTS' };
console.log(`\n\`npx tsx bench/search-strategies.ts ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'));
console.log(
  `\n${TOKENS} tokens; ${test.length} held-out problems of seed ${EVAL_SEED}` +
    (LARGE_SUBSET < test.length ? ` (the first ${LARGE_SUBSET} for the two largest budgets)` : '') +
    `; policies trained on the 500 train problems of seed ${SEED}.`,
);
for (const rounds of ROUNDS) {
  const { policy, trainS, cells } = await measure(rounds);
  const label = args.policy ? `loaded from ${args.policy}` : rounds === 0 ? 'the untrained round-0 model' : `${rounds} rounds of expert iteration from base (${trainS.toFixed(1)} s)`;
  console.log(`\n### ${label}: held-out greedy pass@1 ${(100 * greedyPassAt1(policy, test)).toFixed(1)}% (greedy over whole steps)\n`);
  console.log(`Each cell: accuracy (mean calls · mean generated tokens actually spent per problem). Budget in ${UNIT}.\n`);
  console.log(`| budget (${UNIT}) | ${STRATEGIES.map((s) => names[s]).join(' | ')} |`);
  console.log(`|---:|${STRATEGIES.map(() => '---:').join('|')}|`);
  for (const budget of BUDGETS) {
    const row = STRATEGIES.map((s) => {
      const c = cells.get(`${s}@${budget}`)!;
      return `${pct(c)} (${c.calls.toFixed(1)} · ${c.tokens.toFixed(0)})`;
    });
    console.log(`| ${budget} | ${row.join(' | ')} |`);
  }
  console.log(`\nPrompt tokens per problem (share served from the prefix cache):\n`);
  console.log(`| budget (${UNIT}) | ${STRATEGIES.map((s) => names[s]).join(' | ')} |`);
  console.log(`|---:|${STRATEGIES.map(() => '---:').join('|')}|`);
  for (const budget of BUDGETS) {
    const row = STRATEGIES.map((s) => {
      const c = cells.get(`${s}@${budget}`)!;
      return `${c.promptTokens.toFixed(0)} (${c.promptTokens ? ((100 * c.cachedPromptTokens) / c.promptTokens).toFixed(0) : 0}%)`;
    });
    console.log(`| ${budget} | ${row.join(' | ')} |`);
  }
  const total = [...cells.values()].reduce((s, c) => s + c.seconds, 0);
  console.log(`\nsearch wall time ${total.toFixed(0)} s`);
}

/**
 * The second learner, measured: the embedded value head (a PRM) trained round by round on the step labels MCTS
 * leaves (verified rollouts through each step, as `search_steps` stores them), its AUC on held-out problems' step
 * labels per round (exact labels: can the target still be reached after the step), and held-out accuracy at equal
 * compute without the verifier steering search: MCTS valued by rollouts (agreement) vs by the learned PRM vs a mix,
 * PRM-scored beam vs verifier-free best-of-N (self-consistency) vs majority vote (the Lightman comparison).
 *
 * The policy is trained in process (bench/search-setup.ts) and served by the embedded server over HTTP; the PRM is
 * scored in process (the same `scoreCompletion` the server's /v1/reward runs), its requests counted as scorer calls.
 *
 * Usage: npx tsx bench/prm.ts [--rounds 5] [--per-round 20] [--label-budget 24] [--problems 150] [--budget 16]
 *          [--seed 7] [--eval-seed 21] [--tokens steps|subword]
 */
import { parseArgs } from 'node:util';
import { rocAuc } from '../lib/metrics/step-labels.js';
import { beamSearch } from '../lib/search/beam.js';
import { bestOfNSearch } from '../lib/search/best-of-n.js';
import { createCompletionsStepModel } from '../lib/search/completions-model.js';
import { majoritySearch } from '../lib/search/majority.js';
import { mctsSearch } from '../lib/search/mcts.js';
import type { RewardModelClient } from '../lib/search/reward-model.js';
import { samplerFromStepModel } from '../lib/search/samplers.js';
import type { SearchOutcome, SearchProblem } from '../lib/search/types.js';
import { formatPrompt, generateCountdown } from '../lib/tasks/countdown.js';
import { countdownVerifier } from '../lib/verify/countdown.js';
import type { TokenMode } from '../localmodel/tokenizer.js';
import type { ValueExample, ValueHead } from '../localmodel/value.js';
import { DEFAULT_VALUE_TRAIN, prefixState, scoreCompletion, trainValue } from '../localmodel/value.js';
import { randomLabelledTraces } from '../test/helpers/step-labels.js';
import { mapLimit, servePolicy, trainRounds } from './search-setup.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'per-round': { type: 'string', default: '20' },
    'label-budget': { type: 'string', default: '24' },
    problems: { type: 'string', default: '150' },
    budget: { type: 'string', default: '16' },
    seed: { type: 'string', default: '7' },
    'eval-seed': { type: 'string', default: '21' },
    tokens: { type: 'string', default: 'steps' },
  },
});
const ROUNDS = Number(args.rounds);
const PER_ROUND = Number(args['per-round']);
const LABEL_BUDGET = Number(args['label-budget']);
const BUDGET = Number(args.budget);
const SEED = Number(args.seed);
const TOKENS = args.tokens as TokenMode;

const pool = generateCountdown({ seed: SEED, train: 400 + ROUNDS * PER_ROUND, test: 0 });
const policyTrain = pool.slice(0, 400);
const labelProblems = pool.slice(400);
const seen = new Set(pool.map((p) => formatPrompt(p)));
const heldOut = generateCountdown({ seed: Number(args['eval-seed']), train: 0, test: Number(args.problems) * 2 })
  .filter((p) => !seen.has(formatPrompt(p)))
  .slice(0, Number(args.problems));
const heldOutLabels = randomLabelledTraces(heldOut, 4, 5);

function inProcessPrm(value: ValueHead): RewardModelClient {
  return {
    async score(prompt, completions) {
      return { scores: completions.map((c) => scoreCompletion(value, prompt, c)), requests: completions.length };
    },
  };
}

function heldOutAuc(value: ValueHead): number {
  const rows = heldOutLabels.flatMap((line) =>
    line.completions.map((_, i) => ({ score: scoreCompletion(value, line.prompt, line.completions.slice(0, i + 1).join('\n')), label: line.labels[i]! })),
  );
  return rocAuc(rows);
}

async function main() {
  const policy = trainRounds(policyTrain, 1, SEED);
  const served = await servePolicy(policy, `prm-bench-${SEED}`, TOKENS);
  const model = createCompletionsStepModel(served.client, { model: served.model, logprobs: 20 });
  const sampler = samplerFromStepModel(createCompletionsStepModel(served.client, { model: served.model, logprobs: 0 }));
  try {
    // Rounds of labelling: MCTS with verified rollouts on fresh train problems; every step it rolled through is a label.
    const examples: ValueExample[] = [];
    const aucs: Array<{ round: number; labels: number; auc: number }> = [];
    let value: ValueHead | undefined;
    for (let round = 1; round <= ROUNDS; round++) {
      const problems = labelProblems.slice((round - 1) * PER_ROUND, round * PER_ROUND);
      const outcomes = await mapLimit(problems, 4, (p, i) =>
        mctsSearch({ prompt: formatPrompt(p), reference: String(p.target) }, { model, verifier: countdownVerifier, verifyDuringSearch: true, stopWhenCorrect: false, budget: LABEL_BUDGET, seed: round * 1000 + i }).then((o) => ({ o, p })),
      );
      for (const { o, p } of outcomes) {
        for (const s of o.steps ?? []) {
          if (!s.rollouts || s.verifiedRollouts === null) continue;
          const state = prefixState(p, [s.prefix, s.step]);
          if (!state.features) continue;
          examples.push({ features: state.features, target: s.verifiedRollouts / s.rollouts });
        }
      }
      value = trainValue(examples, { ...DEFAULT_VALUE_TRAIN, seed: round, init: value }).value;
      aucs.push({ round, labels: examples.length, auc: heldOutAuc(value) });
      console.error(`round ${round}: ${examples.length} step labels, held-out AUC ${aucs.at(-1)!.auc.toFixed(3)}`);
    }
    const prm = inProcessPrm(value!);

    // Held-out accuracy at equal compute (model calls), the verifier only grading the chosen trace.
    const graded = { verifier: countdownVerifier, verifyDuringSearch: false } as const;
    const strategies: Record<string, (p: SearchProblem, seed: number) => Promise<SearchOutcome>> = {
      'mcts, rollout values (agreement)': (p, seed) => mctsSearch(p, { ...graded, model, budget: BUDGET, seed }),
      'mcts, PRM values': (p, seed) => mctsSearch(p, { ...graded, model, budget: BUDGET, seed, value: 'prm', prm }),
      'mcts, mix λ=0.5': (p, seed) => mctsSearch(p, { ...graded, model, budget: BUDGET, seed, value: 'mix', prm }),
      'beam, PRM-scored': (p, seed) => beamSearch(p, { ...graded, model, budget: BUDGET, seed, width: 4, processScorer: 'prm', prm }),
      // Width 1: where children are sampled (subword tokens, 4 samples per expansion) width 4 spends 16 calls on
      // one depth; one beam reaches the answer line (4 lines) within the budget.
      'beam, PRM-scored, width 1': (p, seed) => beamSearch(p, { ...graded, model, budget: BUDGET, seed, width: 1, processScorer: 'prm', prm }),
      'best-of-N, self-consistency': (p, seed) => bestOfNSearch(p, { ...graded, sampler, scorer: 'self-consistency', budget: BUDGET, batch: 4, seed }),
      'best-of-N, PRM-ranked': (p, seed) => bestOfNSearch(p, { ...graded, sampler, scorer: 'reward-model', rewardModel: prm, budget: BUDGET, batch: 4, seed }),
      'majority vote': (p, seed) => majoritySearch(p, { verifier: countdownVerifier, sampler, budget: BUDGET, batch: 4, seed }),
    };
    const table: string[] = [];
    for (const [name, run] of Object.entries(strategies)) {
      const outcomes = await mapLimit(heldOut, 4, (p, i) => run({ prompt: formatPrompt(p), reference: String(p.target) }, SEED * 7919 + i));
      const n = outcomes.length;
      const acc = outcomes.filter((o) => o.correct).length / n;
      const calls = outcomes.reduce((s, o) => s + o.calls, 0) / n;
      const scorer = outcomes.reduce((s, o) => s + o.scorerCalls, 0) / n;
      // How often the search wrote a trace the verifier would accept, whatever it then picked (graded afterwards).
      const found = await mapLimit(outcomes, 4, async (o, i) => {
        const p = heldOut[i]!;
        for (const t of o.traces) if ((await countdownVerifier.verify({ prompt: formatPrompt(p), reference: String(p.target), text: t.text })).correct) return true;
        return false;
      });
      const oracle = found.filter(Boolean).length / n;
      table.push(`| ${name} | ${(acc * 100).toFixed(1)}% | ${(oracle * 100).toFixed(1)}% | ${calls.toFixed(1)} | ${scorer.toFixed(1)} |`);
      console.error(table.at(-1));
    }
    console.log(`PRM per round (held-out step labels of ${heldOut.length} problems; labels from MCTS at ${LABEL_BUDGET} calls on ${PER_ROUND} new train problems per round):\n`);
    console.log('| round | step labels (cumulative) | held-out AUC |\n|---|---|---|');
    for (const a of aucs) console.log(`| ${a.round} | ${a.labels} | ${a.auc.toFixed(3)} |`);
    console.log(`\nHeld-out accuracy at ${BUDGET} model calls per problem (${heldOut.length} problems, tokens: ${TOKENS}, verifier only grades):\n`);
    console.log('| strategy | accuracy | a correct trace written | mean model calls | mean PRM calls |\n|---|---|---|---|---|');
    for (const line of table) console.log(line);
  } finally {
    await served.close();
  }
}

await main();

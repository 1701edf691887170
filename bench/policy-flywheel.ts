/**
 * Expert iteration with the embedded step policy, in process (no HTTP): per round, sample 16 traces per train
 * problem at temperature 1, keep distinct verified-correct ones (at most 4 per problem), fine-tune, and measure
 * held-out greedy pass@1. Two curves: a NEW model trained from base on each round's data (ReST-EM), and a model
 * that continues from the previous round's weights at a high learning rate.
 *
 * Columns: held-out greedy pass@1 is the headline; held-out pass@16 and the first-step entropy show how much the
 * policy still explores (what search and the next round's sampling live on). Deterministic for a given --seed.
 *
 * Usage: npx tsx bench/policy-flywheel.ts [--rounds 5] [--seed 7] [--continue-lr-mult 10] [--only from-base|continue]
 */
import { parseArgs } from 'node:util';
import { generateCountdown } from '../lib/tasks/countdown.js';
import { chatExample, greedyPassAt1, meanFirstStepEntropy, sampleCorrectTraces } from '../localmodel/evaluate.js';
import { parseTrainingJsonl } from '../localmodel/dataset.js';
import type { Policy } from '../localmodel/policy.js';
import { createBasePolicy } from '../localmodel/policy.js';
import { DEFAULT_TRAIN, trainPolicy } from '../localmodel/train.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seed: { type: 'string', default: '7' },
    'continue-lr-mult': { type: 'string', default: '10' },
    only: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const SEED = Number(args.seed);
const CONTINUE_LR_MULT = Number(args['continue-lr-mult']);

const set = generateCountdown({ seed: SEED, train: 500, test: 200 });
const train = set.filter((p) => p.split === 'train');
const test = set.filter((p) => p.split === 'test');

interface Row {
  round: number;
  kept: number;
  solved: number;
  correctRate: number;
  loss: number;
  trainPass: number;
  testPass: number;
  /** Held-out problems solved by at least one of 16 samples at T=1. */
  testPass16: number;
  entropy: number;
  sampleS: number;
  trainS: number;
}

function heldOut(policy: Policy, round: number) {
  const s = sampleCorrectTraces(policy, test, { samples: 16, temperature: 1, seed: SEED * 7919 + round, keepPerProblem: 1 });
  return { testPass: greedyPassAt1(policy, test), testPass16: s.solvedProblems / test.length, entropy: meanFirstStepEntropy(policy, test) };
}

function runCurve(mode: 'from-base' | 'continue'): Row[] {
  const base = createBasePolicy();
  let policy: Policy = base;
  const rows: Row[] = [
    { round: 0, kept: 0, solved: 0, correctRate: 0, loss: NaN, trainPass: greedyPassAt1(base, train), ...heldOut(base, 0), sampleS: 0, trainS: 0 },
  ];
  for (let round = 1; round <= ROUNDS; round++) {
    let t0 = performance.now();
    const sampled = sampleCorrectTraces(policy, train, { samples: 16, temperature: 1, seed: SEED * 1000 + round, keepPerProblem: 4 });
    const sampleS = (performance.now() - t0) / 1000;
    // Through the same chat JSONL path a fine-tuning job reads.
    const jsonl = sampled.kept.map((k) => JSON.stringify(chatExample(k))).join('\n');
    const { examples } = parseTrainingJsonl(jsonl);
    t0 = performance.now();
    const result = trainPolicy(examples, {
      ...DEFAULT_TRAIN,
      seed: SEED + round,
      init: mode === 'continue' ? policy : undefined,
      learningRate: DEFAULT_TRAIN.learningRate * (mode === 'continue' ? CONTINUE_LR_MULT : 1),
    });
    const trainS = (performance.now() - t0) / 1000;
    policy = result.policy;
    rows.push({
      round,
      kept: sampled.kept.length,
      solved: sampled.solvedProblems,
      correctRate: sampled.correctSamples / sampled.totalSamples,
      loss: result.losses.at(-1) ?? NaN,
      trainPass: greedyPassAt1(policy, train),
      ...heldOut(policy, round),
      sampleS,
      trainS,
    });
  }
  return rows;
}

function printTable(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log(
    '| round | kept traces | train problems solved by sampling | correct samples | final loss | train greedy pass@1 | held-out greedy pass@1 | held-out pass@16 | first-step entropy | sample s | train s |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  for (const r of rows) {
    console.log(
      `| ${r.round} | ${r.kept} | ${r.solved} / ${train.length} | ${pct(r.correctRate)} | ${Number.isNaN(r.loss) ? '-' : r.loss.toFixed(3)} | ${pct(r.trainPass)} | **${pct(r.testPass)}** | ${pct(r.testPass16)} | ${r.entropy.toFixed(2)} | ${r.sampleS.toFixed(2)} | ${r.trainS.toFixed(2)} |`,
    );
  }
}

console.log(`policy flywheel: seed ${SEED}, ${train.length} train / ${test.length} held-out problems, ${ROUNDS} rounds, 16 samples/problem at T=1, keep ≤4 distinct correct`);
console.log(`training: ${JSON.stringify(DEFAULT_TRAIN)}`);
if (args.only !== 'continue') printTable('A. new model from base each round (ReST-EM), default learning rate', runCurve('from-base'));
if (args.only !== 'from-base') {
  printTable(`B. continue from the previous model, learning rate x${CONTINUE_LR_MULT}`, runCurve('continue'));
}

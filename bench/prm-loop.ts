/**
 * The second learner in the real loop: a run through Temporal, Postgres and the embedded model with `finetune.prm`
 * on, each round's MCTS storing step labels, the next round training a PRM on them (continuing from the last one) and
 * searching with it. After the run, every round's PRM (served by the embedded server under its model name) is
 * measured on one fixed set of held-out step labels (the run's test problems, exact labels: can the target still be
 * reached after the step), through the same /v1/reward endpoint the search asks. Also per round: the step labels
 * the round's PRM was trained on, the PRM gate's own measurement and decision, and the PRM requests search made.
 *
 * Usage: npx tsx bench/prm-loop.ts [--rounds 4] [--train 120] [--test 40] [--seed 13] [--prm-epochs 20] [--label-rollouts 0]
 */
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { parseRunConfig } from '../config/load.js';
import { rocAuc } from '../lib/metrics/step-labels.js';
import { createRewardModelClient } from '../lib/search/reward-model.js';
import { parsePrompt } from '../lib/tasks/countdown.js';
import { completedRun } from '../test/helpers/flywheel-run.js';
import { randomLabelledTraces } from '../test/helpers/step-labels.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    train: { type: 'string', default: '120' },
    test: { type: 'string', default: '40' },
    seed: { type: 'string', default: '13' },
    'prm-epochs': { type: 'string', default: '20' },
    'label-rollouts': { type: 'string', default: '0' },
  },
});

const config = parseRunConfig(`
name: prm-loop-bench
rounds: ${Number(args.rounds)}
task: {kind: countdown, seed: ${Number(args.seed)}, train: ${Number(args.train)}, test: ${Number(args.test)}}
generate: {samplesPerProblem: 4, shardSamples: 160}
search:
  step: {strategy: mcts, budget: 16, trainBudget: 16, train: all, eval: true, value: mix}
finetune: {hyperparameters: {nEpochs: 6}, pollIntervalMs: 200, prm: {enabled: true, hyperparameters: {nEpochs: ${Number(args['prm-epochs'])}}}}
labels: {rollouts: ${Number(args['label-rollouts'])}}
evaluate: {samples: 2, k: [1, 2]}
`);

const started = Date.now();
const run = await completedRun(config, 'prm-loop-bench');
try {
  const rows = async <T>(query: ReturnType<typeof sql>) => (await run.db.db.execute(query)).rows as T[];
  const prms = await rows<{ round: number; name: string; promoted: boolean }>(sql`
    SELECT round, name, promoted FROM flywheel.models WHERE run_id = ${run.runId} AND learner = 'prm' ORDER BY round`);
  const trainedOn = await rows<{ model: string; labels: number }>(sql`
    SELECT model, coalesce((SELECT sum(v::int) FROM jsonb_each_text(step_labels_by_round) AS e(k, v)), 0)::int AS labels
    FROM flywheel.model_lineage WHERE run_id = ${run.runId} AND depth = 0 AND learner = 'prm'`);
  const stats = await rows<{ index: number; prm: { heldOut: { accuracy: number | null; balancedAccuracy?: number | null; auc: number | null; steps: number; positives: number }; promoted: boolean } | null; scorer_calls: number }>(sql`
    SELECT r.index, r.stats->'prm' AS prm,
      (SELECT coalesce(sum(s.scorer_calls), 0)::int FROM flywheel.search_results s WHERE s.round_id = r.id) AS scorer_calls
    FROM flywheel.rounds r WHERE r.run_id = ${run.runId} ORDER BY r.index`);
  const tests = await rows<{ prompt: string }>(sql`
    SELECT p.prompt FROM flywheel.problems p JOIN flywheel.runs r ON r.task_set = p.task_set
    WHERE r.id = ${run.runId} AND p.split = 'test' ORDER BY p.position`);
  const heldOut = randomLabelledTraces(tests.map((t) => parsePrompt(t.prompt)!), 4, 5);
  const labelled = heldOut.flatMap((line) => line.completions.map((_, i) => ({ prompt: line.prompt, completion: line.completions.slice(0, i + 1).join('\n'), label: line.labels[i]! })));

  const auc = async (model: string) => {
    const prm = createRewardModelClient({ url: `${run.model.url.replace(/\/+$/, '')}/reward`, model, format: 'flywheel' });
    const scored: Array<{ score: number; label: boolean }> = [];
    for (const x of labelled) scored.push({ score: (await prm.score(x.prompt, [x.completion])).scores[0]!, label: x.label });
    return rocAuc(scored);
  };

  console.log(`PRM per round in the loop (${config.rounds} rounds, ${args.train} train / ${args.test} test problems; each PRM measured after the run on the same ${labelled.length} held-out step labels):\n`);
  console.log('| round | PRM trained on (step labels) | held-out AUC | gate on its own labels: balanced accuracy / accuracy / AUC (labels, good) | promoted | round\'s search: PRM requests |\n|---|---|---|---|---|---|');
  for (const s of stats) {
    const prm = prms.find((p) => p.round === s.index);
    const on = prm ? trainedOn.find((t) => t.model === prm.name)?.labels : undefined;
    const measured = prm ? (await auc(prm.name)).toFixed(3) : '–';
    const h = s.prm?.heldOut;
    const gate = h?.balancedAccuracy != null ? `${h.balancedAccuracy.toFixed(3)} / ${h.accuracy?.toFixed(3)} / ${h.auc?.toFixed(3)} (${h.steps}, ${h.positives} good)` : '–';
    console.log(`| ${s.index} | ${on ?? '–'} | ${measured} | ${gate} | ${prm ? (prm.promoted ? 'yes' : 'no') : '–'} | ${s.scorer_calls} |`);
  }
  console.log(`\n${((Date.now() - started) / 1000).toFixed(0)} s in all.`);
} finally {
  await run.close();
}

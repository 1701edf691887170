/**
 * The filter stage's PRM dataset build (db/prm-dataset.ts#buildPrmDataset) against the cost of writing what it
 * writes: per round, the build's time ÷ a plain `INSERT … SELECT` of the same item rows into another dataset of the
 * same table (no merging, no path check, no ranking), side by side in one run.
 *
 * The step labels are synthetic but shaped like a Countdown run's: per round and train problem, a tree of
 * `--branching` children per step to depth 3 plus answer lines, drawn from a small set of lines so later rounds
 * revisit earlier rounds' steps (merged by the build), with rollout counts and final verdicts from a seeded random
 * source; the held-out problems get eval labels the build must leave out. Between builds the bench ANALYZEs the table
 * as autovacuum does after a round, so each build starts from statistics that do not count its own new dataset (the
 * state that once made the planner nest loops over 25k items for 5 minutes).
 *
 * Usage: npx tsx bench/prm-dataset.ts [--rounds 5] [--problems 400] [--branching 4]
 */
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { problemIds } from '../db/problems.js';
import { buildPrmDataset } from '../db/prm-dataset.js';
import { insertSearchSteps } from '../db/search-steps.js';
import { createRng } from '../lib/rng.js';
import type { StepStat } from '../lib/search/step-stats.js';
import { testDatabase } from '../test/helpers/services.js';
import { storeRounds, storeRun } from '../test/middle/fixtures.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    problems: { type: 'string', default: '400' },
    branching: { type: 'string', default: '4' },
  },
});
const ROUNDS = Number(args.rounds);
const PROBLEMS = Number(args.problems);
const BRANCHING = Number(args.branching);

/** One search's step labels on one problem: children drawn from 8 candidate lines per step, depth 3, then the answer. */
function treeOf(rand: () => number): StepStat[] {
  const steps: StepStat[] = [];
  const grow = (prefix: string, depth: number) => {
    const lines = new Set<string>();
    while (lines.size < BRANCHING) lines.add(`${depth}:${Math.floor(rand() * 8)}`);
    for (const line of lines) {
      if (depth === 4) {
        const correct = rand() < 0.3;
        steps.push({ prefix, step: `Answer: ${line}`, depth, visits: 1, rollouts: 0, verifiedRollouts: 0, value: correct ? 1 : 0, verdict: correct });
        continue;
      }
      const rollouts = 1 + Math.floor(rand() * 4);
      const verified = Math.floor(rand() * (rollouts + 1));
      steps.push({ prefix, step: line, depth, visits: rollouts, rollouts, verifiedRollouts: verified, value: verified / rollouts, verdict: null });
      if (rand() < 0.5 || depth === 1) grow(`${prefix}${line}\n`, depth + 1);
    }
  };
  grow('', 1);
  return steps;
}

const db = await testDatabase();
try {
  const { runId, taskSet } = await storeRun(db.db, { rounds: ROUNDS, task: { kind: 'countdown', seed: 5, train: PROBLEMS, test: Math.ceil(PROBLEMS / 4) } });
  await storeRounds(db.db, runId, ROUNDS);
  const rounds = (await db.db.execute(sql`SELECT id, index FROM flywheel.rounds WHERE run_id = ${runId} ORDER BY index`)).rows.map((r) => ({
    id: Number((r as { id: string }).id),
    index: Number((r as { index: number }).index),
  }));
  const train = await problemIds(db.db, taskSet, 'train');
  const test = await problemIds(db.db, taskSet, 'test');
  const rand = createRng(11);
  const seconds = async (f: () => Promise<unknown>) => {
    const t = process.hrtime.bigint();
    await f();
    return Number(process.hrtime.bigint() - t) / 1e9;
  };

  const table: string[] = [];
  let labels = 0;
  for (const round of rounds) {
    if (round.index > 0) {
      await db.db.execute(sql`ANALYZE flywheel.prm_dataset_items`); // what autovacuum does after the last round's build
      let built = { datasetId: 0, examples: 0, positives: 0, negatives: 0 };
      const build = await seconds(async () => (built = await buildPrmDataset(db.db, round.id)));
      const [items] = (await db.db.execute(sql`SELECT count(*)::int AS n FROM flywheel.prm_dataset_items WHERE dataset_id = ${built.datasetId}`)).rows as Array<{ n: number }>;
      // The floor: writing the same rows again, into a dataset of the same run (kind 'bench', round −index).
      const [scratch] = (
        await db.db.execute(sql`INSERT INTO flywheel.datasets (run_id, round, kind, filter) VALUES (${runId}, ${-round.index}, 'bench', '{}') RETURNING id`)
      ).rows as Array<{ id: string }>;
      const write = await seconds(() =>
        db.db.transaction(async (tx) => {
          await tx.execute(sql`
            INSERT INTO flywheel.prm_dataset_items (dataset_id, step_id, problem_id, depth, rollouts, verified_rollouts, soft_label, label, complete, example)
            SELECT ${Number(scratch!.id)}, step_id, problem_id, depth, rollouts, verified_rollouts, soft_label, label, complete, example
            FROM flywheel.prm_dataset_items WHERE dataset_id = ${built.datasetId}`);
        }),
      );
      table.push(`| ${round.index} | ${labels} | ${items!.n} | ${built.examples} | ${build.toFixed(2)} | ${write.toFixed(2)} | ${(build / write).toFixed(1)}× |`);
      process.stderr.write(`round ${round.index}: ${items!.n} items in ${build.toFixed(2)} s (writing them: ${write.toFixed(2)} s)\n`);
    }
    if (round.index === ROUNDS) break;
    // This round's searches: one tree per train problem, and eval trees the PRM dataset must leave out.
    for (const [purpose, problems] of [['train', train], ['eval', test]] as const) {
      for (const problemId of problems) {
        const steps = treeOf(rand);
        if (purpose === 'train') labels += steps.length;
        await insertSearchSteps(db.db, { roundId: round.id, problemId, purpose, strategy: 'mcts', source: 'mcts' }, steps);
      }
    }
  }
  console.log(`PRM dataset build (${PROBLEMS} train problems, branching ${BRANCHING}, ${ROUNDS} rounds; every round pools all earlier labels)\n`);
  console.log('| round | train step labels so far | items | examples (balanced) | build (s) | writing the items (s) | ratio |');
  console.log('|---|---|---|---|---|---|---|');
  for (const line of table) console.log(line);
} finally {
  await db.drop();
}

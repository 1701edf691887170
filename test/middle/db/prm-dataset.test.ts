/** Step labels in Postgres and the PRM dataset the filter stage builds from them, against a real Postgres. */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemIds } from '../../../db/problems.js';
import { buildPrmDataset, heldOutStepLabels, prmWindowStart, streamPrmExamples, type PrmExample } from '../../../db/prm-dataset.js';
import { storeSearchOutcome } from '../../../db/search.js';
import { insertSearchSteps } from '../../../db/search-steps.js';
import { getDataset } from '../../../db/datasets.js';
import { mctsSearch } from '../../../lib/search/mcts.js';
import type { StepStat } from '../../../lib/search/step-stats.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { TRAP, answerVerifier, createFakeModel } from '../../unit/search/fake-model.js';
import { storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase();
});
afterAll(async () => db?.drop());

const step = (prefix: string, line: string, rollouts: number, verified: number | null, verdict: boolean | null = null): StepStat => ({
  prefix,
  step: line,
  depth: prefix === '' ? 1 : prefix.split('\n').length,
  visits: rollouts,
  rollouts,
  verifiedRollouts: verified,
  value: verified === null || rollouts === 0 ? null : verified / rollouts,
  verdict,
});

async function collect(it: AsyncIterable<PrmExample>): Promise<PrmExample[]> {
  const out: PrmExample[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function count(table: string, where = sql`true`): Promise<number> {
  const res = await db.db.execute(sql`SELECT count(*)::int AS n FROM ${sql.raw(`flywheel.${table}`)} WHERE ${where}`);
  return Number((res.rows[0] as { n: number }).n);
}

describe('search_steps and the PRM dataset', () => {
  it('pools the step labels of every earlier round by default, or of the latest N', () => {
    expect([1, 2, 5].map((round) => prmWindowStart(round, 'all'))).toEqual([0, 0, 0]);
    expect([1, 2, 5].map((round) => prmWindowStart(round, 1))).toEqual([0, 1, 4]);
    expect([1, 2, 5].map((round) => prmWindowStart(round, 3))).toEqual([0, 0, 2]);
  });

  it('merges duplicates, keeps complete paths, balances classes, never uses an eval problem, and a retry adds nothing', async () => {
    const { runId, taskSet } = await storeRun(db.db);
    const round1 = await storeRounds(db.db, runId, 1);
    const round0 = (await db.db.execute(sql`SELECT id FROM flywheel.rounds WHERE run_id = ${runId} AND index = 0`)).rows[0] as { id: number };
    const [train1, train2] = await problemIds(db.db, taskSet, 'train');
    const [test1] = await problemIds(db.db, taskSet, 'test');
    const at = (problemId: number, strategy: string, purpose = 'train', roundId = Number(round0.id)) => ({ roundId, problemId, purpose, strategy, source: strategy });

    const mcts = [
      step('', 'a', 4, 1),
      step('a\n', 'a1', 2, 0),
      step('a\n', 'a2', 2, 1),
      step('a\na2\n', 'Answer: 42', 1, 1, true),
      step('', 'b', 3, 3),
      step('b\n', 'b1', 0, 0), // never rolled through: no label, so nothing under it is a complete path
      step('b\nb1\n', 'Answer: 7', 1, 0, false),
      step('c\n', 'c1', 2, 2), // its first step was never stored
    ];
    expect(await insertSearchSteps(db.db, at(train1!, 'mcts'), mcts)).toBe(mcts.length);
    // A retried shard writes nothing twice.
    expect(await insertSearchSteps(db.db, at(train1!, 'mcts'), mcts)).toBe(0);
    // The same step seen by another search of the round: its counts are summed (1 + 0 of 4 + 4 rollouts).
    await insertSearchSteps(db.db, at(train1!, 'beam'), [step('', 'a', 4, 0)]);
    // Eval searches and later rounds are outside round 1's PRM dataset.
    await insertSearchSteps(db.db, at(test1!, 'mcts', 'eval'), [step('', 'x', 2, 2), step('x\n', 'Answer: 9', 1, 0, false)]);
    await insertSearchSteps(db.db, at(train2!, 'mcts', 'train', round1.id), [step('', 'later', 2, 2), step('', 'later-bad', 2, 0)]);
    expect(await count('search_steps')).toBe(mcts.length + 1 + 2 + 2);

    const built = await buildPrmDataset(db.db, round1.id);
    // Complete and labelled: a (1/8: bad), a1 (bad), a2 (1/2: good), Answer: 42 (good), b (good). Balanced: 2 + 2.
    expect(built).toMatchObject({ examples: 4, positives: 2, negatives: 2 });
    const examples = await collect(streamPrmExamples(db.db, built.datasetId, 3)); // pages of 3
    expect(examples).toHaveLength(4);
    const labelOf: Record<string, boolean> = { a: false, a1: false, a2: true, 'Answer: 42': true, b: true };
    const softOf: Record<string, number> = { a: 1 / 8, a1: 0, a2: 0.5, 'Answer: 42': 1, b: 1 };
    const paths: Record<string, string[]> = { a: ['a'], a1: ['a', 'a1'], a2: ['a', 'a2'], 'Answer: 42': ['a', 'a2', 'Answer: 42'], b: ['b'] };
    for (const ex of examples) {
      expect(ex.problemId).toBe(train1);
      expect(ex.round).toBe(0);
      expect(ex.prompt.length).toBeGreaterThan(0);
      const last = ex.completions.at(-1)!;
      expect(ex.completions).toEqual(paths[last]);
      expect(ex.labels).toEqual(ex.completions.map((c) => labelOf[c]));
      expect(ex.softLabels).toEqual(ex.completions.map((c) => softOf[c]));
    }
    // Both negatives kept (the minority), two of the three positives.
    expect(examples.filter((x) => !x.labels.at(-1)).map((x) => x.completions.at(-1)).sort()).toEqual(['a', 'a1']);
    expect(examples.filter((x) => x.labels.at(-1))).toHaveLength(2);

    // Recorded as the round's 'prm' dataset beside the policy's, its items naming the step labels.
    const row = await getDataset(db.db, runId, 1, 'prm');
    expect(row).toMatchObject({ id: built.datasetId, kind: 'prm', items: 4, problems: 1 });
    expect(await count('prm_dataset_items', sql`dataset_id = ${built.datasetId} AND example`)).toBe(4);

    // Rebuilt (a retried filter activity): the same dataset, the same examples.
    const again = await buildPrmDataset(db.db, round1.id);
    expect(again).toEqual(built);
    expect(await collect(streamPrmExamples(db.db, built.datasetId))).toEqual(examples);

    // Held-out step labels come from eval searches only, with whole labelled paths.
    const heldOut = await heldOutStepLabels(db.db, runId);
    expect(heldOut.map((x) => x.completions).sort()).toEqual([['x'], ['x', 'Answer: 9']]);
    expect(heldOut.find((x) => x.completions.length === 2)).toMatchObject({ labels: [true, false], softLabels: [1, 0], problemId: test1 });
    expect(await heldOutStepLabels(db.db, runId, 1)).toHaveLength(1);
    expect(await heldOutStepLabels(db.db, runId, 10, 0)).toHaveLength(2);
    expect(await heldOutStepLabels(db.db, runId, 10, 1)).toEqual([]);

    // People's view, and lineage of a PRM trained on it; round_metrics still has one row per round.
    const view = (await db.db.execute(sql`SELECT step, soft_label, label FROM flywheel.step_labels WHERE run_id = ${runId} AND step = 'a2'`)).rows;
    expect(view).toEqual([{ step: 'a2', soft_label: 0.5, label: true }]);
    await db.db.execute(sql`
      INSERT INTO flywheel.models (run_id, round, name, provider, base_url, dataset_id, kind)
      VALUES (${runId}, 1, ${`${runId}-prm-1`}, 'openai', 'http://model.invalid/v1', ${built.datasetId}, 'prm')`);
    const lineage = (await db.db.execute(sql`SELECT step_labels_by_round FROM flywheel.model_lineage WHERE model = ${`${runId}-prm-1`} AND depth = 0`)).rows;
    expect(lineage).toEqual([{ step_labels_by_round: { '0': 5 + 2 } }]); // every labelled item of round 0, complete or not
    expect(await count('round_metrics', sql`run_id = ${runId}`)).toBe(2);
  });

  it('stores an MCTS search’s steps in the transaction of its traces and result, once', async () => {
    const { runId, taskSet } = await storeRun(db.db);
    const round = await storeRounds(db.db, runId, 0);
    const [problemId] = await problemIds(db.db, taskSet, 'train');
    const outcome = await mctsSearch({ prompt: 'Find 42.', reference: '42' }, { verifier: answerVerifier, verifyDuringSearch: true, model: createFakeModel(TRAP), budget: 8, seed: 1 });
    expect(outcome.steps!.length).toBeGreaterThan(3);
    const at = { roundId: round.id, problemId: problemId!, purpose: 'train', strategy: 'mcts' };
    const store = () =>
      storeSearchOutcome(
        db.db,
        answerVerifier,
        outcome.traces.map((t, sampleIndex) => ({ trace: { ...at, sampleIndex, model: 'm', text: t.text, score: t.score }, verdict: t.verdict! })),
        0,
        { ...at, answer: outcome.answer, votes: 0, calls: outcome.calls, tokens: outcome.tokens },
        outcome.steps,
      );
    await store();
    await store();
    expect(await count('search_steps', sql`round_id = ${round.id}`)).toBe(outcome.steps!.length);
    const rows = (await db.db.execute(sql`
      SELECT step, depth, visits, rollouts, verified_rollouts, value, final_verdict FROM flywheel.search_steps
      WHERE round_id = ${round.id} AND step = 'Answer: 42'`)).rows;
    expect(rows).toEqual([{ step: 'Answer: 42', depth: 3, visits: 1, rollouts: 1, verified_rollouts: 1, value: 1, final_verdict: true }]);
  });
});

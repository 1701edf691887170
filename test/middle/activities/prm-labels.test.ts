/**
 * Step labels end to end through the activities: searchShard (MCTS on the embedded model, over HTTP) stores what it
 * learnt about each step with the problem's search, once; the next round's filterRound builds the PRM dataset.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities/index.js';
import { streamPrmExamples, type PrmExample } from '../../../db/prm-dataset.js';
import { testDatabase, testModelServer, type TestDatabase } from '../../helpers/services.js';
import { activityEnvironment, fakeDeps, storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
let model: Awaited<ReturnType<typeof testModelServer>>;
beforeAll(async () => {
  [db, model] = await Promise.all([testDatabase(), testModelServer()]);
});
afterAll(async () => {
  await model?.close();
  await db?.drop();
});

const deps = () => fakeDeps(db.db, { modelEndpoint: () => ({ baseUrl: model.url, apiKey: undefined, timeoutMs: 10_000, maxRetries: 0 }) });
const rows = async <T>(query: ReturnType<typeof sql>) => (await db.db.execute(query)).rows as T[];

describe('step labels through the search and filter stages', () => {
  it('searchShard stores each problem’s step labels once; filterRound builds a balanced PRM dataset of train problems', async () => {
    const { runId } = await storeRun(db.db, {
      task: { kind: 'countdown', seed: 11, train: 4, test: 2 },
      search: { step: { strategy: 'mcts', budget: 24, train: 'all', eval: true } },
    });
    const round0 = await storeRounds(db.db, runId, 0);
    const activities = createActivities(deps());
    const shard = (purpose: 'train' | 'eval') => ({ roundId: round0.id, purpose, shard: 0, shards: 1 });
    expect(await activityEnvironment().run(activities.searchShard, shard('train'))).toEqual({ written: 4, skipped: 0, errors: 0 });
    expect(await activityEnvironment().run(activities.searchShard, shard('eval'))).toEqual({ written: 2, skipped: 0, errors: 0 });
    const stored = await rows<{ purpose: string; problems: number; steps: number; labelled: number }>(sql`
      SELECT purpose, count(DISTINCT problem_id)::int AS problems, count(*)::int AS steps,
             count(*) FILTER (WHERE verified_rollouts IS NOT NULL)::int AS labelled
      FROM flywheel.search_steps WHERE round_id = ${round0.id} GROUP BY purpose ORDER BY purpose`);
    expect(stored.map((r) => [r.purpose, r.problems])).toEqual([['eval', 2], ['train', 4]]);
    for (const r of stored) expect(r.labelled).toBe(r.steps); // countdown is verified during search, held-out too

    // A retried shard skips its problems and writes no step twice.
    const before = stored.reduce((a, r) => a + r.steps, 0);
    expect(await activityEnvironment().run(activities.searchShard, shard('train'))).toEqual({ written: 0, skipped: 4, errors: 0 });
    const [after] = await rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM flywheel.search_steps WHERE round_id = ${round0.id}`);
    expect(after!.n).toBe(before);

    const round1 = await storeRounds(db.db, runId, 1);
    const filtered = await activityEnvironment().run(activities.filterRound, { roundId: round1.id });
    const { prm } = filtered as typeof filtered & { prm: { datasetId: number; examples: number; positives: number; negatives: number } };
    expect(prm.positives).toBeGreaterThan(0); // MCTS solves some of them: both classes are there
    expect(prm.positives).toBe(prm.negatives);
    expect(prm.examples).toBe(prm.positives + prm.negatives);
    const [items] = await rows<{ items: number; eval: number }>(sql`
      SELECT count(*)::int AS items, count(*) FILTER (WHERE p.split <> 'train')::int AS eval
      FROM flywheel.prm_dataset_items i JOIN flywheel.problems p ON p.id = i.problem_id WHERE i.dataset_id = ${prm.datasetId}`);
    expect(items!.items).toBeGreaterThan(0);
    expect(items!.eval).toBe(0);
    const examples: PrmExample[] = [];
    for await (const x of streamPrmExamples(db.db, prm.datasetId)) examples.push(x);
    expect(examples).toHaveLength(prm.examples);
    for (const x of examples) {
      expect(x.labels).toHaveLength(x.completions.length);
      expect(x.softLabels).toHaveLength(x.completions.length);
      expect(x.round).toBe(0);
    }
    const [stats] = await rows<{ prm: unknown }>(sql`SELECT stats -> 'prmDataset' AS prm FROM flywheel.rounds WHERE id = ${round1.id}`);
    expect(stats!.prm).toEqual(prm);
  });

  it('labels.rollouts: Math-Shepherd labels of sampled traces in the search shard, counted as compute, once', async () => {
    const { runId } = await storeRun(db.db, {
      task: { kind: 'countdown', seed: 12, train: 3, test: 1 },
      generate: { samplesPerProblem: 2 },
      labels: { rollouts: 2, tracesPerProblem: 2, budget: 12 },
    });
    const round0 = await storeRounds(db.db, runId, 0);
    const activities = createActivities(deps());
    const shard = { roundId: round0.id, purpose: 'train' as const, shard: 0, shards: 1 };
    expect(await activityEnvironment().run(activities.generateShard, shard)).toMatchObject({ written: 6 });
    expect(await activityEnvironment().run(activities.searchShard, shard)).toEqual({ written: 3, skipped: 0, errors: 0 });
    const results = await rows<{ strategy: string; calls: number; tokens: number; trace_id: string | null }>(sql`
      SELECT strategy, calls, tokens, trace_id FROM flywheel.search_results WHERE round_id = ${round0.id}`);
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r).toMatchObject({ strategy: 'labels', trace_id: null });
      expect(r.calls).toBeGreaterThan(0);
      expect(r.calls).toBeLessThanOrEqual(12);
      expect(r.calls % 2).toBe(0);
    }
    const [steps] = await rows<{ n: number; rolled: number; sources: string[] }>(sql`
      SELECT count(*)::int AS n, coalesce(sum(rollouts), 0)::int AS rolled, array_agg(DISTINCT source) AS sources
      FROM flywheel.search_steps WHERE round_id = ${round0.id}`);
    expect(steps!.sources).toEqual(['rollouts']);
    expect(steps!.rolled).toBe(results.reduce((a, r) => a + r.calls, 0)); // every call is a rollout of a step
    const [cost] = await rows<{ samples: number }>(sql`
      SELECT samples::int AS samples FROM flywheel.round_costs WHERE run_id = ${runId} AND stage = 'search'`);
    expect(cost!.samples).toBe(steps!.rolled);
    expect(await activityEnvironment().run(activities.searchShard, shard)).toEqual({ written: 0, skipped: 3, errors: 0 });
    const [again] = await rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM flywheel.search_steps WHERE round_id = ${round0.id}`);
    expect(again!.n).toBe(steps!.n);
  });
});

/**
 * The two-learner loop under a SIGKILL of the worker in the middle of labelling (round 0's MCTS search shards, each
 * storing its step labels with its result in one transaction): a new worker finishes the run, and the counts are
 * exact: one search result and one set of step labels per problem searched, one policy and one PRM job per
 * training round (in `fine_tunes` and on the model server), one PRM model per training round, and round 1's
 * search asked that PRM.
 */
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../helpers/processes.js';
import { useWorkerHarness, type HarnessServices } from '../helpers/worker-harness.js';
import { resultWithin, roundStage, rowsOf, servedJobs } from './durability-invariants.js';

const TRAIN = 24;
const TEST = 8;
const COMPLETIONS = /\/v1\/completions/;

const configText = (name: string) => `
name: ${name}
rounds: 1
task: {kind: countdown, seed: 7, train: ${TRAIN}, test: ${TEST}}
generate: {samplesPerProblem: 4, shardSamples: 16, concurrency: 2, maxShardsInFlight: 2}
search:
  step: {strategy: mcts, budget: 8, trainBudget: 8, train: all, eval: true, value: prm, concurrency: 1}
evaluate: {samples: 2, k: [1, 2]}
filter: {correctOnly: false, minScore: 0}
finetune: {hyperparameters: {nEpochs: 4}, pollIntervalMs: 200, prm: {enabled: true, hyperparameters: {nEpochs: 6}}}
model: {timeoutMs: 20000}
durability: {activityAttempts: 10, retryInitialIntervalMs: 200, retryMaxIntervalMs: 1000, heartbeatTimeoutSeconds: 3}
`;

let db: HarnessServices['db'];
let model: HarnessServices['model'];
let proxy: HarnessServices['proxy'];
const harness = useWorkerHarness('kill-prm', configText, (s) => ({ db, model, proxy } = s));

async function searched(runId: string, round: number, purpose: string): Promise<number> {
  const [row] = await rowsOf<{ n: number }>(db.db, sql`
    SELECT count(*)::int AS n FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id
    WHERE r.run_id = ${runId} AND r.index = ${round} AND s.purpose = ${purpose} AND s.strategy = 'mcts'`);
  return row!.n;
}

describe('a worker killed with SIGKILL in the middle of labelling', () => {
  it('a new worker finishes the run with exact step labels, jobs and PRM models', async () => {
    proxy.setLatency(150, COMPLETIONS);
    const { runId, result } = await harness.startRun('kill-labelling');
    await waitFor(
      'round 0 in the middle of its train search',
      async () => {
        const n = await searched(runId, 0, 'train');
        return (await roundStage(db.db, runId, 0)) === 'search' && n > 0 && n < TRAIN && proxy.inFlight(COMPLETIONS) > 0 ? n : undefined;
      },
      { intervalMs: 25, timeoutMs: 180_000 },
    );
    await harness.killWorker();
    proxy.setLatency(0);
    await sleep(500);
    const cut = await searched(runId, 0, 'train');
    expect(cut).toBeLessThan(TRAIN);

    await harness.replaceWorker();
    expect((await resultWithin(result, db.db, runId, 240_000)).state).toBe('completed');

    // One result per problem and purpose, and each search's step labels landed exactly with it.
    for (const round of [0, 1]) {
      expect(await searched(runId, round, 'train')).toBe(TRAIN);
      expect(await searched(runId, round, 'eval')).toBe(TEST);
    }
    const [labels] = await rowsOf<{ results: number; with_steps: number; orphan_steps: number }>(db.db, sql`
      SELECT (SELECT count(*) FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} AND s.strategy = 'mcts')::int AS results,
             (SELECT count(*) FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} AND s.strategy = 'mcts'
                AND EXISTS (SELECT 1 FROM flywheel.search_steps t WHERE t.round_id = s.round_id AND t.problem_id = s.problem_id AND t.purpose = s.purpose AND t.strategy = s.strategy))::int AS with_steps,
             (SELECT count(*) FROM flywheel.search_steps t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId}
                AND NOT EXISTS (SELECT 1 FROM flywheel.search_results s WHERE t.round_id = s.round_id AND t.problem_id = s.problem_id AND t.purpose = s.purpose AND t.strategy = s.strategy))::int AS orphan_steps`);
    expect(labels!.with_steps).toBe(labels!.results);
    expect(labels!.orphan_steps).toBe(0);

    const jobs = await rowsOf<{ round: number; learner: string; status: string }>(db.db, sql`
      SELECT round, learner, status FROM flywheel.fine_tunes WHERE run_id = ${runId} ORDER BY round, learner`);
    expect(jobs).toEqual([
      { round: 1, learner: 'policy', status: 'succeeded' },
      { round: 1, learner: 'prm', status: 'succeeded' },
    ]);
    const served = await servedJobs(model.url, runId);
    expect(served.map((j) => j.metadata?.flywheel_learner ?? 'policy').sort()).toEqual(['policy', 'prm']);
    const [prms] = await rowsOf<{ n: number }>(db.db, sql`SELECT count(*)::int AS n FROM flywheel.models WHERE run_id = ${runId} AND learner = 'prm'`);
    expect(prms!.n).toBe(1);
    // Round 1's search valued its leaves with that PRM.
    const [asked] = await rowsOf<{ n: number }>(db.db, sql`
      SELECT sum(s.scorer_calls)::int AS n FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} AND r.index = 1`);
    expect(asked!.n).toBeGreaterThan(0);
  });
});

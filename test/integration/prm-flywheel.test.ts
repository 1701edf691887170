/**
 * The two-learner loop through real Temporal, Postgres and the embedded model: round 0's MCTS stores step labels,
 * round 1's fine-tune stage trains a PRM on them after the policy (a `method: prm` job), records and gates it, and
 * round 1's and 2's searches value leaves with the run's current PRM, asking the embedded server's /v1/reward: as
 * many requests as `search_results.scorer_calls` says. The SIGKILL-mid-labelling variant is durability-prm.test.ts;
 * both learners as Slurm jobs, cluster-round.test.ts.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../config/load.js';
import type { TestDatabase } from '../helpers/services.js';
import { completedRun, type CompletedRun } from '../helpers/flywheel-run.js';
import { expectPrmRequests } from './durability-invariants.js';

const config = parseRunConfig(`
name: prm-flywheel
rounds: 2
task: {kind: countdown, seed: 13, train: 30, test: 12}
generate: {samplesPerProblem: 4, shardSamples: 64}
search:
  step: {strategy: mcts, budget: 12, trainBudget: 8, train: all, eval: true, value: mix}
finetune: {hyperparameters: {nEpochs: 6}, pollIntervalMs: 200, prm: {enabled: true, hyperparameters: {nEpochs: 8}}}
evaluate: {samples: 2, k: [1, 2]}
`);

let run: CompletedRun;
let db: TestDatabase;
let runId: string;
const rewardRequests: string[] = [];

beforeAll(async () => {
  run = await completedRun(config, 'prm', { modelLog: (line) => void (/^POST \/v1\/reward 200/.test(line) && rewardRequests.push(line)) });
  ({ db, runId } = run);
}, 300_000);

afterAll(() => run?.close());

const rows = async <T>(query: ReturnType<typeof sql>) => (await db.db.execute(query)).rows as T[];

describe('the PRM learns and the search uses it', () => {
  it('round 0 stores step labels; rounds 1 and 2 each train, record and gate a PRM', async () => {
    const [labels] = await rows<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM flywheel.search_steps s JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} AND r.index = 0`);
    expect(labels!.n).toBeGreaterThan(20);
    const prms = await rows<{ round: number; parent_name: string; dataset_id: number | null; promoted: boolean }>(sql`
      SELECT round, parent_name, dataset_id::int AS dataset_id, promoted FROM flywheel.models WHERE run_id = ${runId} AND learner = 'prm' ORDER BY round`);
    expect(prms.map((m) => m.round)).toEqual([1, 2]);
    expect(prms[0]!.promoted).toBe(true);
    expect(prms.every((m) => m.dataset_id !== null)).toBe(true);
    const jobs = await rows<{ round: number; learner: string; status: string }>(sql`
      SELECT round, learner, status FROM flywheel.fine_tunes WHERE run_id = ${runId} ORDER BY round, learner`);
    expect(jobs).toEqual([
      { round: 1, learner: 'policy', status: 'succeeded' },
      { round: 1, learner: 'prm', status: 'succeeded' },
      { round: 2, learner: 'policy', status: 'succeeded' },
      { round: 2, learner: 'prm', status: 'succeeded' },
    ]);
    // model_lineage shows both learners of each training round and the step labels that trained the PRM.
    const lineage = await rows<{ model: string; learner: string; step_labels_by_round: Record<string, number> | null }>(sql`
      SELECT model, learner, step_labels_by_round FROM flywheel.model_lineage WHERE run_id = ${runId} AND depth = 0 AND model <> 'countdown-mlp'`);
    expect(lineage.filter((l) => l.learner === 'prm')).toHaveLength(2);
    expect(lineage.filter((l) => l.learner === 'policy').length).toBeGreaterThanOrEqual(2);
    // Each round's PRM learnt from the step labels of every round before it (finetune.prm.window: all).
    const sources = lineage.filter((x) => x.learner === 'prm').map((l) => Object.keys(l.step_labels_by_round ?? {}).sort());
    expect(sources.sort((a, b) => a.length - b.length)).toEqual([['0'], ['0', '1']]);
    const stats = await rows<{ index: number; prm: { heldOut: { auc: number | null; steps: number }; promoted: boolean } }>(sql`
      SELECT index, stats->'prm' AS prm FROM flywheel.rounds WHERE run_id = ${runId} AND index > 0 ORDER BY index`);
    for (const s of stats) expect(s.prm.heldOut.steps).toBeGreaterThan(0);
  });

  it('round 0 searches without a PRM; later rounds ask the current one, every request counted', async () => {
    // Every PRM request the server answered: the searches' plus the gates' held-out measurements.
    expect(rewardRequests.length).toBe(await expectPrmRequests(db.db, runId));
  });
});

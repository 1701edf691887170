/**
 * Search inside the flywheel: MCTS on the train problems sampling missed (its verified traces join the training
 * set), MCTS accuracy on held-out problems beside the raw model's, and difficulty-adaptive budgets per problem,
 * through real Temporal, Postgres and the embedded model.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../config/load.js';
import { roundReports } from '../../db/report.js';
import type { TestDatabase } from '../helpers/services.js';
import { completedRun, type CompletedRun } from '../helpers/flywheel-run.js';

const TRAIN = 40;
const TEST = 20;
const SAMPLES = 8;
/**
 * Round 0's MCTS on the base model (uniform priors, greedy rollouts) searches alike whatever its seed, so the train
 * problems it solves within the budget are fixed: 10 of these 40 at 40 calls (3 at 8). Sampling (seeded from the run
 * id) solves each of them first with p ≈ 0.05–0.3, leaving search nothing to find with p < 1e-7 (~1.5% at 8 calls).
 */
const TRAIN_BUDGET = 40;
/** Above the train budget, so that `max_calls` shows train searches keep to theirs. */
const BUDGET = 48;

const config = parseRunConfig(`
name: search-flywheel
rounds: 2
task: {kind: countdown, seed: 13, train: ${TRAIN}, test: ${TEST}}
generate: {samplesPerProblem: ${SAMPLES}, shardSamples: 64}
search:
  step: {strategy: mcts, budget: ${BUDGET}, trainBudget: ${TRAIN_BUDGET}, train: unsolved, eval: true}
adaptive: {enabled: true, minSamples: 2, maxSamples: 16}
rationalize: {enabled: true, samples: 2}
finetune: {hyperparameters: {nEpochs: 10}, pollIntervalMs: 200}
evaluate: {samples: 2, k: [1, 2]}
`);

let run: CompletedRun;
let db: TestDatabase;
let runId: string;

beforeAll(async () => {
  run = await completedRun(config, 'search');
  ({ db, runId } = run);
});

afterAll(() => run?.close());

const rows = async <T>(query: ReturnType<typeof sql>) => (await db.db.execute(query)).rows as T[];

describe('search in the flywheel', () => {
  it('searches every held-out problem within budget and reports accuracy with search beside the raw model', async () => {
    const report = await roundReports(db.db, runId);
    for (const r of report) {
      expect(r.search).toMatchObject({ strategy: 'mcts', budget: BUDGET });
      expect(r.search!.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.search!.meanCalls!).toBeLessThanOrEqual(BUDGET);
    }
    // The trained model with search beats the trained model without.
    expect(report[1]!.search!.accuracy).toBeGreaterThan(report[1]!.greedyPassAt1!);
    const evalSearch = await rows<{ index: number; n: number; max_calls: number; chosen: number; verified: number }>(sql`
      SELECT r.index, count(*)::int AS n, max(s.calls)::int AS max_calls, count(s.trace_id)::int AS chosen,
             count(v.id)::int AS verified
      FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id
      LEFT JOIN flywheel.verdicts v ON v.trace_id = s.trace_id
      WHERE r.run_id = ${runId} AND s.purpose = 'eval' GROUP BY r.index ORDER BY r.index`);
    expect(evalSearch.map((e) => e.n)).toEqual([TEST, TEST, TEST]);
    for (const e of evalSearch) {
      expect(e.max_calls).toBeLessThanOrEqual(BUDGET);
      expect(e.verified).toBe(e.chosen);
    }
  });

  it('searches only the train problems sampling missed in round 0, within the train budget, and trains on what it found', async () => {
    const [r0] = await rows<{ unsolved: number; searched: number; max_calls: number }>(sql`
      WITH solved AS (
        SELECT DISTINCT t.problem_id FROM flywheel.traces t JOIN flywheel.verdicts v ON v.trace_id = t.id
        JOIN flywheel.rounds r ON r.id = t.round_id
        WHERE r.run_id = ${runId} AND r.index = 0 AND t.purpose = 'train' AND t.strategy = 'sample' AND v.correct)
      SELECT (SELECT ${TRAIN} - count(*) FROM solved)::int AS unsolved,
             (SELECT count(*) FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id
               WHERE r.run_id = ${runId} AND r.index = 0 AND s.purpose = 'train' AND s.strategy = 'mcts')::int AS searched,
             (SELECT max(s.calls) FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id
               WHERE r.run_id = ${runId} AND r.index = 0 AND s.purpose = 'train' AND s.strategy = 'mcts')::int AS max_calls`);
    expect(r0!.searched).toBe(r0!.unsolved);
    expect(r0!.max_calls).toBeLessThanOrEqual(TRAIN_BUDGET);
    const [trained] = await rows<{ from_search: number; unverified: number }>(sql`
      SELECT count(*) FILTER (WHERE t.strategy = 'mcts')::int AS from_search,
             count(*) FILTER (WHERE v.id IS NULL)::int AS unverified
      FROM flywheel.dataset_items di JOIN flywheel.datasets d ON d.id = di.dataset_id
      JOIN flywheel.traces t ON t.id = di.trace_id LEFT JOIN flywheel.verdicts v ON v.trace_id = t.id
      WHERE d.run_id = ${runId} AND d.round = 1`);
    expect(trained!.unverified).toBe(0);
    expect(trained!.from_search).toBeGreaterThan(0);
  });

  it('rationalizes (STaR) only what sampling and search both missed, verified, and trains on it without the hint', async () => {
    const [r0] = await rows<{ rationalized_problems: number; wrongly_rationalized: number; unverified: number; correct: number }>(sql`
      WITH round0 AS (SELECT id FROM flywheel.rounds WHERE run_id = ${runId} AND index = 0),
      solved AS (
        SELECT DISTINCT t.problem_id FROM flywheel.traces t JOIN flywheel.verdicts v ON v.trace_id = t.id
        WHERE t.round_id = (SELECT id FROM round0) AND t.purpose = 'train' AND t.strategy <> 'rationalize' AND v.correct),
      rat AS (SELECT t.*, v.id AS verdict_id, v.correct FROM flywheel.traces t LEFT JOIN flywheel.verdicts v ON v.trace_id = t.id
              WHERE t.round_id = (SELECT id FROM round0) AND t.strategy = 'rationalize')
      SELECT (SELECT count(DISTINCT problem_id) FROM rat)::int AS rationalized_problems,
             (SELECT count(*) FROM rat WHERE problem_id IN (SELECT problem_id FROM solved))::int AS wrongly_rationalized,
             (SELECT count(*) FROM rat WHERE verdict_id IS NULL)::int AS unverified,
             (SELECT count(*) FROM rat WHERE correct)::int AS correct`);
    expect(r0!.wrongly_rationalized).toBe(0);
    expect(r0!.unverified).toBe(0);
    expect(r0!.rationalized_problems).toBeGreaterThan(0);
    expect(r0!.correct).toBeGreaterThan(0);
    const examples = await rows<{ prompt: string; completion: string; rationalized: boolean }>(sql`
      SELECT prompt, completion, rationalized FROM flywheel.training_examples
      WHERE run_id = ${runId} AND trained_in_round = 1 AND strategy = 'rationalize'`);
    expect(examples.length).toBeGreaterThan(0);
    for (const e of examples) {
      expect(e.rationalized).toBe(true);
      expect(e.prompt).not.toMatch(/Hint:/);
      expect(e.completion).not.toMatch(/Hint:/);
    }
  });

  it('plans round 2 per problem from its history, and samples exactly the plan', async () => {
    const budgets = await rows<{ bin: string; samples: number; strategy: string; search_budget: number }>(sql`
      SELECT b.bin, b.samples, b.strategy, b.search_budget FROM flywheel.problem_budgets b
      JOIN flywheel.rounds r ON r.id = b.round_id WHERE r.run_id = ${runId} AND r.index = 2`);
    expect(budgets).toHaveLength(TRAIN);
    const bins = new Set(budgets.map((b) => b.bin));
    expect(bins.size).toBeGreaterThan(1);
    // Same total compute as the uniform plan (problems × samples), spent unevenly.
    const total = budgets.reduce((s, b) => s + b.samples + b.search_budget, 0);
    expect(total).toBeLessThanOrEqual(TRAIN * SAMPLES);
    expect(new Set(budgets.map((b) => b.samples + b.search_budget)).size).toBeGreaterThan(1);
    const planned = budgets.reduce((s, b) => s + b.samples, 0);
    const r2 = (await roundReports(db.db, runId))[2]!;
    expect(r2.planned).toBe(planned);
    expect(r2.traces).toBe(planned);
    const perProblem = await rows<{ ok: boolean }>(sql`
      SELECT bool_and(n = b.samples) AS ok FROM flywheel.problem_budgets b
      JOIN flywheel.rounds r ON r.id = b.round_id
      JOIN LATERAL (SELECT count(*)::int AS n FROM flywheel.traces t
                    WHERE t.round_id = b.round_id AND t.problem_id = b.problem_id AND t.strategy = 'sample') c ON true
      WHERE r.run_id = ${runId} AND r.index = 2`);
    expect(perProblem[0]!.ok).toBe(true);
  });
});

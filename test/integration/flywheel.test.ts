/**
 * A 2-round flywheel through a real Temporal dev server, real Postgres and the embedded model over HTTP, then the
 * rows it left in Postgres, checked one table at a time.
 */
import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../config/load.js';
import { roundReports } from '../../db/report.js';
import { SEARCH_ATTRIBUTES, workflowIds } from '../../workflows/shared.js';
import type { TestDatabase } from '../helpers/services.js';
import { completedRun, type CompletedRun } from '../helpers/flywheel-run.js';

const TRAIN = 60;
const TEST = 30;
const SAMPLES = 8;
const EVAL_SAMPLES = 4;

const config = parseRunConfig(`
name: integration
rounds: 2
task: {kind: countdown, seed: 11, train: ${TRAIN}, test: ${TEST}}
generate: {samplesPerProblem: ${SAMPLES}, shardSamples: 128, concurrency: 4}
filter: {maxPerProblem: 4}
finetune: {hyperparameters: {nEpochs: 10}, pollIntervalMs: 200}
evaluate: {samples: ${EVAL_SAMPLES}, k: [1, 4]}
`);

let run: CompletedRun;
let db: TestDatabase;
let model: CompletedRun['model'];
let client: Client;
let runId: string;

beforeAll(async () => {
  run = await completedRun(config, 'integration');
  ({ db, model, client, runId } = run);
});

afterAll(() => run?.close());

const rows = async <T = Record<string, unknown>>(query: ReturnType<typeof sql>) => (await db.db.execute(query)).rows as T[];

describe('a 2-round flywheel', () => {
  it('completes the run and every round', async () => {
    const [run] = await rows<{ status: string; current_model: string }>(sql`SELECT status, current_model FROM flywheel.runs WHERE id = ${runId}`);
    expect(run!.status).toBe('completed');
    const rounds = await rows<{ index: number; status: string; stage: string }>(
      sql`SELECT index, status, stage FROM flywheel.rounds WHERE run_id = ${runId} ORDER BY index`,
    );
    expect(rounds).toEqual([0, 1, 2].map((index) => ({ index, status: 'completed', stage: 'done' })));
    const stages = await rows<{ index: number; stages: string[] }>(sql`
      SELECT r.index, array_agg(s.stage ORDER BY s.started_at) AS stages FROM flywheel.round_stages s
      JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} AND s.status = 'done' GROUP BY r.index ORDER BY r.index`);
    expect(stages[0]!.stages.sort()).toEqual(['evaluate', 'generate', 'search', 'verify']);
    expect(stages[1]!.stages.sort()).toEqual(['evaluate', 'filter', 'fine-tune', 'generate', 'promote', 'search', 'verify']);
  });

  it('stores exactly problems × samples traces per round, each verified once', async () => {
    const counts = await rows<{ index: number; purpose: string; strategy: string; n: number; distinct_keys: number; verified: number }>(sql`
      SELECT r.index, t.purpose, t.strategy, count(*)::int AS n,
             count(DISTINCT (t.problem_id, t.sample_index))::int AS distinct_keys,
             count(v.id)::int AS verified
      FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id
      LEFT JOIN flywheel.verdicts v ON v.trace_id = t.id
      WHERE r.run_id = ${runId} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
    for (const index of [0, 1, 2]) {
      const of = (purpose: string, strategy: string) => counts.find((c) => c.index === index && c.purpose === purpose && c.strategy === strategy);
      expect(of('train', 'sample')).toEqual({ index, purpose: 'train', strategy: 'sample', n: TRAIN * SAMPLES, distinct_keys: TRAIN * SAMPLES, verified: TRAIN * SAMPLES });
      expect(of('eval', 'greedy')?.n).toBe(TEST);
      expect(of('eval', 'sample')?.n).toBe(TEST * EVAL_SAMPLES);
      expect(of('eval', 'sample')?.verified).toBe(TEST * EVAL_SAMPLES);
    }
    const [versions] = await rows<{ verifier: string; version: string }>(sql`SELECT DISTINCT verifier, verifier_version AS version FROM flywheel.verdicts`);
    expect(versions).toEqual({ verifier: 'countdown', version: expect.any(String) });
  });

  it('trains each round on verified train traces only, never on held-out problems', async () => {
    const datasets = await rows<{ round: number; items: number; problems: number }>(
      sql`SELECT round, items, problems FROM flywheel.datasets WHERE run_id = ${runId} AND kind = 'policy' ORDER BY round`,
    );
    expect(datasets.map((d) => d.round)).toEqual([1, 2]);
    for (const d of datasets) {
      expect(d.items).toBeGreaterThan(0);
      expect(d.items).toBeLessThanOrEqual(d.problems * 4);
    }
    const [leaks] = await rows<{ held_out: number; wrong: number; foreign_round: number }>(sql`
      SELECT count(*) FILTER (WHERE p.split <> 'train')::int AS held_out,
             count(*) FILTER (WHERE NOT v.correct)::int AS wrong,
             count(*) FILTER (WHERE sr.index <> d.round - 1)::int AS foreign_round
      FROM flywheel.dataset_items di JOIN flywheel.datasets d ON d.id = di.dataset_id
      JOIN flywheel.traces t ON t.id = di.trace_id JOIN flywheel.rounds sr ON sr.id = t.round_id
      JOIN flywheel.problems p ON p.id = t.problem_id JOIN flywheel.verdicts v ON v.trace_id = t.id
      WHERE d.run_id = ${runId}`);
    expect(leaks).toEqual({ held_out: 0, wrong: 0, foreign_round: 0 });
  });

  it('runs exactly one trainer job per round and traces each model back to its data', async () => {
    const jobs = await rows<{ round: number; status: string; external_job_id: string; base_model: string; result_model: string }>(
      sql`SELECT round, status, external_job_id, base_model, result_model FROM flywheel.fine_tunes WHERE run_id = ${runId} ORDER BY round`,
    );
    expect(jobs).toHaveLength(2);
    for (const job of jobs) {
      expect(job).toMatchObject({ status: 'succeeded', base_model: 'countdown-mlp' });
      expect(job.external_job_id).toMatch(/^ftjob-/);
    }
    const served = await fetch(`${model.url}/fine_tuning/jobs?limit=100`).then((r) => r.json() as Promise<{ data: Array<{ metadata: Record<string, string> }> }>);
    expect(served.data.filter((j) => j.metadata?.flywheel_run === runId)).toHaveLength(2);

    const lineage = await rows<{ model: string; trained_from: string; dataset_round: number; dataset_items: number }>(
      sql`SELECT model, trained_from, dataset_round, dataset_items FROM flywheel.model_lineage WHERE run_id = ${runId} AND depth = 0 AND dataset_id IS NOT NULL ORDER BY dataset_round`,
    );
    expect(lineage.map((l) => l.model)).toEqual(jobs.map((j) => j.result_model));
    expect(lineage.every((l) => l.trained_from === 'countdown-mlp' && l.dataset_items > 0)).toBe(true);
    const [examples] = await rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM flywheel.training_examples WHERE run_id = ${runId}`);
    const [items] = await rows<{ n: number }>(sql`SELECT sum(items)::int AS n FROM flywheel.datasets WHERE run_id = ${runId} AND kind = 'policy'`);
    expect(examples!.n).toBe(items!.n);
  });

  it('records held-out metrics per round and the promotion decisions', async () => {
    const report = await roundReports(db.db, runId);
    expect(report.map((r) => r.round)).toEqual([0, 1, 2]);
    for (const r of report) {
      expect(r.greedyPassAt1).toBeGreaterThanOrEqual(0);
      expect(Object.keys(r.passAtK).sort()).toEqual(['1', '4']);
      expect(r.passAtK['4']).toBeGreaterThanOrEqual(r.passAtK['1']!);
      expect(r.traces).toBe(TRAIN * SAMPLES);
    }
    expect(report[0]!.model).toBe('countdown-mlp');
    expect(report[1]!.model).toMatch(/^ft:countdown-mlp/);
    // Training on verified traces beats the untrained base on held-out problems.
    expect(report[1]!.greedyPassAt1!).toBeGreaterThan(report[0]!.greedyPassAt1!);
    const searched = await rows<{ strategy: string; n: number }>(sql`
      SELECT strategy, count(*)::int AS n FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id
      WHERE r.run_id = ${runId} GROUP BY strategy ORDER BY strategy`);
    expect(searched).toEqual([
      { strategy: 'best-of-n', n: 3 * TRAIN },
      { strategy: 'majority', n: 3 * TRAIN },
    ]);
  });

  it('is visible in Temporal with search attributes and summaries', async () => {
    const run = await client.workflow.getHandle(workflowIds.run(runId)).describe();
    expect(run.status.name).toBe('COMPLETED');
    expect(run.typedSearchAttributes.get(SEARCH_ATTRIBUTES.runId)).toBe(runId);
    expect(run.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status)).toBe('Completed');
    const round = await client.workflow.getHandle(workflowIds.round(runId, 1)).describe();
    expect(round.typedSearchAttributes.get(SEARCH_ATTRIBUTES.round)).toBe(1);
    expect(round.typedSearchAttributes.get(SEARCH_ATTRIBUTES.stage)).toBe('done');
    expect(round.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status)).toBe('Completed');
    expect(await round.staticSummary()).toMatch(/Round 1 of 2 of integration/);
  });
});

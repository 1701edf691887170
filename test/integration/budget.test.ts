/**
 * A run that hits its budget, with real Temporal, Postgres and the embedded model: round 0 evaluates, then would
 * generate past budget.maxTokens; the generate stage does not start (no round_stages row), the round shows
 * NeedsAttention with the numbers, and after raiseBudget the run completes. The view prices each round as tokens ×
 * the config's prices.
 */
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import type { RunningWorkers } from '../../cli/worker.js';
import { parseRunConfig } from '../../config/load.js';
import { stageCosts } from '../../db/costs.js';
import { getRun, runConfig } from '../../db/runs.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import { priceUsage } from '../../lib/cost/index.js';
import type { RunResult } from '../../workflows/run.js';
import { raiseBudgetUpdate, roundStatusQuery, statusQuery, workflowIds } from '../../workflows/shared.js';
import { waitFor } from '../helpers/processes.js';
import { testDatabase, testModelServer, testTemporal, testWorkers, type TestDatabase } from '../helpers/services.js';

const PRICE = { inputPerMTok: 2, outputPerMTok: 8 };
const config = parseRunConfig(`
name: budget
rounds: 0
task: {kind: countdown, seed: 5, train: 4, test: 2}
generate: {samplesPerProblem: 2, maxTokens: 64, shardSamples: 8}
evaluate: {samples: 1, k: [1]}
costs: {models: {countdown-mlp: {inputPerMTok: ${PRICE.inputPerMTok}, outputPerMTok: ${PRICE.outputPerMTok}}}}
budget: {maxTokens: 100}
`);

let db: TestDatabase;
let temporal: TemporalDevServer;
let model: Awaited<ReturnType<typeof testModelServer>>;
let workers: RunningWorkers;
let client: Client;

beforeAll(async () => {
  [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer()]);
  workers = await testWorkers({ temporal, db, modelUrl: model.url });
  client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
}, 120_000);

afterAll(async () => {
  await client?.connection.close();
  await workers?.shutdown();
  await Promise.allSettled([model?.close(), temporal?.stop()]);
  await db?.drop();
});

const rows = async <T>(query: ReturnType<typeof sql>) => (await db.db.execute(query)).rows as T[];

describe('a run with a budget', () => {
  it('waits before the stage that would pass it, with the numbers, and completes after raiseBudget', async () => {
    const runId = await createRun(db.db, { config, file: 'budget.yaml', dir: process.cwd() }, model.url);
    const handle = await startRunWorkflow(client, runId, 'budget test');
    const round = client.workflow.getHandle(workflowIds.round(runId, 0));
    const status = await waitFor('round 0 waits at its budget', async () => {
      const s = await round.query(roundStatusQuery).catch(() => null);
      return s?.needsAttention ? s : undefined;
    });
    // 8 planned samples × generate.maxTokens 64 (no generate sample yet): 512 tokens past 100.
    expect(status).toMatchObject({ stage: 'generate', failure: expect.stringMatching(/about 512 tokens after \d+ so far, past budget.maxTokens 100/) });
    await waitFor('the run shows it', async () => (await handle.query(statusQuery)).state === 'needs_attention');
    const { currentDetails } = (await round.query<{ currentDetails: string }>('__temporal_workflow_metadata')) as { currentDetails: string };
    expect(currentDetails).toMatch(/Spent so far: \$\S+, \d+ tokens/);
    expect(currentDetails).toContain('Estimate of **generate**');
    expect(currentDetails).toContain('Limit: budget.maxTokens 100');
    const begun = await rows<{ stage: string }>(sql`
      SELECT s.stage FROM flywheel.round_stages s JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} ORDER BY s.started_at`);
    expect(begun.map((b) => b.stage)).toEqual(['evaluate']);

    expect(await handle.executeUpdate(raiseBudgetUpdate, { args: [{ maxTokens: 1_000_000 }] })).toMatchObject({ round: 0, stage: 'generate', budget: { maxTokens: 1_000_000 } });
    expect(((await handle.result()) as RunResult).state).toBe('completed');
    expect(runConfig(await getRun(db.db, runId)).budget).toEqual({ maxTokens: 1_000_000 });

    const stages = await stageCosts(db.db, runId);
    expect(stages.map((s) => s.stage).sort()).toEqual(['evaluate', 'generate']);
    const tokens = await rows<{ stage: string; input: number; output: number }>(sql`
      SELECT CASE WHEN t.purpose = 'eval' THEN 'evaluate' ELSE 'generate' END AS stage,
             sum(t.prompt_tokens)::int AS input, sum(t.completion_tokens)::int AS output
      FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId} GROUP BY 1`);
    expect(tokens.map((t) => t.stage).sort()).toEqual(['evaluate', 'generate']);
    for (const t of tokens) {
      const s = stages.find((x) => x.stage === t.stage)!;
      expect(s).toMatchObject({ inputTokens: t.input, outputTokens: t.output });
      expect(s.cost).toBeCloseTo(priceUsage(PRICE, { inputTokens: t.input, outputTokens: t.output }), 12);
    }
  }, 240_000);
});

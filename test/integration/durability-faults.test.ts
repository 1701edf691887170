/**
 * A model server that misbehaves, then one that is gone:
 *
 * 1. Behind a fault proxy at 10% each of 500s, 429s with Retry-After, hung connections, truncated JSON and malformed
 *    JSON on `/chat/completions`, a run completes with exact counts, and every fault the proxy injected is a row in
 *    `flywheel.model_errors` (one per failed attempt; `final` where no retry was left).
 * 2. With the server down for good, the round waits for an operator (NeedsAttention everywhere an operator looks:
 *    the run's status query, the round's search attribute and current details, Postgres, `flywheel status`); once
 *    the server is back, `flywheel resume` completes the round and the run with exact counts.
 */
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import type { RunningWorkers } from '../../cli/worker.js';
import { parseRunConfig } from '../../config/load.js';
import { buildTaskSet } from '../../lib/tasks/index.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import type { RunResult } from '../../workflows/run.js';
import { resumeRoundUpdate, SEARCH_ATTRIBUTES, statusQuery, workflowIds } from '../../workflows/shared.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../helpers/fault-proxy.js';
import { runFlywheel, waitFor } from '../helpers/processes.js';
import { tempDir, testDatabase, testModelServer, testTemporal, testWorkers, type TestDatabase } from '../helpers/services.js';
import { expectExactRun, resultWithin, rowsOf, terminateRunning, type RunShape } from './durability-invariants.js';

const FAULTY: RunShape = { rounds: 1, train: 30, test: 10, samplesPerProblem: 4, evalSamples: 2, greedy: true, errorsAllowed: true };
const DOWN: RunShape = { rounds: 0, train: 10, test: 5, samplesPerProblem: 4, evalSamples: 2, greedy: true };
const RATE = 0.1;
const CHAT = /\/chat\/completions/;
/** How a refused connection reads in a failure message (the wording is the client's; the meaning is tested). */
const CONNECT_FAILED = /could not connect|connection error|ECONNREFUSED/i;

// Shards of 16 problems with 4 requests in flight: when a request fails for good, its shard has more to do.
const shapeConfig = (name: string, shape: RunShape, rest: string) => `
name: ${name}
rounds: ${shape.rounds}
task: {kind: countdown, seed: 5, train: ${shape.train}, test: ${shape.test}}
generate: {samplesPerProblem: ${shape.samplesPerProblem}, shardSamples: 64, concurrency: 4, maxShardsInFlight: 4}
evaluate: {samples: ${shape.evalSamples}, k: [1, 2]}
finetune: {hyperparameters: {nEpochs: 5}, pollIntervalMs: 200}
${rest}
`;

let db: TestDatabase;
let temporal: TemporalDevServer;
let model: Awaited<ReturnType<typeof testModelServer>>;
let proxy: FaultProxy;
let workers: RunningWorkers;
let client: Client;
let home: ReturnType<typeof tempDir>;
const runIds: string[] = [];

const cliEnv = () => ({
  DATABASE_URL: db.url,
  TEMPORAL_ADDRESS: temporal.address,
  TEMPORAL_NAMESPACE: temporal.namespace,
  FLYWHEEL_MODEL_URL: proxy.url,
  FLYWHEEL_HOME: home.dir,
});

async function startRun(name: string, text: string) {
  const config = parseRunConfig(text);
  const runId = await createRun(db.db, { config, file: `${name}.yaml`, dir: process.cwd() }, model.url);
  const handle = await startRunWorkflow(client, runId, `durability test: ${name}`);
  runIds.push(runId);
  const result = handle.result() as Promise<RunResult>;
  result.catch(() => {});
  return { runId, result };
}

beforeAll(async () => {
  home = tempDir('faults');
  [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer()]);
  proxy = await startFaultProxy({ target: model.url.replace(/\/v1$/, ''), only: CHAT, retryAfterSeconds: 0.2, seed: 20261127 });
  workers = await testWorkers({ temporal, db, modelUrl: proxy.url });
  client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
});

afterAll(async () => {
  if (client) await terminateRunning(client, runIds);
  await workers?.shutdown();
  await client?.connection.close();
  await proxy?.close();
  await Promise.allSettled([model?.close(), temporal?.stop()]);
  await db?.drop();
  home?.remove();
});

describe('a model server that fails', () => {
  it('at 10% each of 500, 429, hangs, truncated and malformed JSON: the run completes exactly, every fault recorded', async () => {
    proxy.setRates({ status500: RATE, status429: RATE, hang: RATE, truncated: RATE, malformed: RATE });
    // At these rates about 5 requests fail for good on bad JSON, but 0 now and then (the faults follow the order
    // requests arrive in): one train problem's requests always get malformed JSON, so at least its samples do.
    const [doomed] = buildTaskSet(parseRunConfig(shapeConfig('faults', FAULTY, '')).task, process.cwd()).problems.filter((p) => p.split === 'train');
    proxy.always({ fault: 'malformed', bodyContains: doomed!.prompt.split('.')[0]! });
    const before = { ...proxy.injected };
    const chatBefore = proxy.injectedOn(CHAT);
    const { runId, result } = await startRun(
      'faults',
      shapeConfig('faults', FAULTY, `
# Two retries per request: some requests fail for good, on bad JSON (their samples are stored as errors) and on
# the rest (their shard attempt fails and is retried).
model: {timeoutMs: 1000, maxRetries: 2}
# Every sample that verified (right or wrong) is trained on, so round 1 always has a trainer job.
filter: {correctOnly: false, minScore: 0, maxPerProblem: 2}
durability: {activityAttempts: 20, retryInitialIntervalMs: 100, retryMaxIntervalMs: 500, heartbeatTimeoutSeconds: 10}`),
    );

    // While the run works, nothing waits for an operator: resuming is refused, and says why.
    await waitFor('round 0 under way', async () => {
      const found = await rowsOf(db.db, sql`SELECT 1 FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId} LIMIT 1`);
      return found.length > 0;
    });
    const refused = await runFlywheel(['resume', runId], cliEnv());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`cannot resume run ${runId}`);
    expect(refused.stderr).toMatch(/no round of run \S+ is waiting for attention \(state: running\)/);
    const roundRefusal = await client.workflow
      .getHandle(workflowIds.round(runId, 0))
      .executeUpdate(resumeRoundUpdate, { args: [{}] })
      .then(() => null, (err: Error & { cause?: Error }) => `${err.message}: ${err.cause?.message ?? ''}`);
    expect(roundRefusal).toMatch(/round 0 is not waiting for attention/);

    expect((await resultWithin(result, db.db, runId, 150_000)).state).toBe('completed');
    proxy.setRates({});
    proxy.always(null);
    const injected = Object.fromEntries(
      (Object.keys(before) as Fault[]).map((f) => [f, proxy.injected[f] - before[f]]),
    ) as Record<Fault, number>;
    const onChat = proxy.injectedOn(CHAT) - chatBefore;

    // The faults really happened, of every kind.
    for (const fault of Object.keys(injected) as Fault[]) expect(injected[fault], fault).toBeGreaterThan(0);
    expect(onChat).toBe(Object.values(injected).reduce((a, b) => a + b, 0));

    // Each injected fault is one failed attempt in model_errors, of the matching kind.
    const errors = await rowsOf<{ kind: string; n: number; final: number }>(
      db.db,
      sql`SELECT CASE WHEN e.error ~ '^500\\M' THEN 'status500' WHEN e.error ~ '^429\\M' THEN 'status429'
                      WHEN e.error ~* 'timed out' THEN 'hang' WHEN e.error ~* '^malformed' THEN 'json'
                      ELSE e.error END AS kind,
                 count(*)::int AS n, count(*) FILTER (WHERE e.final)::int AS final
          FROM flywheel.model_errors e JOIN flywheel.rounds r ON r.id = e.round_id
          WHERE r.run_id = ${runId} GROUP BY 1 ORDER BY 1`,
    );
    const byKind = Object.fromEntries(errors.map((e) => [e.kind, e.n]));
    expect(byKind).toEqual({
      status500: injected.status500,
      status429: injected.status429,
      hang: injected.hang,
      json: injected.truncated + injected.malformed,
    });
    expect(errors.reduce((s, e) => s + e.n, 0)).toBe(onChat);

    // Samples whose request failed for good on bad JSON are traces with an error and an error verdict; each such
    // group of samples has its final model error, and each final JSON error its samples.
    const [stored] = await rowsOf<{ groups: number; final_json: number; bad_verdicts: number }>(
      db.db,
      sql`WITH failed AS (
            SELECT DISTINCT t.round_id, t.problem_id, t.purpose, t.strategy FROM flywheel.traces t
            JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId} AND t.error IS NOT NULL)
          SELECT (SELECT count(*) FROM failed)::int AS groups,
                 (SELECT count(*) FROM flywheel.model_errors e JOIN flywheel.rounds r ON r.id = e.round_id
                   WHERE r.run_id = ${runId} AND e.final AND e.error ~* '^malformed')::int AS final_json,
                 (SELECT count(*) FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id
                   JOIN flywheel.verdicts v ON v.trace_id = t.id
                   WHERE r.run_id = ${runId} AND t.error IS NOT NULL AND (v.correct OR v.detail NOT LIKE 'no answer: %'))::int AS bad_verdicts`,
    );
    expect(stored!.groups).toBe(stored!.final_json);
    expect(stored!.groups, 'samples stored with an error').toBeGreaterThan(0);
    const [lost] = await rowsOf<{ traces: number; errors: number }>(
      db.db,
      sql`SELECT count(*)::int AS traces, count(t.error)::int AS errors FROM flywheel.traces t
          JOIN flywheel.rounds r ON r.id = t.round_id JOIN flywheel.problems p ON p.id = t.problem_id
          WHERE r.run_id = ${runId} AND t.purpose = 'train' AND p.prompt = ${doomed!.prompt}`,
    );
    expect(lost!.traces, 'the doomed problem was sampled').toBeGreaterThan(0);
    expect(lost!.errors).toBe(lost!.traces);
    expect(stored!.bad_verdicts).toBe(0);

    await expectExactRun(db.db, runId, FAULTY, model.url);
  });

  it('down for good: the round needs attention, says so everywhere, and `flywheel resume` completes it once it is back', async () => {
    await proxy.down();
    const { runId, result } = await startRun(
      'down',
      shapeConfig('down', DOWN, `
model: {timeoutMs: 1000, maxRetries: 1}
durability: {activityAttempts: 2, retryInitialIntervalMs: 100, retryMaxIntervalMs: 200, heartbeatTimeoutSeconds: 10}`),
    );
    const run = client.workflow.getHandle(workflowIds.run(runId));
    const round = client.workflow.getHandle(workflowIds.round(runId, 0));

    await waitFor('the run to need attention', async () => (await run.query(statusQuery)).state === 'needs_attention');
    const described = await round.describe();
    expect(described.status.name).toBe('RUNNING');
    expect(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status)).toBe('NeedsAttention');
    expect(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.stage)).toBe('evaluate');
    const [rows] = await rowsOf<{ round: string; run: string; failure: string }>(
      db.db,
      sql`SELECT r.status AS round, u.status AS run, r.stats -> 'attention' ->> 'failure' AS failure
          FROM flywheel.rounds r JOIN flywheel.runs u ON u.id = r.run_id WHERE r.run_id = ${runId} AND r.index = 0`,
    );
    expect(rows).toMatchObject({ round: 'needs_attention', run: 'needs_attention' });
    expect(rows!.failure).toMatch(/generate/);
    expect(rows!.failure).toMatch(CONNECT_FAILED);

    // The current details, as the UI shows them (the SDK's built-in metadata query).
    const metadata = (await round.query<{ currentDetails: string }>('__temporal_workflow_metadata')) as { currentDetails: string };
    const details = metadata.currentDetails;
    // What failed, where, and what to do about it.
    expect(details).toMatch(/Round 0 needs attention/);
    expect(details).toMatch(/\bevaluate\b/);
    expect(details).toMatch(/generate/);
    expect(details).toMatch(CONNECT_FAILED);
    expect(details).toMatch(/model server up\?/);
    expect(details).toContain(`flywheel resume ${runId}`);
    expect(details).toContain('resumeRound');

    const status = await runFlywheel(['status', runId, '--json'], cliEnv());
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'needs_attention', rounds: [{ round: 0, stage: 'evaluate' }] });

    await proxy.up();
    const resumed = await runFlywheel(['resume', runId, '--note', 'model server restarted'], cliEnv());
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout.trim()).toBe(`run ${runId}: round 0 retries stage evaluate`);

    expect((await resultWithin(result, db.db, runId, 60_000)).state).toBe('completed');
    await expectExactRun(db.db, runId, DOWN, model.url);
    const after = await round.describe();
    expect(after.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status)).not.toBe('NeedsAttention');
    const [final] = await rowsOf<{ attention: unknown }>(
      db.db,
      sql`SELECT stats -> 'attention' AS attention FROM flywheel.rounds WHERE run_id = ${runId} AND index = 0`,
    );
    expect(final!.attention).toBeNull();
  });
});

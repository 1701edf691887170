/**
 * A real 2-round run for the report, export and metrics tests: Temporal dev server, Postgres, the embedded model
 * over HTTP and the production activities, with MCTS on held-out and unsolved train problems and adaptive budgets,
 * so that every chart of the report and every column of an export has data. The run trains no PRM; `storeFixturePrms`
 * adds one to rounds 1 and 2 afterwards, with numbers the report test looks for.
 */
import { Client, Connection } from '@temporalio/client';
import { parseRunConfig } from '../../config/load.js';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import { startWorkers, type RunningWorkers, type WorkersOptions } from '../../cli/worker.js';
import { installQuietRuntime } from '../../cli/runtime.js';
import { createDefaultDeps, type ActivityDeps } from '../../activities/deps.js';
import type { Db } from '../../db/client.js';
import { problemIds } from '../../db/problems.js';
import { getRun } from '../../db/runs.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import type { RunResult } from '../../workflows/run.js';
import { storePrmRound, type StoredPrmRound } from '../helpers/prm-rows.js';
import { testDatabase, testModelServer, testTemporal, type TestDatabase } from '../helpers/services.js';

export const FIXTURE_SHAPE = { train: 32, test: 16, samples: 8, evalSamples: 4 } as const;

export const fixtureConfig = (name = 'report-fixture') =>
  parseRunConfig(`
name: ${name}
rounds: 2
task: {kind: countdown, seed: 17, train: ${FIXTURE_SHAPE.train}, test: ${FIXTURE_SHAPE.test}}
generate: {samplesPerProblem: ${FIXTURE_SHAPE.samples}, shardSamples: 64, concurrency: 4}
search:
  step: {strategy: mcts, budget: 16, trainBudget: 8, train: unsolved, eval: true}
adaptive: {enabled: true, minSamples: 2, maxSamples: 16}
filter: {maxPerProblem: 4}
finetune: {hyperparameters: {nEpochs: 8}, pollIntervalMs: 200}
evaluate: {samples: ${FIXTURE_SHAPE.evalSamples}, k: [1, 2, 4]}
`);

export interface FixtureServices {
  db: TestDatabase;
  temporal: TemporalDevServer;
  model: Awaited<ReturnType<typeof testModelServer>>;
  workers: RunningWorkers;
  client: Client;
  stop(): Promise<void>;
}

/** Starts the services and workers (`deps` wraps the activity deps, `workers.telemetry` instruments the workers). */
export async function startFixtureServices(
  options: { deps?: (deps: ActivityDeps) => ActivityDeps; workers?: Pick<WorkersOptions, 'telemetry'> } = {},
): Promise<FixtureServices> {
  const [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer()]);
  installQuietRuntime('ERROR');
  const base = createDefaultDeps({ db: db.db, embeddedModelUrl: model.url, env: {} });
  const deps = options.deps ? options.deps(base) : base;
  const workers = await startWorkers({ address: temporal.address, namespace: temporal.namespace, deps, ...options.workers });
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  return {
    db,
    temporal,
    model,
    workers,
    client,
    async stop() {
      await client.connection.close();
      await workers.shutdown();
      await Promise.allSettled([model.close(), temporal.stop()]);
      await db.drop();
    },
  };
}

/** Starts the fixture run; `result` settles when it ends. */
export async function startFixtureRun(services: FixtureServices, name?: string): Promise<{ runId: string; result: Promise<RunResult> }> {
  const runId = await createRun(services.db.db, { config: fixtureConfig(name), file: 'report-fixture.yaml', dir: process.cwd() }, services.model.url);
  const handle = await startRunWorkflow(services.client, runId, 'report fixture run');
  return { runId, result: handle.result() as Promise<RunResult> };
}

/**
 * PRMs for rounds 1 and 2 of a finished fixture run, as `fineTunePrm` would have left them: round 1's is the run's
 * first (promoted), round 2's is measured beside it and not promoted. Returns what was stored.
 */
export async function storeFixturePrms(db: Db, runId: string): Promise<StoredPrmRound[]> {
  const run = await getRun(db, runId);
  const [problemId] = await problemIds(db, run.taskSet, 'train');
  const prms: StoredPrmRound[] = [
    {
      runId,
      round: 1,
      problemId: problemId!,
      labels: { 0: 24 },
      examples: 10,
      job: { id: 'ftjob-prm-r1', status: 'succeeded' },
      model: { name: 'prm-report-1', parent: run.baseModel },
      gate: {
        heldOut: { accuracy: 0.8125, balancedAccuracy: 0.6875, auc: 0.7421875, steps: 48, positives: 12 },
        incumbent: null,
        scorerCalls: 48,
        promoted: true,
        reason: 'the run has no measured PRM yet',
      },
      scorerCallsPerResult: 3,
    },
    {
      runId,
      round: 2,
      problemId: problemId!,
      labels: { 0: 24, 1: 18 },
      examples: 16,
      job: { id: 'ftjob-prm-r2', status: 'succeeded' },
      model: { name: 'prm-report-2', parent: 'prm-report-1' },
      gate: {
        heldOut: { accuracy: 0.75, balancedAccuracy: 0.5625, auc: 0.6015625, steps: 48, positives: 12 },
        incumbent: { model: 'prm-report-1', accuracy: 0.8125, balancedAccuracy: 0.6875, auc: 0.7421875 },
        scorerCalls: 96,
        promoted: false,
        reason: 'balanced held-out step accuracy 0.5625 < 0.6375 (the current PRM\'s 0.6875 − 0.05)',
      },
      scorerCallsPerResult: 2,
    },
  ];
  for (const prm of prms) await storePrmRound(db, prm);
  return prms;
}

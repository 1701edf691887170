/**
 * Postgres restarted in the middle of a round: an embedded cluster of this file's own, stopped mid-generation for a
 * few seconds and started again on the same data folder (and port). The workers' writes fail meanwhile, their
 * activities are retried, and the run completes with exactly its planned traces, each verified once.
 */
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import type { RunningWorkers } from '../../cli/worker.js';
import { parseRunConfig } from '../../config/load.js';
import { connectDatabase, type Database } from '../../db/client.js';
import { startPostgres, type PostgresHandle } from '../../infra/postgres.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import type { RunResult } from '../../workflows/run.js';
import { workflowIds } from '../../workflows/shared.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { sleep, waitFor } from '../helpers/processes.js';
import { tempDir, testModelServer, testTemporal, testWorkers } from '../helpers/services.js';
import {
  activityAttempts,
  expectExactRun,
  resultWithin,
  roundStage,
  terminateRunning,
  trainTraces,
  type RunShape,
} from './durability-invariants.js';

const SHAPE: RunShape = { rounds: 1, train: 40, test: 10, samplesPerProblem: 8, evalSamples: 2, greedy: true };
const PLANNED = SHAPE.train * SHAPE.samplesPerProblem;
const DOWN_MS = 4_000;

// Enough attempts, closely spaced, to outlast the outage: each retry of a shard or a stage marker finds the database
// gone until it is back.
const CONFIG = `
name: postgres-restart
rounds: ${SHAPE.rounds}
task: {kind: countdown, seed: 7, train: ${SHAPE.train}, test: ${SHAPE.test}}
generate: {samplesPerProblem: ${SHAPE.samplesPerProblem}, shardSamples: 16, concurrency: 2, maxShardsInFlight: 2}
evaluate: {samples: ${SHAPE.evalSamples}, k: [1, 2]}
# Every verified sample is trained on, right or wrong: round 1 always has a trainer job to count.
filter: {correctOnly: false, minScore: 0}
finetune: {hyperparameters: {nEpochs: 5}, pollIntervalMs: 200}
durability: {activityAttempts: 30, retryInitialIntervalMs: 200, retryMaxIntervalMs: 1000, heartbeatTimeoutSeconds: 5}
`;

let home: ReturnType<typeof tempDir>;
let postgres: PostgresHandle;
let database: Database;
let temporal: TemporalDevServer;
let model: Awaited<ReturnType<typeof testModelServer>>;
let proxy: FaultProxy;
let workers: RunningWorkers;
let client: Client;
const runIds: string[] = [];

/** An embedded cluster under this file's folder, whatever DATABASE_URL the runner has. */
const startEmbedded = () => startPostgres({ dataDir: path.join(home.dir, 'pg'), externalUrl: null, log: () => {} });

async function accepts(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

beforeAll(async () => {
  home = tempDir('pg-restart');
  chmodSync(home.dir, 0o711); // as root, the cluster runs as 'postgres', which must reach its data folder
  [postgres, temporal, model] = await Promise.all([startEmbedded(), testTemporal(), testModelServer()]);
  database = await connectDatabase(postgres.url);
  proxy = await startFaultProxy({ target: model.url.replace(/\/v1$/, '') });
  workers = await testWorkers({ temporal, db: database, modelUrl: proxy.url });
  client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
});

afterAll(async () => {
  if (client) await terminateRunning(client, runIds);
  await workers?.shutdown();
  await client?.connection.close();
  await proxy?.close();
  await database?.close();
  await Promise.allSettled([model?.close(), temporal?.stop(), postgres?.stop()]);
  home?.remove();
});

describe('Postgres restarted in the middle of a round', () => {
  it('the round completes with exactly its planned traces, each verified once', async () => {
    expect(postgres.embedded).toBe(true);
    const url = postgres.url;
    const config = parseRunConfig(CONFIG);
    const runId = await createRun(database.db, { config, file: 'postgres-restart.yaml', dir: process.cwd() }, model.url);
    runIds.push(runId);
    proxy.setLatency(300, /chat\/completions/);
    const handle = await startRunWorkflow(client, runId, 'durability test: postgres restart');
    const result = handle.result() as Promise<RunResult>;
    result.catch(() => {});

    await waitFor(
      'round 0 in the middle of generation',
      async () => {
        const n = await trainTraces(database.db, runId, 0);
        return (await roundStage(database.db, runId, 0)) === 'generate' && n > 0 && n < PLANNED ? n : undefined;
      },
      { intervalMs: 25 },
    );
    await postgres.stop();
    expect(await accepts(url), 'Postgres is down').toBe(false);
    await sleep(DOWN_MS);
    postgres = await startEmbedded();
    // Same data folder, same port: the URL the workers hold is valid again.
    expect(postgres.url).toBe(url);
    expect(await accepts(url)).toBe(true);
    proxy.setLatency(0);

    expect((await resultWithin(result, database.db, runId, 120_000)).state).toBe('completed');
    await expectExactRun(database.db, runId, SHAPE, model.url);

    // The outage was felt: some activity attempts of round 0 failed on the lost database and were retried.
    const attempts = await activityAttempts(client, workflowIds.round(runId, 0));
    const retried = attempts.filter((a) => a.attempt > 1);
    expect(retried.length, JSON.stringify(attempts.filter((a) => a.lastFailure))).toBeGreaterThan(0);
    // drizzle reports a query that found no server as "Failed query: ..." (the pg error is its cause).
    expect(retried.some((a) => /Failed query|ECONNREFUSED|terminat|connect|shut ?down/i.test(a.lastFailure ?? ''))).toBe(true);
  });
});

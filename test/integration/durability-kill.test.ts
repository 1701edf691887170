/**
 * A worker process killed with SIGKILL in the middle of generation and in the middle of verification, and one
 * stopped gracefully (SIGTERM) in the middle of generation: a new worker finishes the run, and every round still
 * holds exactly its planned traces, each verified exactly once, with one trainer job per training round.
 *
 * Real processes (`tsx cli/main.ts worker`), real Postgres, a real Temporal dev server, the embedded model server
 * behind a fault proxy. The stages are made slow enough to be hit in their middle from the outside only: latency
 * on the proxy for generation, a test-only trigger on `flywheel.verdicts` in this file's database for verification.
 */
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import { parseRunConfig } from '../../config/load.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import type { RunResult } from '../../workflows/run.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { isRunning, sleep, startWorkerProcess, waitFor, type FlywheelProcess } from '../helpers/processes.js';
import { tempDir, testDatabase, testModelServer, testTemporal, type TestDatabase } from '../helpers/services.js';
import {
  expectExactRun,
  resultWithin,
  retriedAfterHeartbeatTimeout,
  roundStage,
  terminateRunning,
  trainTraces,
  trainVerdicts,
  type RunShape,
} from './durability-invariants.js';

const SHAPE: RunShape = { rounds: 1, train: 40, test: 10, samplesPerProblem: 8, evalSamples: 2, greedy: true };
const PLANNED = SHAPE.train * SHAPE.samplesPerProblem;
const CHAT = /\/chat\/completions/;

/** Small shards, two in flight: a stage advances shard by shard, so it has a middle to hit. */
const configText = (name: string) => `
name: ${name}
rounds: ${SHAPE.rounds}
task: {kind: countdown, seed: 7, train: ${SHAPE.train}, test: ${SHAPE.test}}
generate: {samplesPerProblem: ${SHAPE.samplesPerProblem}, shardSamples: 16, concurrency: 2, maxShardsInFlight: 2}
evaluate: {samples: ${SHAPE.evalSamples}, k: [1, 2]}
# Every verified sample is trained on, right or wrong: round 1 always has a trainer job to count.
filter: {correctOnly: false, minScore: 0}
finetune: {hyperparameters: {nEpochs: 5}, pollIntervalMs: 200}
model: {timeoutMs: 20000}
durability: {activityAttempts: 10, retryInitialIntervalMs: 200, retryMaxIntervalMs: 1000, heartbeatTimeoutSeconds: 3}
`;

let db: TestDatabase;
let temporal: TemporalDevServer;
let model: Awaited<ReturnType<typeof testModelServer>>;
let proxy: FaultProxy;
let client: Client;
let home: ReturnType<typeof tempDir>;
let worker: FlywheelProcess;
const workers: FlywheelProcess[] = [];
const runIds: string[] = [];

const workerEnv = () => ({
  DATABASE_URL: db.url,
  TEMPORAL_ADDRESS: temporal.address,
  TEMPORAL_NAMESPACE: temporal.namespace,
  FLYWHEEL_MODEL_URL: proxy.url,
  FLYWHEEL_HOME: home.dir,
});

async function newWorker(): Promise<FlywheelProcess> {
  const w = await startWorkerProcess(workerEnv());
  workers.push(w);
  return w;
}

async function startRun(name: string) {
  const config = parseRunConfig(configText(name));
  const runId = await createRun(db.db, { config, file: `${name}.yaml`, dir: process.cwd() }, model.url);
  const handle = await startRunWorkflow(client, runId, `durability test: ${name}`);
  runIds.push(runId);
  const result = handle.result() as Promise<RunResult>;
  result.catch(() => {}); // awaited by the test; a failed test must not leave an unhandled rejection behind
  return { runId, result };
}

/** SIGKILLs the worker and proves that no process of it is left. */
async function killWorker(): Promise<void> {
  const members = worker.members();
  expect(members.length).toBeGreaterThan(0);
  const exit = await worker.kill();
  expect(exit.signal).toBe('SIGKILL');
  for (const pid of members) expect(isRunning(pid), `worker process ${pid} after SIGKILL`).toBe(false);
}

/** Statements of other sessions inserting verdicts right now (the trigger makes each take a while). */
async function verdictInsertsRunning(): Promise<number> {
  const [row] = (
    await db.db.execute(sql`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
        AND query ILIKE 'insert into "flywheel"."verdicts"%'`)
  ).rows as Array<{ n: number }>;
  return row.n;
}

/** With no worker left, nothing advances: proof that the work was cut off, not finished by a survivor. */
async function expectNoProgress(count: () => Promise<number>): Promise<number> {
  await sleep(500); // a statement the server had already received may still commit
  const settled = await count();
  await sleep(2_000);
  expect(await count()).toBe(settled);
  return settled;
}

beforeAll(async () => {
  home = tempDir('kill');
  [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer()]);
  proxy = await startFaultProxy({ target: model.url.replace(/\/v1$/, '') });
  client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  worker = await newWorker();
});

afterAll(async () => {
  if (client) await terminateRunning(client, runIds);
  await Promise.allSettled(workers.map((w) => w.stop()));
  await client?.connection.close();
  await proxy?.close();
  await Promise.allSettled([model?.close(), temporal?.stop()]);
  await db?.drop();
  home?.remove();
});

describe('a worker killed with SIGKILL', () => {
  it('in the middle of generation: a new worker finishes the run, nothing lost, nothing twice', async () => {
    proxy.setLatency(300, CHAT);
    const { runId, result } = await startRun('kill-generate');
    const atKill = await waitFor(
      'round 0 in the middle of generation',
      async () => {
        // Some shards stored, others not yet, and a model request in flight: a shard activity is running.
        const n = await trainTraces(db.db, runId, 0);
        const mid = (await roundStage(db.db, runId, 0)) === 'generate' && n > 0 && n < PLANNED;
        return mid && proxy.inFlight(CHAT) > 0 ? n : undefined;
      },
      { intervalMs: 25 },
    );
    await killWorker();
    proxy.setLatency(0);
    const cut = await expectNoProgress(() => trainTraces(db.db, runId, 0));
    expect(cut).toBeGreaterThanOrEqual(atKill);
    expect(cut).toBeLessThan(PLANNED);

    worker = await newWorker();
    expect((await result).state).toBe('completed');
    await expectExactRun(db.db, runId, SHAPE, model.url);
    // The shard the dead worker held was retried after its heartbeats stopped.
    expect(await retriedAfterHeartbeatTimeout(client, runId, 0, 'generateShard')).not.toHaveLength(0);
  });

  it('in the middle of verification: a new worker finishes the run, every trace verified exactly once', async () => {
    // Test-only, in this file's own database: each verdict row takes 15 ms to insert.
    await db.db.execute(sql`
      CREATE OR REPLACE FUNCTION flywheel.test_slow_verdict() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(0.015); RETURN NEW; END $$`);
    await db.db.execute(sql`
      CREATE TRIGGER test_slow_verdict BEFORE INSERT ON flywheel.verdicts FOR EACH ROW EXECUTE FUNCTION flywheel.test_slow_verdict()`);
    try {
      const { runId, result } = await startRun('kill-verify');
      const atKill = await waitFor(
        'round 0 in the middle of verification',
        async () => {
          // Some verdicts stored, others not yet, and a verdict insert under way: a shard activity is running.
          const n = await trainVerdicts(db.db, runId, 0);
          const mid = (await roundStage(db.db, runId, 0)) === 'verify' && n > 0 && n < PLANNED;
          return mid && (await verdictInsertsRunning()) > 0 ? n : undefined;
        },
        { intervalMs: 25 },
      );
      await killWorker();
      await db.db.execute(sql`DROP TRIGGER test_slow_verdict ON flywheel.verdicts`);
      const cut = await expectNoProgress(() => trainVerdicts(db.db, runId, 0));
      expect(cut).toBeGreaterThanOrEqual(atKill);
      expect(cut).toBeLessThan(PLANNED);

      worker = await newWorker();
      expect((await result).state).toBe('completed');
      await expectExactRun(db.db, runId, SHAPE, model.url);
      expect(await retriedAfterHeartbeatTimeout(client, runId, 0, 'verifyShard')).not.toHaveLength(0);
    } finally {
      await db.db.execute(sql`DROP TRIGGER IF EXISTS test_slow_verdict ON flywheel.verdicts`);
    }
  });

  it('stopped gracefully (SIGTERM) in the middle of generation: the shards it gave back are retried, not given up on', async () => {
    // Slow requests: when SIGTERM comes, requests are in flight and the worker cancels their shards.
    proxy.setLatency(1_000, CHAT);
    const { runId, result } = await startRun('term-generate');
    await waitFor(
      'round 0 in the middle of generation',
      async () => {
        // Some shards stored, others not yet, and a model request in flight: a shard activity is running.
        const n = await trainTraces(db.db, runId, 0);
        const mid = (await roundStage(db.db, runId, 0)) === 'generate' && n > 0 && n < PLANNED;
        return mid && proxy.inFlight(CHAT) > 0 ? n : undefined;
      },
      { intervalMs: 25 },
    );
    const members = worker.members();
    worker.signal('SIGTERM');
    const exit = await Promise.race([worker.exited, sleep(30_000).then(() => null)]);
    expect(exit, 'the worker exits after SIGTERM').not.toBeNull();
    await waitFor('every worker process gone', () => members.every((pid) => !isRunning(pid)), { timeoutMs: 10_000 });
    expect(await trainTraces(db.db, runId, 0)).toBeLessThan(PLANNED);
    proxy.setLatency(0);

    worker = await newWorker();
    expect((await resultWithin(result, db.db, runId, 90_000)).state).toBe('completed');
    await expectExactRun(db.db, runId, SHAPE, model.url);
  });
});

/**
 * Scale-out: two `flywheel worker --queues generate` processes and one for the rest (workflows, verification,
 * training) complete one run together. Every planned trace is stored exactly once and verified exactly once, and
 * both generate workers served shards (the worker identity on each generateShard's start in the round's history).
 *
 * Real processes, real Postgres, a real Temporal dev server, the embedded model behind a proxy that adds latency
 * (so that shards overlap and both workers have something to take).
 */
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import { parseRunConfig } from '../../config/load.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import { workflowIds } from '../../workflows/shared.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { startWorkerProcess, type FlywheelProcess } from '../helpers/processes.js';
import { tempDir, testDatabase, testModelServer, testTemporal, type TestDatabase } from '../helpers/services.js';
import { expectExactRun, resultWithin, terminateRunning, type RunShape } from './durability-invariants.js';

const SHAPE: RunShape = { rounds: 0, train: 48, test: 8, samplesPerProblem: 4, evalSamples: 2, greedy: true };

/** 12 train shards of 4 problems, 6 in flight, 4 requests in flight per worker. */
const CONFIG = `
name: multi-worker
rounds: ${SHAPE.rounds}
task: {kind: countdown, seed: 11, train: ${SHAPE.train}, test: ${SHAPE.test}}
model: {maxConcurrency: 4, timeoutMs: 20000}
generate: {samplesPerProblem: ${SHAPE.samplesPerProblem}, shardSamples: 16, maxShardsInFlight: 6}
evaluate: {samples: ${SHAPE.evalSamples}, k: [1, 2]}
`;

let db: TestDatabase;
let temporal: TemporalDevServer;
let model: Awaited<ReturnType<typeof testModelServer>>;
let proxy: FaultProxy;
let client: Client;
let home: ReturnType<typeof tempDir>;
const workers: FlywheelProcess[] = [];
const runIds: string[] = [];

beforeAll(async () => {
  home = tempDir('multi-worker');
  [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer()]);
  proxy = await startFaultProxy({ target: model.url.replace(/\/v1$/, '') });
  proxy.setLatency(100, /\/chat\/completions/);
  client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  const env = {
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    FLYWHEEL_MODEL_URL: proxy.url,
    FLYWHEEL_HOME: home.dir,
  };
  const started = await Promise.allSettled([
    startWorkerProcess(env, 'generate'),
    startWorkerProcess(env, 'generate'),
    startWorkerProcess(env, 'control,verify,train'),
  ]);
  for (const s of started) if (s.status === 'fulfilled') workers.push(s.value);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}, 180_000);

afterAll(async () => {
  if (client) await terminateRunning(client, runIds);
  await Promise.allSettled(workers.map((w) => w.stop()));
  await client?.connection.close();
  await proxy?.close();
  await Promise.allSettled([model?.close(), temporal?.stop()]);
  await db?.drop();
  home?.remove();
});

describe('two generate workers in separate processes', () => {
  it('complete one run together: exact counts, and both served shards', async () => {
    const config = parseRunConfig(CONFIG);
    const runId = await createRun(db.db, { config, file: 'multi-worker.yaml', dir: process.cwd() }, model.url);
    runIds.push(runId);
    const handle = await startRunWorkflow(client, runId, 'multi-worker test');
    await resultWithin(handle.result(), db.db, runId, 120_000);
    await expectExactRun(db.db, runId, SHAPE, model.url);

    // Who started each generate shard: Temporal records the worker identity (pid@host) on ActivityTaskStarted.
    const history = await client.workflow.getHandle(workflowIds.round(runId, 0)).fetchHistory();
    const generateShards = new Set<string>();
    const byIdentity = new Map<string, number>();
    for (const e of history.events ?? []) {
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'generateShard') generateShards.add(String(e.eventId));
      const started = e.activityTaskStartedEventAttributes;
      if (started && generateShards.has(String(started.scheduledEventId))) {
        const identity = started.identity ?? '';
        byIdentity.set(identity, (byIdentity.get(identity) ?? 0) + 1);
      }
    }
    const pidOf = (identity: string) => Number(identity.split('@')[0]);
    const workerOf = (identity: string) => workers.findIndex((w) => w.members().includes(pidOf(identity)));
    const served = new Map<number, number>();
    for (const [identity, shards] of byIdentity) served.set(workerOf(identity), (served.get(workerOf(identity)) ?? 0) + shards);
    // Train shards (12) and eval shards: all started by the two generate workers (indices 0 and 1), each some.
    expect([...served.keys()].sort()).toEqual([0, 1]);
    expect([...served.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12);
    for (const shards of served.values()) expect(shards).toBeGreaterThan(0);
  }, 150_000);
});

/**
 * A worker process killed with SIGKILL in the middle of generation and in the middle of verification, and one
 * stopped gracefully (SIGTERM) in the middle of generation: a new worker finishes the run, and every round still
 * holds exactly its planned traces, each verified exactly once, with one trainer job per training round.
 *
 * Real processes (`tsx cli/main.ts worker`), real Postgres, a real Temporal dev server, the embedded model server
 * behind a fault proxy. The stages are made slow enough to be hit in their middle from the outside only: latency
 * on the proxy for generation, a test-only trigger on `flywheel.verdicts` in this file's database for verification.
 */
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../helpers/processes.js';
import { useWorkerHarness, type HarnessServices } from '../helpers/worker-harness.js';
import {
  expectExactRun,
  resultWithin,
  retriedAfterHeartbeatTimeout,
  roundStage,
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

let db: HarnessServices['db'];
let model: HarnessServices['model'];
let proxy: HarnessServices['proxy'];
let client: HarnessServices['client'];
const harness = useWorkerHarness('kill', configText, (s) => ({ db, model, proxy, client } = s));
const { startRun, killWorker, terminateWorker, replaceWorker } = harness;

/**
 * Statements of other sessions writing verdicts right now (the trigger makes each take a while): a COPY, or the merge
 * of a batch that met an existing key (db/copy.ts).
 */
async function verdictInsertsRunning(): Promise<number> {
  const [row] = (
    await db.db.execute(sql`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
        AND (query ILIKE 'copy "flywheel"."verdicts"%' OR query ILIKE 'insert into "flywheel"."verdicts"%')`)
  ).rows as Array<{ n: number }>;
  return row!.n;
}

/** With no worker left, nothing advances: proof that the work was cut off, not finished by a survivor. */
async function expectNoProgress(count: () => Promise<number>): Promise<number> {
  await sleep(500); // a statement the server had already received may still commit
  const settled = await count();
  await sleep(2_000);
  expect(await count()).toBe(settled);
  return settled;
}

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

    await replaceWorker();
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

      await replaceWorker();
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
    await terminateWorker();
    expect(await trainTraces(db.db, runId, 0)).toBeLessThan(PLANNED);
    proxy.setLatency(0);

    await replaceWorker();
    expect((await resultWithin(result, db.db, runId, 90_000)).state).toBe('completed');
    await expectExactRun(db.db, runId, SHAPE, model.url);
  });
});

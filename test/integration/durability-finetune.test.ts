/**
 * Fine-tuning under worker failures: the trainer job of a round is submitted once and only once, whether the
 * worker is killed while the job runs, killed between submitting it and recording its id, stopped gracefully, or
 * slowed past its heartbeat timeout. Checked on the model server itself (its job list, by run metadata) and in
 * `flywheel.fine_tunes`.
 *
 * The embedded trainer takes a few seconds on a round's worth of traces (every trace trained on, 40 epochs); the
 * moments between requests are reached with the fault proxy, which can hold an answer after forwarding its request.
 */
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../workflows/run.js';
import { sleep, waitFor } from '../helpers/processes.js';
import { useWorkerHarness, type HarnessServices } from '../helpers/worker-harness.js';
import {
  activityAttempts,
  expectExactRun,
  resultWithin,
  retriedAfterHeartbeatTimeout,
  rowsOf,
  servedJobs,
  type RunShape,
} from './durability-invariants.js';
import { workflowIds } from '../../workflows/shared.js';

const SHAPE: RunShape = { rounds: 1, train: 40, test: 10, samplesPerProblem: 8, evalSamples: 2, greedy: true };
const HEARTBEAT_TIMEOUT_S = 3;

const configText = (name: string) => `
name: ${name}
rounds: ${SHAPE.rounds}
task: {kind: countdown, seed: 7, train: ${SHAPE.train}, test: ${SHAPE.test}}
generate: {samplesPerProblem: ${SHAPE.samplesPerProblem}, shardSamples: 64, concurrency: 4}
evaluate: {samples: ${SHAPE.evalSamples}, k: [1, 2]}
# Train on every sampled trace, not only the few the base model gets right: a job of a few seconds.
filter: {correctOnly: false, minScore: 0, maxPerProblem: 8}
finetune: {hyperparameters: {nEpochs: 40}, pollIntervalMs: 200}
model: {timeoutMs: 30000}
durability: {activityAttempts: 10, retryInitialIntervalMs: 200, retryMaxIntervalMs: 1000, heartbeatTimeoutSeconds: ${HEARTBEAT_TIMEOUT_S}}
`;

let db: HarnessServices['db'];
let model: HarnessServices['model'];
let proxy: HarnessServices['proxy'];
let client: HarnessServices['client'];
const harness = useWorkerHarness('finetune', configText, (s) => ({ db, model, proxy, client } = s));
const { startRun, killWorker, terminateWorker, replaceWorker } = harness;

interface FineTuneRow {
  status: string;
  external_job_id: string | null;
  training_file: string | null;
}

async function fineTuneRow(runId: string): Promise<FineTuneRow | undefined> {
  const [row] = await rowsOf<FineTuneRow>(
    db.db,
    sql`SELECT status, external_job_id, training_file FROM flywheel.fine_tunes WHERE run_id = ${runId} AND round = 1`,
  );
  return row;
}

/** Waits until round 1's trainer job runs on the model server and flywheel has recorded it as running. */
async function jobRunning(runId: string): Promise<string> {
  return waitFor(
    "round 1's trainer job running",
    async () => {
      const row = await fineTuneRow(runId);
      if (row?.status !== 'running' || !row.external_job_id) return undefined;
      const served = await servedJobs(model.url, runId);
      return served.find((j) => j.id === row.external_job_id)?.status === 'running' ? row.external_job_id : undefined;
    },
    { intervalMs: 50 },
  );
}

/** The run completed exactly, with round 1's single job the one recorded (and, where given, the one seen before). */
async function expectOneJob(runId: string, result: Promise<RunResult>, jobId?: string) {
  expect((await resultWithin(result, db.db, runId, 90_000)).state).toBe('completed');
  await expectExactRun(db.db, runId, SHAPE, model.url);
  const row = await fineTuneRow(runId);
  const served = await servedJobs(model.url, runId);
  expect(served.map((j) => j.id)).toEqual([row!.external_job_id]);
  if (jobId) expect(row!.external_job_id).toBe(jobId);
}

describe('fine-tuning under worker failures: one trainer job per round', () => {
  it('a worker killed while the job runs: the new worker reattaches to the recorded job', async () => {
    const { runId, result } = await startRun('kill-finetune-running');
    const jobId = await jobRunning(runId);
    await killWorker();
    await replaceWorker();
    await expectOneJob(runId, result, jobId);
    expect(await retriedAfterHeartbeatTimeout(client, runId, 1, 'fineTune')).not.toHaveLength(0);
  });

  it('a worker killed after submitting the job, before recording its id: the job is found by its tag', async () => {
    proxy.hold({ method: 'POST', path: /^\/v1\/fine_tuning\/jobs$/ });
    try {
      const { runId, result } = await startRun('kill-finetune-submitted');
      const submitted = await waitFor(
        'a job created on the server whose answer the proxy holds',
        async () => {
          if (proxy.held === 0) return undefined;
          const served = await servedJobs(model.url, runId);
          return served.length === 1 ? served[0]!.id : undefined;
        },
        { intervalMs: 50 },
      );
      // The job exists on the server, but flywheel has not recorded it.
      expect(await fineTuneRow(runId)).toMatchObject({ external_job_id: null });
      await killWorker();
      proxy.hold(null);
      proxy.release();
      await replaceWorker();
      await expectOneJob(runId, result, submitted);
      expect(await retriedAfterHeartbeatTimeout(client, runId, 1, 'fineTune')).not.toHaveLength(0);
    } finally {
      proxy.hold(null);
      proxy.release();
    }
  });

  it('an upload slower than the heartbeat timeout: the live attempt is not given up on, one job', async () => {
    proxy.hold({ method: 'POST', path: /^\/v1\/files$/ });
    try {
      const { runId, result } = await startRun('slow-upload');
      await waitFor('the training file upload held by the proxy', () => proxy.held > 0, { intervalMs: 50 });
      // Several heartbeat timeouts long: before the fix, attempts piled up beside the live one, each uploading and
      // submitting its own job (4 jobs for the round with a 12 s hold).
      await sleep(HEARTBEAT_TIMEOUT_S * 3_000 + 1_000);
      proxy.hold(null);
      proxy.release();
      await expectOneJob(runId, result);
      const attempts = (await activityAttempts(client, workflowIds.round(runId, 1))).filter((a) => a.activityType === 'fineTune');
      expect(attempts.map((a) => a.attempt)).toEqual([1]);
    } finally {
      proxy.hold(null);
      proxy.release();
    }
  });

  it('a worker stopped gracefully (SIGTERM) while the job runs: the job is not cancelled, the new worker reattaches', async () => {
    const { runId, result } = await startRun('term-finetune-running');
    const jobId = await jobRunning(runId);
    await terminateWorker();
    await replaceWorker();
    await expectOneJob(runId, result, jobId);
    const served = await servedJobs(model.url, runId);
    expect(served.map((j) => j.status)).toEqual(['succeeded']);
  });
});

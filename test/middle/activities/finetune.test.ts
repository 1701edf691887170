/** The fine-tune activity with a fake trainer and a real Postgres (its submission is serialised in SQL). */
import { ApplicationFailure } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities/index.js';
import { statusReport } from '../../../cli/status.js';
import { getFineTune } from '../../../db/fine-tunes.js';
import { getRoundContext } from '../../../db/rounds.js';
import { datasets, models } from '../../../db/schema.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { activityEnvironment, failingOnceTrainer, fakeDeps, fakeTrainer, missingKey, storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase();
});
afterAll(async () => db?.drop());

/** Round 1 of a new run, with a dataset of one example to train on. */
async function roundToTrain() {
  const { runId } = await storeRun(db.db);
  const round = await storeRounds(db.db, runId, 1);
  await db.db.insert(datasets).values({ runId, round: 1, filter: {}, items: 1, problems: 1 });
  return { runId, roundId: round.id };
}

describe('fineTune', () => {
  it('a train worker without the API key fails clearly and is not retried', async () => {
    const { roundId } = await roundToTrain();
    const trainer = fakeTrainer();
    const activities = createActivities(fakeDeps(db.db, { modelEndpoint: missingKey('TRAIN_KEY'), trainer: () => trainer }));
    const failure = await activityEnvironment()
      .run(activities.fineTune, { roundId })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ nonRetryable: true, type: 'WorkerConfigError' });
    expect((failure as Error).message).toMatch(/TRAIN_KEY/);
    expect(trainer.calls).toEqual([]);
  });

  it('submits one job, records it before waiting, and registers the trained model on the round', async () => {
    const { runId, roundId } = await roundToTrain();
    const trainer = fakeTrainer();
    const activities = createActivities(fakeDeps(db.db, { trainer: () => trainer }));
    const result = await activityEnvironment().run(activities.fineTune, { roundId });
    expect(result).toEqual({ model: 'ft:fake', jobId: 'job-1', skipped: false });
    expect(trainer.calls.filter((c) => c === 'submit')).toHaveLength(1);
    expect(await getFineTune(db.db, runId, 1)).toMatchObject({ externalJobId: 'job-1', status: 'succeeded', resultModel: 'ft:fake' });
    expect((await getRoundContext(db.db, roundId)).round.model).toBe('ft:fake');
    // A retried attempt reattaches to the recorded job instead of submitting another.
    await activityEnvironment().run(activities.fineTune, { roundId });
    expect(trainer.calls.filter((c) => c === 'submit')).toHaveLength(1);
  });

  it('keeps the starting model when there is nothing to train on', async () => {
    const { runId } = await storeRun(db.db);
    const round = await storeRounds(db.db, runId, 1);
    const activities = createActivities(fakeDeps(db.db));
    expect(await activityEnvironment().run(activities.fineTune, { roundId: round.id })).toEqual({ model: 'countdown-mlp', jobId: null, skipped: true });
  });

  it('a command-style trainer: stages its own dataset, records exit code and log tail of a failure, and on resume a new job with its checkpoint', async () => {
    const { runId, roundId } = await roundToTrain();
    const { trainer, calls, submits } = failingOnceTrainer({ model: 'fw-r1', checkpointPath: '/shared/ckpt/r1', launcher: 'slurm', logTail: 'ValueError: bad dataset' });
    const activities = createActivities(fakeDeps(db.db, { trainer: () => trainer }));
    const failure = await activityEnvironment()
      .run(activities.fineTune, { roundId })
      .catch((err: unknown) => err);
    expect(failure).toMatchObject({ nonRetryable: true, type: 'TrainerJobFailed' });
    expect((failure as Error).message).toMatch(/job-1 failed \(exit code 1\).*\n[^]*ValueError: bad dataset/);
    expect(calls).toEqual(['export']);
    expect(submits[0]!.trainingFile).toBe(`/shared/${runId}/round-1.jsonl`);
    expect(await getFineTune(db.db, runId, 1)).toMatchObject({ status: 'failed', launcher: 'slurm', exitCode: 1, logTail: 'ValueError: bad dataset', progress: [{ step: 1, loss: 0.5 }] });

    // The operator resumes the round: the failed job is superseded and a new one trains.
    const result = await activityEnvironment().run(activities.fineTune, { roundId });
    expect(result).toEqual({ model: 'fw-r1', jobId: 'job-2', skipped: false });
    expect(await getFineTune(db.db, runId, 1)).toMatchObject({ status: 'succeeded', exitCode: 0, checkpointPath: '/shared/ckpt/r1', supersededJobIds: ['job-1'] });
    const [model] = await db.db.select().from(models).where(eq(models.name, 'fw-r1'));
    expect(model).toMatchObject({ kind: 'adapter', checkpointPath: '/shared/ckpt/r1' });
    // `flywheel status --json` names the job's backend and launcher.
    const status = await statusReport(db.db, null, runId);
    expect(status.rounds.find((r) => r.round === 1)?.trainerJob).toEqual({
      jobId: 'job-2',
      backend: 'command',
      launcher: 'slurm',
      status: 'succeeded',
      exitCode: 0,
      checkpointPath: '/shared/ckpt/r1',
      supersededJobIds: ['job-1'],
    });
  });
});

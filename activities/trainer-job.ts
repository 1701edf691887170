/**
 * One trainer job of a round, for either learner (the policy's `fineTune`, the PRM's `fineTunePrm`): the round's
 * `fine_tunes` row, a failed job superseded when an operator resumed the round, the job submitted once under the
 * row's lock (found again by its tag when an attempt died between submitting and recording), waited for with
 * heartbeats, and its model recorded in `models`. The learners differ only in what is passed in: tag, dataset and
 * its export, request, and the name their messages give the job.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { claimTrainerSubmission, ensureFineTune, supersedeFineTune, updateFineTune } from '../db/fine-tunes.js';
import { upsertModel } from '../db/runs.js';
import { submitOnce } from '../lib/train/submit.js';
import type { JobTag, SubmitRequest, Trainer, TrainerJob } from '../lib/train/types.js';
import type { ActivityDeps } from './deps.js';
import type { startHeartbeats } from './heartbeat.js';

/** The round's dataset as the trainer reads it: streamed from Postgres, exported by the backend where it can. */
export interface TrainerDataset<Example> {
  id: number;
  examples: () => AsyncIterable<Example>;
  /** One example as a JSONL line, for a backend without a streamed export (it uploads the file whole). */
  line: (example: Example) => string;
  /** The backend's streamed export (exportDataset, exportStepwise), when it has one. */
  export?: (examples: AsyncIterable<Example>) => Promise<string>;
  /** The uploaded file's name. */
  filename: string;
}

export interface TrainerJobSpec<Example> {
  trainer: Trainer;
  tag: JobTag;
  dataset: TrainerDataset<Example>;
  /** The model trained from: the job's base model and the new model's parent. */
  baseModel: string;
  request: Omit<SubmitRequest, 'trainingFile' | 'tag' | 'baseModel'>;
  /** Where the new model is served (its `models` row). */
  baseUrl: string;
  pollIntervalMs: number;
  timeoutMinutes: number;
  /** What messages call the job, e.g. `trainer job`, `PRM trainer job`. */
  name: string;
}

/** The job that trained the round's model, and the model. */
export interface TrainedModel {
  jobId: string;
  job: TrainerJob & { model: string };
  fineTuneId: number;
}

/**
 * Runs the round's trainer job for one learner to its end and records the model it made; a job that ended without
 * a model is a non-retryable `TrainerJobFailed` (with its exit code and log tail) that a resumed round replaces.
 *
 * @example
 * const { job } = await runTrainerJob(deps, heartbeats, { trainer, tag, dataset, baseModel, request, ... });
 */
export async function runTrainerJob<Example>(
  deps: ActivityDeps,
  heartbeats: ReturnType<typeof startHeartbeats>,
  spec: TrainerJobSpec<Example>,
): Promise<TrainedModel> {
  const { db } = deps;
  const { trainer, tag, dataset, baseModel } = spec;
  let row = await ensureFineTune(db, {
    ...tag,
    backend: trainer.backend,
    baseModel,
    datasetId: dataset.id,
    hyperparameters: spec.request.hyperparameters,
  });
  // A job that failed earlier is replaced only because an operator resumed the round (the failure was
  // reported as non-retryable), so this is the retry they asked for.
  if (row.externalJobId && (row.status === 'failed' || row.status === 'cancelled')) {
    await supersedeFineTune(db, row);
    row = { ...row, externalJobId: null, status: 'preparing' };
  }

  const jobId =
    row.externalJobId ??
    (await claimTrainerSubmission(db, row.id, async (locked) => {
      const submitted = await submitOnce(trainer, {
        tag,
        supersededJobIds: (locked.supersededJobIds as string[] | null) ?? [],
        trainingFile: locked.trainingFile,
        jsonl: async () => {
          let jsonl = '';
          for await (const e of dataset.examples()) jsonl += dataset.line(e);
          return jsonl;
        },
        filename: dataset.filename,
        stage: dataset.export ? () => dataset.export!(dataset.examples()) : undefined,
        request: { ...spec.request, baseModel },
      });
      return { externalJobId: submitted.jobId, trainingFile: submitted.trainingFile, baseModel };
    }));

  const fineTuneId = row.id;
  const job = await waitForJob(deps, heartbeats, spec, jobId, async (j) => {
    await updateFineTune(db, fineTuneId, { status: j.status, error: j.error, ...jobDetails(j) });
  });

  // The job's last state is in its fine_tunes row already (written when its status changed).
  if (job.status !== 'succeeded' || !job.model) {
    const exit = job.exitCode === undefined || job.exitCode === null ? '' : ` (exit code ${job.exitCode})`;
    const tail = job.logTail ? `\nLast lines of its log:\n${job.logTail}` : '';
    throw ApplicationFailure.nonRetryable(
      `${spec.name} ${jobId} ${job.status}${exit}: ${job.error ?? 'no model was produced'}. ` +
        `Fix the cause, then resume the round: a new job is submitted for it.${tail}`,
      'TrainerJobFailed',
    );
  }
  await upsertModel(db, {
    runId: tag.runId,
    round: tag.round,
    name: job.model,
    baseUrl: spec.baseUrl,
    parentName: baseModel,
    datasetId: dataset.id,
    fineTuneId,
    kind: job.checkpoint ? job.checkpoint.manifest.kind : 'api',
    checkpointPath: job.checkpoint?.path ?? null,
    ...(tag.learner ? { learner: tag.learner } : {}),
  });
  return { jobId, job: { ...job, model: job.model }, fineTuneId };
}

/** What a job reports beyond its status (its model, and a launcher's details), as fine_tunes columns (only the fields it reported). */
function jobDetails(job: TrainerJob) {
  return {
    ...(job.model ? { resultModel: job.model } : {}),
    ...(job.launcher !== undefined ? { launcher: job.launcher } : {}),
    ...(job.progressHistory !== undefined ? { progress: job.progressHistory } : {}),
    ...(job.exitCode !== undefined ? { exitCode: job.exitCode } : {}),
    ...(job.logTail !== undefined ? { logTail: job.logTail } : {}),
    ...(job.checkpoint ? { checkpointPath: job.checkpoint.path } : {}),
  };
}

/** Polls a trainer job until it ends, heartbeating its progress; cancels it if the workflow cancels the activity. */
async function waitForJob(
  deps: ActivityDeps,
  heartbeats: ReturnType<typeof startHeartbeats>,
  spec: Pick<TrainerJobSpec<unknown>, 'trainer' | 'pollIntervalMs' | 'timeoutMinutes' | 'name'>,
  jobId: string,
  onChange: (job: TrainerJob) => Promise<void>,
): Promise<TrainerJob> {
  const { trainer, timeoutMinutes } = spec;
  const context = Context.current();
  const deadline = Date.now() + timeoutMinutes * 60_000;
  let last = '';
  for (;;) {
    const job = await trainer.get(jobId);
    if (job.status !== last) {
      last = job.status;
      await onChange(job);
      deps.log(`${spec.name} ${jobId}: ${job.status}`);
    }
    heartbeats.beat({ jobId, status: job.status, progress: job.progress });
    if (job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled') return job;
    if (Date.now() > deadline) {
      throw ApplicationFailure.nonRetryable(
        `${spec.name} ${jobId} is still ${job.status} after ${timeoutMinutes} minutes (it was not cancelled): ` +
          'check it, then resume the round to keep waiting',
        'TrainerJobTimeout',
      );
    }
    try {
      await context.sleep(spec.pollIntervalMs);
    } catch (err) {
      // Only a cancellation the workflow asked for ends the job. A worker shutting down (SIGTERM), a heartbeat
      // timeout or a superseded attempt cancel this activity too, but then the job must live on for the next
      // attempt to reattach to (found by the durability tests: a graceful worker restart cancelled the job).
      if (err instanceof CancelledFailure && context.cancellationDetails?.cancelRequested) await trainer.cancel(jobId).catch(() => {});
      throw err;
    }
  }
}
